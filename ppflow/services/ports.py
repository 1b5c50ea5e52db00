"""Ports: everything the service layer needs from the outside world, as small protocols,
in this one module, with the values they carry defined beside them. This module imports
the domain only: every service module and every adapter imports it, and it imports none
of them (``test_the_services_import_no_cycle`` holds that).

Transactions: the unit of work's ``commit()`` is the one boundary. Repositories and
stores work on its session and never begin, commit or roll back; the one exception is
the :class:`Outbox`, whose lease claims and outcomes are short transactions of their own
(see its docstring)."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from ppflow.domain.compensation import RateTier
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.matching import Match
from ppflow.domain.model import (
    Advisor,
    Consent,
    Contact,
    Correction,
    Decision,
    Engagement,
    Evaluation,
    Meeting,
    Program,
    ProgramTarget,
    QITeam,
    StaffMember,
    SurveyRequest,
    TrainingModule,
    TrainingRecord,
    Transition,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class FixedClock:
    """A clock that says what it is told; tests and replays move it by hand."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


@dataclass(frozen=True)
class AdvisorFilter:
    stage: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    limit: int | None = None
    skills: tuple[str, ...] = ()  # has every one of these skills
    available_hours: int | None = None  # offers at least this many hours a month
    max_load: int | None = None  # at most this many active engagements


@dataclass(frozen=True)
class PoolEntry:
    advisor: Advisor
    active_engagements: int


@dataclass(frozen=True)
class ContactMatch:
    """One person found by name or e-mail: personal data, printed locally only."""

    code: str
    stage: str
    first_name: str
    last_name: str
    email: str


class AdvisorRepository(Protocol):
    def add(self, advisor: Advisor, contact: Contact) -> None: ...
    def get(self, code: str) -> Advisor: ...
    def exists(self, code: str) -> bool: ...
    def contact(self, code: str) -> Contact: ...
    def find_by_email_or_phone(
        self, emails: Iterable[str], phones: Iterable[str]
    ) -> dict[str, str]: ...
    def save(self, advisor: Advisor) -> None: ...
    def save_contact(self, code: str, contact: Contact) -> None: ...
    def list(self, criteria: AdvisorFilter) -> builtins.list[PoolEntry]: ...
    def count(self, criteria: AdvisorFilter) -> int:
        """How many advisors ``criteria`` selects, whatever its limit."""

    def count_by_stage(self) -> dict[str, int]: ...
    def consents(self, code: str) -> builtins.list[Consent]: ...
    def add_consent(self, code: str, consent: Consent) -> None: ...
    def withdraw_consents(self, code: str, at: datetime) -> int: ...
    def training(self, code: str) -> builtins.list[TrainingRecord]: ...
    def enrol(self, code: str, module: str, at: datetime) -> bool: ...
    def complete(self, code: str, module: str, at: datetime) -> bool: ...
    def add_referral(self, code: str, referred_by: str, at: datetime, source: str) -> None: ...
    def referrer(self, code: str) -> str | None: ...
    def find(self, words: tuple[str, ...], limit: int) -> builtins.list[ContactMatch]:
        """People whose names or e-mail contain every folded word (queries.matches), in
        registration order, at most ``limit``; erased contacts never match."""


class StaffRepository(Protocol):
    def add(self, member: StaffMember) -> None: ...
    def get(self, code: str) -> StaffMember: ...
    def save(self, member: StaffMember) -> None: ...
    def by_email(self, email: str) -> StaffMember | None: ...
    def list(self, role: str | None = None) -> builtins.list[StaffMember]: ...
    def known(self, keys: Iterable[str]) -> dict[str, str]: ...


class ProgramRepository(Protocol):
    def add(self, program: Program) -> None: ...
    def get(self, code: str) -> Program: ...
    def list(self) -> builtins.list[Program]: ...
    def add_target(self, program_code: str, target: ProgramTarget) -> None:
        """Add a version of a target; ConcurrentUpdateError if another version of the
        indicator was added since the program was read (``target.version`` is not next)."""


class TeamRepository(Protocol):
    def add(self, team: QITeam) -> None: ...
    def get(self, code: str) -> QITeam: ...
    def list(self, stage: str | None = None) -> builtins.list[QITeam]: ...
    def save(self, team: QITeam) -> None: ...
    def advisor_count(self, code: str) -> int: ...
    def record_proposals(self, code: str, matches: Sequence[Match], at: datetime) -> None:
        """Keep ``matches`` as the team's last proposals, replacing the ones before."""

    def last_proposals(self, code: str) -> tuple[datetime | None, builtins.list[Match]]:
        """When the team's last proposals were made, and the proposals, best first."""


class EngagementRepository(Protocol):
    def add(self, engagement: Engagement) -> None: ...
    def get(self, code: str) -> Engagement: ...
    def for_advisor(self, code: str) -> list[Engagement]: ...
    def for_team(self, code: str) -> list[Engagement]: ...
    def save(self, engagement: Engagement) -> None: ...


class TrainingRepository(Protocol):
    def add(self, module: TrainingModule) -> None: ...
    def list(self, required_only: bool = False) -> builtins.list[TrainingModule]: ...


class TransitionRepository(Protocol):
    def add(self, transition: Transition) -> int: ...
    def by_request_id(self, request_id: str) -> Transition | None: ...
    def history(self, entity: str, code: str) -> list[Transition]: ...
    def after(
        self, position: int, made_before: datetime, limit: int
    ) -> list[tuple[int, Transition]]:
        """The moves after ``position`` in the log (by id), made before ``made_before``,
        oldest first, with their ids; without their reasons, which are not read."""

    def cursor(self, name: str) -> int:
        """Where the reader ``name`` has got in the log (0 when it never read)."""

    def move_cursor(self, name: str, position: int, at: datetime) -> None:
        """Set the reader ``name`` at ``position``, never backwards."""


class NotificationRepository(Protocol):
    def queue(
        self,
        *,
        template: str,
        recipient_kind: str,
        recipient_code: str,
        language: str,
        context: dict[str, Any],
        idempotency_key: str,
        at: datetime,
        transition_id: int | None,
    ) -> bool: ...
    def templates_for(self, recipient_code: str) -> set[str]: ...
    def cancel_pending(self, recipient_code: str, reason: str) -> int: ...
    def link(self, idempotency_key: str, transition_id: int) -> None: ...


class SurveyRepository(Protocol):
    def open(self, request: SurveyRequest) -> bool: ...
    def for_engagement(self, code: str) -> list[SurveyRequest]: ...
    def by_token(self, token: str) -> SurveyRequest | None: ...
    def answer(self, token: str, answers: dict, score: float | None, at: datetime) -> bool: ...
    def mark_reminded(self, token: str, at: datetime) -> None: ...


class EvaluationRepository(Protocol):
    def add(self, evaluation: Evaluation) -> None: ...
    def get(self, engagement: str) -> Evaluation | None: ...


class CorrectionRepository(Protocol):
    def add(self, correction: Correction) -> None: ...
    def of(self, entity: str, code: str) -> list[Correction]: ...


class MeetingRepository(Protocol):
    def add(self, meeting: Meeting) -> None:
        """Record the meeting and its roll call; a second meeting of the team on the same
        day is refused by the database (IntegrityError)."""

    def on(self, team: str, day: date) -> Meeting | None: ...
    def for_team(self, team: str, start: date | None, end: date | None) -> list[Meeting]:
        """The team's meetings held from ``start`` to ``end`` (both included; None: no
        bound), by date."""


class DecisionRepository(Protocol):
    def get(self, flow_run_id: str, question: str) -> Decision | None: ...
    def latest(self, subject: str, question: str) -> Decision | None: ...
    def add(self, decision: Decision) -> None: ...


# ------------------------------------------------------------------------ compensation


@dataclass(frozen=True)
class EngagementPay:
    """What compensation needs to know about an engagement."""

    code: str
    advisor: str
    stage: str
    start_date: date | None
    hourly_rate: float | None
    program: str | None


@dataclass(frozen=True)
class ActivityEntry:
    engagement: str
    day: date
    activity: str
    centihours: int
    rate_cents: int
    basis: str
    amount_cents: int
    declined: bool
    note: str = ""
    request_id: str | None = None
    voids: int | None = None  # a reversing entry: the id of the entry it voids


@dataclass(frozen=True)
class Expense:
    engagement: str
    day: date
    kind: str
    amount_cents: int
    receipt: str = ""
    request_id: str | None = None


@dataclass(frozen=True)
class PayEntry:
    """One stored pay entry, as ``pay entries`` lists it: ``voids`` is set on a reversing
    entry, ``voided_by`` on the entry it reverses."""

    id: int
    engagement: str
    day: date
    activity: str
    centihours: int
    amount_cents: int
    declined: bool
    note: str
    recorded_at: datetime
    actor: str
    voids: int | None = None
    voided_by: int | None = None


@dataclass(frozen=True)
class BudgetLine:
    program: str
    fiscal_year: int
    budget_cents: int
    committed_cents: int


@dataclass(frozen=True)
class PayeeTotal:
    advisor: str
    centihours: int
    owed_cents: int
    expenses_cents: int
    entries: int
    declined: bool  # at least one activity in the period was unpaid by the advisor's choice


class CompensationRepository(Protocol):
    def add_tier(self, tier: RateTier, at: datetime, actor: str) -> RateTier: ...
    def tiers(self, activity: str | None = None) -> list[RateTier]: ...
    def engagements(self, codes: Iterable[str]) -> dict[str, EngagementPay]: ...
    def logged_request_ids(self, request_ids: Iterable[str]) -> set[str]: ...
    def logged_keys(
        self, pairs: Iterable[tuple[str, date]]
    ) -> set[tuple[str, date, str, int, str]]: ...
    def add_activity(self, entry: ActivityEntry, at: datetime, actor: str) -> int:
        """Store an entry; a second reversal of one entry raises DuplicateError."""

    def entry(self, entry_id: int) -> PayEntry | None: ...
    def entries(self, engagement: str | None = None) -> list[PayEntry]: ...
    def add_expense(self, expense: Expense, at: datetime, actor: str) -> int | None: ...
    def declines(self, advisors: Iterable[str]) -> dict[str, list[date]]: ...
    def add_decline(self, advisor: str, effective_from: date, at: datetime, actor: str) -> bool: ...
    def waive_from(self, advisor: str, effective_from: date) -> int: ...
    def set_budget(
        self, program: str, year: int, amount_cents: int, at: datetime, actor: str
    ) -> None: ...
    def budget(self, program: str, year: int) -> int | None: ...
    def budget_lines(self, year: int | None, start_month: int) -> list[BudgetLine]: ...
    def committed(self, program: str, start: date, end: date) -> int: ...
    def payee_total(self, advisor: str, start: date, end: date) -> int: ...
    def payees(self, start: date, end: date) -> list[PayeeTotal]: ...
    def engagement_total(self, engagement: str) -> PayeeTotal:
        """Everything logged on one engagement, all dates (``advisor`` is its advisor)."""

    def coordinators(self) -> list[str]: ...


# ----------------------------------------------------------------------- survey portal


@dataclass(frozen=True)
class PendingSurvey:
    token: str
    engagement: str
    respondent_kind: str
    respondent: str
    round: int
    questionnaire: str
    answered_at: datetime | None
    version: int | None
    ended_because: str | None = None  # ENDED_WITHDRAWN or ERASED: the link takes nothing


class ResponseStore(Protocol):
    def by_token(self, token: str) -> PendingSurvey | None: ...
    def latest(
        self, engagement: str, respondent: str, round: int | None
    ) -> PendingSurvey | None: ...
    def record(
        self,
        token: str,
        answers: dict,
        version: int,
        score: float | None,
        theme_scores: dict[str, float],
        at: datetime,
    ) -> bool: ...
    def language(self, survey: PendingSurvey) -> str | None: ...
    def advisor_language(self, advisor: str) -> str | None: ...
    def advisor_erased(self, advisor: str) -> bool: ...
    def end_for(self, advisor: str, because: str, at: datetime) -> int:
        """End the advisor's survey requests (see :data:`ppflow.services.portal.ERASED`)."""


# The outbox language of a message to staff, as queue_notification chooses it: staff have
# no preferred language, so the default one.
STAFF_LANGUAGE = "fr"


@dataclass(frozen=True, slots=True)
class Notice:
    """One outbox row to a staff member, as ``queue_notification`` would write it."""

    template: str
    recipient_code: str
    idempotency_key: str
    context: dict[str, Any]
    language: str = STAFF_LANGUAGE
    recipient_kind: str = "staff"


@dataclass(frozen=True, slots=True)
class NewReferral:
    """Everything one referral writes; its notices link to its transition."""

    advisor: Advisor
    contact: Contact
    referrer: str  # staff code
    source: str
    transition: Transition
    notices: tuple[Notice, ...]


class ReferralBatch(Protocol):
    """Set-based reads and one bulk write for a large referral import."""

    def replayed(self, request_ids: Sequence[str]) -> dict[str, str]:
        """Map each request id already logged to the advisor code it logged."""

    def codes_taken(self, codes: Sequence[str]) -> set[str]: ...
    def add(self, referrals: Iterable[NewReferral], at: datetime) -> None:
        """Write every referral, registered at ``at``, with bulk inserts in the open
        transaction; a row refused by the database raises RegisteredMeanwhileError."""


class RetentionStore(Protocol):
    """On the unit of work's session: writes commit with it."""

    def erase_final_before(self, stage: str, before: datetime, now: datetime) -> tuple[int, int]:
        """Erase contacts of advisors in ``stage`` since before ``before``; returns
        (people erased, pending notifications cancelled)."""


class PrivacyStore(Protocol):
    """On the unit of work's session: writes commit with it. An erasure's last step
    (no readable copy left in the database files or the mail sink) runs once the unit
    of work has committed."""

    def export(self, code: str) -> dict[str, Any]: ...
    def erase(self, code: str, now: datetime, actor: str) -> int: ...
    def add_incident(self, incident: dict[str, Any]) -> int: ...
    def incidents(self, since: date | None = None) -> list[dict[str, Any]]: ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``. Its ``commit()`` and
    ``rollback()`` are the only transaction boundaries of the repositories and stores it
    holds; leaving the block without committing rolls back. The repositories are
    read-only properties: a protocol's plain attribute is writable, so only a class that
    lets callers replace its repositories would match."""

    @property
    def advisors(self) -> AdvisorRepository: ...
    @property
    def staff(self) -> StaffRepository: ...
    @property
    def programs(self) -> ProgramRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def engagements(self) -> EngagementRepository: ...
    @property
    def training(self) -> TrainingRepository: ...
    @property
    def transitions(self) -> TransitionRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def surveys(self) -> SurveyRepository: ...
    @property
    def evaluations(self) -> EvaluationRepository: ...
    @property
    def decisions(self) -> DecisionRepository: ...
    @property
    def corrections(self) -> CorrectionRepository: ...
    @property
    def meetings(self) -> MeetingRepository: ...
    @property
    def pay(self) -> CompensationRepository: ...
    @property
    def responses(self) -> ResponseStore: ...
    @property
    def referral_batch(self) -> ReferralBatch: ...
    @property
    def privacy(self) -> PrivacyStore: ...
    @property
    def retention(self) -> RetentionStore: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


# ------------------------------------ read models built beside the unit of work (reads only)


ENGLISH = {
    AdvisorStage.IDENTIFIED: "identified",
    AdvisorStage.INVITED: "invited",
    AdvisorStage.PREPARING: "preparing",
    "survey": "questionnaire {detail} unanswered",
    "consent": "{detail} consent expires in {days} days",
    "training": "training {detail} overdue",
    "decision": "{detail}: waiting for a decision",
}


@dataclass(frozen=True)
class Case:
    """One stalled case: the code the coordinator acts on (an advisor, a staff member for a
    questionnaire, a team for an integration decision), its kind (``sweeps.CASE_KINDS``),
    the days it has waited (for a consent: the days left before it expires), what it is
    about (``sweeps.DETAIL``), and for a consent the day it expires (ISO)."""

    advisor: str
    kind: str
    days: int
    detail: str = ""
    on: str | None = None

    @property
    def stage(self) -> str:
        """What is waiting, in a few English words (the CLI's table, the run's artifact)."""
        return ENGLISH.get(self.kind, self.kind).format(detail=self.detail, days=self.days)


@dataclass(frozen=True)
class Found:
    total: int
    first: list[Case]


class SweepQueries(Protocol):
    def stalled(self, stage: str, before: datetime, now: datetime, limit: int) -> Found: ...
    def unanswered_surveys(self, before: datetime, now: datetime, limit: int) -> Found: ...
    def expiring_consents(self, now: datetime, until: datetime, limit: int) -> Found: ...
    def overdue_training(self, before: datetime, now: datetime, limit: int) -> Found: ...
    def due_survey_rounds(self, now: datetime) -> list[tuple[str, int]]: ...


@dataclass(frozen=True)
class TeamCounts:
    active_teams: int
    with_one: int
    with_two: int
    advisors_on_active_teams: int


@dataclass(frozen=True)
class Durations:
    """Days from identification to integration for the advisors integrated in a period."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Retention:
    cohort: int  # advisors who became active at least the horizon before the period's end
    retained: int  # of them, those who had not left (withdrawn or alumni) by the horizon


@dataclass(frozen=True)
class Compensation:
    hours: float
    paid: float  # owed for the hours logged, in CAD, without payment advisors declined
    expenses: float = 0.0


@dataclass(frozen=True)
class ItemScores:
    """Mean answer of one item in one quarter: the database groups, we only name themes."""

    quarter: str
    item: str
    mean: float
    answers: int


@dataclass(frozen=True)
class TargetVersion:
    indicator: str
    target: float
    period: str
    version: int
    changed_at: datetime | None
    previous: float | None = None  # the value of the version before, if any


@dataclass(frozen=True)
class Attendance:
    """One team's roll calls in a period: advisor-meetings held and attended."""

    team: str
    held: int
    attended: int


class IndicatorQueries(Protocol):
    def funnel_at(self, end: datetime) -> dict[str, int]: ...
    def entered(self, stage: str, start: datetime, end: datetime) -> int: ...
    def funnel_moves(
        self, steps: Sequence[str], start: datetime, end: datetime
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Per step, the advisors who reached it in the period (moved to it from the step
        before; the first step, by any entry), and of them those who then moved on to
        the following step before ``end``."""

    def new_referrals(self, start: datetime, end: datetime) -> int: ...
    def teams_at(self, end: datetime) -> TeamCounts: ...
    def days_to_integration(self, start: datetime, end: datetime) -> Durations: ...
    def retention(self, end: datetime, days: int) -> Retention: ...
    def reasons_for_leaving(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]: ...
    def compensation(self, start: datetime, end: datetime) -> Compensation | None: ...
    def feedback_mean(self, start: datetime, end: datetime) -> tuple[float | None, int]: ...
    def item_scores(self, start: datetime, end: datetime) -> list[ItemScores]: ...
    def item_themes(self) -> tuple[dict[str, str], dict[str, str]] | None: ...
    def target_versions(self) -> list[TargetVersion]: ...
    def attendance(self, start: date, end: date) -> list[Attendance]:
        """Per team, the roll-call entries of its meetings held from ``start`` (included)
        to ``end`` (excluded), and how many of them were present."""


# ----------------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Person:
    """A recipient, or a person a message mentions, as the templates see them. Printing it
    in a template gives the code; names are attributes."""

    code: str
    kind: str  # advisor | staff
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    language: str | None = None
    erased: bool = False

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.code

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class NewNotification:
    template: str
    recipient_kind: str
    recipient_code: str
    language: str
    context: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    template: str
    recipient_kind: str
    recipient_code: str
    language: str
    context: Mapping[str, Any]
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None
    created_at: datetime | None = None
    transition_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row."""

    id: int
    status: str  # sent | pending | failed | dead
    error: str | None = None
    message_id: str | None = None
    next_attempt_at: datetime | None = None
    notify: bool = False  # tell the coordinators (refused by the server, or given up on)


@dataclass(frozen=True)
class OutgoingEmail:
    key: int
    to_address: str
    to_name: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Delivery:
    key: int
    ok: bool
    permanent: bool = False
    reply: str | None = None


class Outbox(Protocol):
    """The dispatcher's view of the outbox. Unlike every other port it commits on its own:
    each call is one short transaction of its own, outside any unit of work, because
    at-most-once delivery needs a claim (the lease) committed before a message is sent,
    and each outcome committed as soon as it is known, whatever happens to the rest of
    the batch."""

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, token: str
    ) -> list[OutboxEntry]: ...
    def settle(
        self,
        token: str,
        now: datetime,
        outcomes: Sequence[Outcome],
        notices: Sequence[NewNotification] = (),
    ) -> int: ...
    def renew(self, token: str, lease_until: datetime) -> int: ...


class Directory(Protocol):
    def people(self, advisors: Iterable[str], staff: Iterable[str]) -> dict[str, Person]: ...
    def coordinators(self) -> list[Person]: ...


class Renderer(Protocol):
    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail: ...


class Mailer(Protocol):
    """Sends mail for one dispatcher pass, used as an async context manager so that its
    connections are opened once and reused for the whole pass."""

    concurrency: int  # connections used at once: at most one unrecorded message on each

    async def __aenter__(self) -> Mailer: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def stream(
        self, source: asyncio.Queue[OutgoingEmail | None], deliver: Callable[[Delivery], None]
    ) -> None:
        """Send each message put on ``source`` until ``None`` comes, and report each
        outcome to ``deliver`` as soon as it is known."""


# ------------------------------------------------------------------------ signed links


class PortalKeys(Protocol):
    """What signing needs from ``settings.portal`` (read-only, so frozen settings fit)."""

    @property
    def signing_key(self) -> str: ...
    @property
    def previous_signing_keys(self) -> list[str]: ...
    @property
    def link_days(self) -> int: ...


class HasPortal(Protocol):
    @property
    def portal(self) -> PortalKeys: ...
    @property
    def portal_url(self) -> str: ...
    @property
    def environment(self) -> str: ...

    @property
    def resolved_database_url(self) -> str: ...
