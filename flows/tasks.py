"""Prefect tasks: each calls one ppflow use case and returns plain values (codes, stages,
counts), as the frozen dataclasses of ``ppflow_flows.results``. Retries cover transient
errors only (a database that is locked or unreachable, a dropped connection); everything
else (an illegal move, a bad CSV, a missing file, a bug) fails the task at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE, CachePolicy
from sqlalchemy import exc as db

from ppflow.domain.lifecycle import AdvisorStage
from ppflow.services import advisors, decisions, feedback, integration, queries
from ppflow.services.moves import StageChange
from ppflow.services.referral_import import import_referrals
from ppflow.services.sweeps import Case
from ppflow_flows.results import (
    AdvisorStanding,
    Evaluation,
    FeedbackResult,
    ImportResult,
    OutboxPass,
    Placement,
    Proposal,
    ReminderResult,
    RetentionResult,
    StageResult,
    TeamStanding,
    Training,
)
from ppflow_flows.runtime import announce, announce_moves, application, meta

# What may succeed when tried again a few seconds later. aiosmtplib's SMTPConnectError and
# SMTPServerDisconnected are ConnectionErrors and its SMTPTimeoutError a TimeoutError (the
# dispatcher records a failed message in the outbox itself, so these reach a task only
# when the whole pass fails); a pool that has no connection free raises SQLAlchemy's
# TimeoutError.
TRANSIENT = (
    db.DisconnectionError,
    db.TimeoutError,
    ConnectionError,
    TimeoutError,
    httpx.NetworkError,  # Prefect's API, e.g. when a Secret block is read
    httpx.TimeoutException,
)
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(error: BaseException | None) -> bool:
    """Whether a failed task may succeed if tried again: a database that is locked, busy
    or unreachable, a connection dropped or timed out. Everything else, ppflow's own
    refusals included, is final. SQLite reports a missing table as an OperationalError
    too, so its OperationalErrors count only when they say the database is locked."""
    if isinstance(error, db.OperationalError):
        if isinstance(error.orig, sqlite3.OperationalError):
            return any(words in str(error.orig).lower() for words in SQLITE_BUSY)
        return True
    if isinstance(error, db.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy saw the connection drop
    return isinstance(error, TRANSIENT)


def _retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    return is_transient(state.result(raise_on_failure=False))


class TaskOptions(TypedDict):
    """The keywords of ``@task(**DB)``, typed so that the type checker reads them."""

    retries: int
    retry_delay_seconds: list[float]
    retry_condition_fn: Callable[[Any, Any, Any], bool]
    cache_policy: CachePolicy


# Tasks read and change live state: a cached result would hide what changed meanwhile.
DB: TaskOptions = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": _retry_if_transient,
    "cache_policy": NO_CACHE,
}


def _change(change: StageChange, team: str | None = None) -> StageResult:
    """The result of a step, once each move it made is announced (one event per move)."""
    announce_moves(change.moves, team)
    return StageResult.of(change)


# Reads are plain calls, not tasks: they change nothing, so there is nothing to retry or to
# record, and a task run would cost a round of events for each.


def describe_advisor(advisor: str) -> AdvisorStanding:
    detail = queries.get_advisor(application().uow(), advisor)
    return AdvisorStanding(advisor, str(detail.advisor.stage), detail.advisor.program)


def describe_team(team: str) -> TeamStanding:
    summary = queries.get_team(application().uow(), team)
    return TeamStanding(
        team, str(summary.team.stage), summary.team.program, summary.active_advisors
    )


@task(**DB)
def register_referrals(csv_path: str, skip_invalid: bool) -> ImportResult:
    """Import a CSV of referrals. Only codes and line numbers come back: the reasons can
    quote personal data, so the coordinator reads them with ``ppflow advisor import``."""
    app = application()
    report = import_referrals(
        app.uow(),
        Path(csv_path).read_bytes(),
        meta("import"),
        skip_invalid=skip_invalid,
        clock=app.clock,
    )
    for code in report.imported:
        announce("advisor", code, None, AdvisorStage.IDENTIFIED)
    return ImportResult.of(report)


@task(**DB)
def invite(advisor: str, team: str | None = None) -> StageResult:
    app = application()
    return _change(advisors.invite_advisor(app.uow(), advisor, meta("invite"), app.clock), team)


def record_answer(key: str, subject: str, answer: dict, actor: str) -> None:
    """Store the answer the run accepted, under its pause key, with who gave it. The same
    answer stored by ``ppflow answer`` beforehand is accepted again, so a plain call is
    enough: repeated, it changes nothing."""
    app = application()
    m = meta(key, keyed=False)
    decisions.record_decision(
        app.uow(), m.flow_run_id or "local", key, subject, answer, actor, app.clock
    )


@task(**DB)
def record_screening(
    advisor: str,
    outcome: str,
    reason: str,
    wording_version: str,
    actor: str | None = None,
    team: str | None = None,
) -> StageResult:
    app = application()
    change = advisors.apply_screening_outcome(
        app.uow(),
        advisor,
        outcome,
        meta("screening", reason or None, actor=actor),
        wording_version,
        clock=app.clock,
    )
    return _change(change, team)


@task(**DB)
def enrol(advisor: str) -> StageResult:
    app = application()
    return _change(advisors.enrol_required_modules(app.uow(), advisor, meta("enrol"), app.clock))


@task(**DB)
def complete_modules(
    advisor: str, modules: list[str], round: int, actor: str | None = None, team: str | None = None
) -> Training:
    """Record completed modules (each once); returns the advisor's stage afterwards, the
    modules this answer completed and those still to complete."""
    app = application()
    before = {m.code for m in decisions.modules_to_complete(app.uow(), advisor)}
    for module in decisions.distinct(modules):
        change = advisors.complete_module(
            app.uow(), advisor, module, meta(f"training-{round}-{module}", actor=actor), app.clock
        )
        if change is not None:
            _change(change, team)
    left = [m.code for m in decisions.modules_to_complete(app.uow(), advisor)]
    stage = str(queries.get_advisor(app.uow(), advisor).advisor.stage)
    return Training(stage, tuple(sorted(before - set(left))), tuple(left))


@task(**DB)
def brief(team: str) -> StageResult:
    app = application()
    return _change(integration.brief_team(app.uow(), team, meta("brief"), app.clock))


def propose(team: str, limit: int, advisor: str | None = None) -> list[Proposal]:
    app = application()
    matches = integration.propose_matches(app.uow(), team, limit, clock=app.clock, wanted=advisor)
    return [Proposal.of(m) for m in matches]


@task(**DB)
def confirm(
    team: str, advisor: str, role: str, hourly_rate: float | None, actor: str | None = None
) -> Placement:
    app = application()
    result = integration.confirm_match(
        app.uow(),
        team,
        advisor,
        meta("confirm", actor=actor),
        role,
        hourly_rate=hourly_rate,
        clock=app.clock,
    )
    announce_moves(result.moves)  # the engagement proposed, then active; the advisor active
    return Placement.of(result)


@task(**DB)
def open_feedback(engagement: str, round: int) -> FeedbackResult:
    app = application()
    status = feedback.open_feedback(
        app.uow(),
        engagement,
        meta("feedback"),
        round,
        clock=app.clock,
        portal_url=app.settings.portal_url,
    )
    return FeedbackResult.of(status)


@task(**DB)
def remind_feedback(engagement: str, after_days: int) -> int:
    from datetime import timedelta

    app = application()
    return feedback.remind_feedback(
        app.uow(), engagement, timedelta(days=after_days), app.clock, app.settings.portal_url
    )


@task(**DB)
def evaluate(engagement: str, notes: str) -> Evaluation:
    app = application()
    report = feedback.evaluate_engagement(
        app.uow(), engagement, meta("evaluate"), notes, clock=app.clock
    )
    announce_moves(report.moves)
    return Evaluation.of(report)


# ---------------------------------------------------------------- scheduled sweeps


@task(**DB)
def dispatch_outbox(max_rows: int | None = None) -> OutboxPass:
    return OutboxPass.of(application().dispatch_pending(max_rows))


@task(**DB)
def remind(waiting: list[Case]) -> ReminderResult:
    """The coordinators' digests; ``waiting`` are the decisions runs wait on."""
    from ppflow.services.sweeps import send_reminders

    app = application()
    report = send_reminders(
        app.uow(), app.sweeps(), app.settings.service_levels, waiting, clock=app.clock
    )
    return ReminderResult.of(report)


@task(**DB)
def open_due_surveys() -> int:
    from ppflow.services.sweeps import open_due_surveys as open_rounds

    app = application()
    return open_rounds(app.uow, app.sweeps(), app.clock, app.settings.portal_url)


@task(**DB)
def erase_expired_personal_data() -> RetentionResult:
    from ppflow.services.retention import apply_retention

    app = application()
    report = apply_retention(app.uow(), app.settings.retention_days, app.clock)
    return RetentionResult.of(report)
