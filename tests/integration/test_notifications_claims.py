"""Claiming outbox rows when several dispatchers run at once, on SQLite and on PostgreSQL
(``FOR UPDATE SKIP LOCKED``; skipped with a reason when PPFLOW_TEST_DATABASE_URL is unset)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from ppflow.adapters.orm import NotificationRow
from ppflow.adapters.outbox import SqlOutbox
from ppflow.services.dispatcher import dispatch_once
from ppflow.services.notifications import DispatchPolicy, queue_notification
from ppflow.services.ports import NewNotification, Outcome
from tests import factories
from tests.conftest import make_app


def queue_digests(app, count: int) -> str:
    coordinator = factories.staff(app, "coordinator")
    with app.uow() as uow:
        for n in range(count):
            queue_notification(
                uow,
                template="reminder_digest",
                recipient_kind="staff",
                recipient_code=coordinator,
                context={"date": f"day {n}", "items": []},
                idempotency_key=f"digest:{n}",
                at=app.clock.now(),
            )
        uow.commit()
    return coordinator


def test_dispatchers_claiming_at_once_never_get_the_same_row(any_app):
    queue_digests(any_app, 300)
    outbox = SqlOutbox(any_app.session_factory)
    now = any_app.clock.now()
    start = threading.Barrier(4)

    def claim_all(token: str) -> list[int]:
        start.wait()
        mine = []
        while batch := outbox.claim(now, 7, now + timedelta(minutes=5), token):
            mine += [e.id for e in batch]
        return mine

    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(claim_all, ["a", "b", "c", "d"]))

    everything = [i for mine in claims for i in mine]
    assert len(everything) == 300
    assert len(set(everything)) == 300
    assert sum(1 for mine in claims if mine) >= 2  # they really ran side by side
    with any_app.session_factory() as session:
        held = session.execute(select(NotificationRow.claimed_by, NotificationRow.attempts)).all()
    assert {attempts for _, attempts in held} == {1}
    tokens = Counter(token for token, _ in held)
    assert tokens == {token: len(mine) for token, mine in zip("abcd", claims, strict=True) if mine}


def test_dispatch_passes_at_once_deliver_each_message_exactly_once(any_app, smtp_server):
    any_app.settings = any_app.settings.model_copy(update={"smtp": smtp_server.settings()})
    queue_digests(any_app, 90)
    policy = DispatchPolicy(**{**vars(any_app.dispatch_policy()), "batch_size": 8})

    def one_pass(seed: int):
        ports = any_app.mail_ports()
        return dispatch_once(ports, clock=any_app.clock, policy=policy, rng=random.Random(seed))

    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(one_pass, range(3)))

    assert sum(r.sent for r in reports) == 90
    subjects = [m.header("Subject") for m in smtp_server.messages()]
    assert len(subjects) == 90 and len(set(subjects)) == 90


@pytest.fixture
def postgres_app(tmp_path, clock):
    app, cleanup = make_app("postgres", tmp_path, clock)  # skips without a server
    yield app
    app.dispose()
    cleanup()


@pytest.mark.postgres
def test_on_postgresql_a_claim_skips_rows_locked_by_another_dispatcher(postgres_app):
    any_app = postgres_app
    queue_digests(any_app, 10)
    outbox = SqlOutbox(any_app.session_factory)
    now = any_app.clock.now()
    with any_app.engine.connect() as other, ThreadPoolExecutor(1) as pool:
        query = select(NotificationRow.id).order_by(NotificationRow.id).limit(4)
        locked = set(other.execute(query.with_for_update()).scalars())
        # another dispatcher is in the middle of claiming these four: skip them, do not wait
        pending = pool.submit(outbox.claim, now, 100, now + timedelta(minutes=5), "second")
        try:
            claimed = pending.result(timeout=10)
        finally:
            other.rollback()
    assert len(claimed) == 6
    assert not locked & {e.id for e in claimed}


def test_a_write_records_outcomes_given_in_any_order_and_their_notices_once(any_app):
    coordinator = queue_digests(any_app, 3)
    outbox = SqlOutbox(any_app.session_factory)
    now = any_app.clock.now()
    first, second, third = outbox.claim(now, 3, now + timedelta(minutes=5), "mine")
    notice = NewNotification(
        template="delivery_failed",
        recipient_kind="staff",
        recipient_code=coordinator,
        language="fr",
        context={
            "notification": second.id,
            "template": second.template,
            "failed_recipient": second.recipient_code,
            "status": "failed",
            "reply": "550 no such user",
        },
        idempotency_key=f"delivery_failed:{second.id}:1:{coordinator}",
    )
    outcomes = [  # out of order: the write puts them in the order of their ids
        Outcome(third.id, "pending", "451 later", next_attempt_at=now + timedelta(minutes=1)),
        Outcome(second.id, "failed", "550 no such user", notify=True),
        Outcome(first.id, "sent", message_id="<m@x>"),
    ]

    assert outbox.settle("mine", now, outcomes, [notice]) == 1
    assert outbox.settle("mine", now, outcomes, [notice]) == 0  # written once

    rows = {e.id: e for e in outbox.list(limit=10)}
    assert (rows[first.id].status, rows[first.id].message_id) == ("sent", "<m@x>")
    assert (rows[second.id].status, rows[second.id].last_error) == ("failed", "550 no such user")
    assert (rows[third.id].status, rows[third.id].last_error) == ("pending", "451 later")
    [queued] = [e for e in rows.values() if e.template == "delivery_failed"]
    assert (queued.status, queued.recipient_code) == ("pending", coordinator)
