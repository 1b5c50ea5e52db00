"""Faults with real components: four dispatchers on one PostgreSQL outbox, the database
connection dropped in the middle of a use case, and two coordinators answering one
question."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from ppflow.adapters.email.wiring import dispatch_policy, mail_ports
from ppflow.adapters.orm import NotificationRow, TransitionRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.decisions import DecisionTakenError, record_decision
from ppflow.services.notifications import DispatchPolicy, dispatch_once
from tests import factories
from tests.conftest import make_app
from tests.integration.test_notifications_claims import queue_digests

ROWS = 2000


@pytest.fixture
def postgres_app(tmp_path, clock):
    app, cleanup = make_app("postgres", tmp_path, clock)  # skips without a server
    yield app
    app.dispose()
    cleanup()


@pytest.mark.postgres
def test_four_dispatchers_send_each_of_2000_rows_exactly_once(postgres_app, smtp_server):
    app = postgres_app
    app.settings = app.settings.model_copy(update={"smtp": smtp_server.settings()})
    queue_digests(app, ROWS)
    policy = DispatchPolicy(**{**vars(dispatch_policy(app.settings)), "batch_size": 50})

    def dispatcher(seed: int) -> int:
        sent, rng = 0, random.Random(seed)
        while True:
            report = dispatch_once(mail_ports(app), clock=app.clock, policy=policy, rng=rng)
            sent += report.sent
            if not report.claimed:
                return sent

    with ThreadPoolExecutor(4) as pool:
        per_dispatcher = list(pool.map(dispatcher, range(4)))
    assert sum(per_dispatcher) == ROWS
    assert sum(1 for n in per_dispatcher if n) >= 2  # the work was really shared
    subjects = Counter(m.header("Subject") for m in smtp_server.messages())
    assert len(subjects) == ROWS and set(subjects.values()) == {1}
    with app.session_factory() as session:
        statuses = dict(
            session.execute(
                select(NotificationRow.status, func.count()).group_by(NotificationRow.status)
            ).all()
        )
    assert statuses == {"sent": ROWS}


@pytest.mark.postgres
def test_a_dropped_database_connection_fails_cleanly_and_a_retry_completes(postgres_app):
    app = postgres_app
    code = factories.referral(app, factories.staff(app))
    meta = Meta("flow:recruit-advisor", request_id="run-1:invite")

    class DroppedConnection(Exception):
        pass

    real_uow = app.uow

    def uow_that_loses_its_connection():
        uow = real_uow()
        original_commit = uow.commit

        def commit():
            # the server ends this session's backend between the writes and the commit
            pid = uow.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with app.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
            original_commit()

        uow.commit = commit
        return uow

    with pytest.raises(Exception) as raised:
        advisors.invite_advisor(uow_that_loses_its_connection(), code, meta, app.clock)
    assert "terminat" in str(raised.value).lower() or "closed" in str(raised.value).lower()
    with app.session_factory() as session:  # nothing half-written
        assert (
            session.scalar(
                select(func.count()).select_from(TransitionRow).where(TransitionRow.code == code)
            )
            == 1
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.template == "invitation")
            )
            == 0
        )
    change = advisors.invite_advisor(app.uow(), code, meta, app.clock)  # the retry
    assert change.to_state == "invited" and not change.replayed
    again = advisors.invite_advisor(app.uow(), code, meta, app.clock)
    assert again.replayed
    with app.session_factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.template == "invitation")
            )
            == 1
        )


def test_two_coordinators_answer_one_question_and_the_second_is_told(sqlite_app):
    app = sqlite_app
    first = record_decision(
        app.uow(),
        "run-7",
        "screening",
        "PA-AAAAAA",
        {"outcome": "retained"},
        "cli:camille",
        app.clock,
    )
    with pytest.raises(DecisionTakenError, match="already answered by cli:camille"):
        record_decision(
            app.uow(),
            "run-7",
            "screening",
            "PA-AAAAAA",
            {"outcome": "declined"},
            "cli:jordan",
            app.clock,
        )
    same = record_decision(
        app.uow(),
        "run-7",
        "screening",
        "PA-AAAAAA",
        {"outcome": "retained"},
        "flow:recruit-advisor",
        app.clock,
    )
    assert same == first  # the run, resumed, records the same answer: nothing changes
