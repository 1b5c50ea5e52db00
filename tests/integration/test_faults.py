"""Faults with real components: four dispatchers on one PostgreSQL outbox, the database
connection dropped in the middle of a use case, and coordinators racing to answer one
question."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from ppflow.adapters.orm import NotificationRow, TransitionRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.decisions import DecisionTakenError, latest_decision, record_decision
from ppflow.services.dispatcher import dispatch_once
from ppflow.services.notifications import DispatchPolicy
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
    policy = DispatchPolicy(**{**vars(app.dispatch_policy()), "batch_size": 50})

    def dispatcher(seed: int) -> int:
        sent, rng = 0, random.Random(seed)
        while True:
            report = dispatch_once(app.mail_ports(), clock=app.clock, policy=policy, rng=rng)
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

    with pytest.raises(OperationalError, match="terminating connection") as raised:
        advisors.invite_advisor(uow_that_loses_its_connection(), code, meta, app.clock)
    # the driver's own error for a backend ended by the server, and SQLAlchemy knows the
    # connection is gone (a pooled one is not handed out again)
    assert isinstance(raised.value.orig, psycopg.errors.AdminShutdown)
    assert raised.value.connection_invalidated
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


COORDINATORS = {"cli:camille": "retained", "cli:jordan": "declined", "ui:sam": "not_retained"}
ROUNDS = 20


class WatchedDecisions:
    """The decision repository of one racer, noting in the round's log each answer it is
    about to write."""

    def __init__(self, decisions, actor: str, log: list):
        self._decisions, self._actor, self._log = decisions, actor, log

    def add(self, decision) -> None:
        self._log.append(self._actor)
        self._decisions.add(decision)

    def __getattr__(self, name: str):
        return getattr(self._decisions, name)


class WatchedUnitOfWork:
    """A racer's own unit of work, its decision writes watched."""

    def __init__(self, uow, actor: str, log: list):
        self._uow, self._actor, self._log = uow, actor, log

    def __enter__(self):
        self._uow.__enter__()
        return self

    def __exit__(self, *exc):
        return self._uow.__exit__(*exc)

    @property
    def decisions(self):
        return WatchedDecisions(self._uow.decisions, self._actor, self._log)

    def __getattr__(self, name: str):
        return getattr(self._uow, name)


def race(app, run: str) -> tuple[dict, list]:
    """Every coordinator answers the screening question of ``run`` at once, each in its own
    thread and unit of work, released together. Returns what each got, and who wrote."""
    log: list = []
    start = threading.Barrier(len(COORDINATORS), timeout=30)

    def answer(actor: str, outcome: str):
        uow = WatchedUnitOfWork(app.uow(), actor, log)
        start.wait()
        return record_decision(
            uow, run, "screening", "PA-AAAAAA", {"outcome": outcome}, actor, app.clock
        )

    with ThreadPoolExecutor(len(COORDINATORS)) as pool:
        futures = {actor: pool.submit(answer, actor, o) for actor, o in COORDINATORS.items()}
        results = {actor: f.exception() or f.result() for actor, f in futures.items()}
    return results, log


def test_coordinators_racing_on_one_question_one_wins_and_the_others_are_told(any_app):
    app = any_app
    raced = 0
    for round_ in range(ROUNDS):
        run = f"run-{round_}"
        results, log = race(app, run)
        winners = [actor for actor, got in results.items() if not isinstance(got, Exception)]
        assert len(winners) == 1, f"{run}: {len(winners)} answers won ({results})"
        [winner] = winners
        assert results[winner].actor == winner
        assert results[winner].answer == {"outcome": COORDINATORS[winner]}
        for actor, got in results.items():
            if actor == winner:
                continue
            assert isinstance(got, DecisionTakenError), f"{run}: {actor} got {got!r}"
            assert got.decision.actor == winner
            assert f"already answered by {winner}" in str(got)
            assert COORDINATORS[winner] in str(got)
        with app.session_factory() as session:
            stored = session.execute(
                text("SELECT actor, answer FROM decisions WHERE flow_run_id = :run"),
                {"run": run},
            ).all()
        assert [actor for actor, _ in stored] == [winner]
        # a coordinator writes only after finding the question open; when two or more
        # wrote, they overlapped, and only the database's unique index decided
        raced += len(log) >= 2
    assert raced, f"in none of {ROUNDS} rounds did two coordinators write at once"


def test_the_run_resumed_records_the_same_answer_and_nothing_changes(any_app):
    app = any_app
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
    assert latest_decision(app.uow(), "PA-AAAAAA", "screening") == first
