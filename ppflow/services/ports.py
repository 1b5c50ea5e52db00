"""Ports: everything the service layer needs from the outside world, as small protocols,
in this one module. The values they carry are defined beside the use cases that read them
(imported here for type checking only, so that no service module imports another at run
time through this one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

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

if TYPE_CHECKING:
    from ppflow.domain.compensation import RateTier
    from ppflow.domain.matching import Match
    from ppflow.services.compensation import (
        ActivityEntry,
        BudgetLine,
        EngagementPay,
        Expense,
        PayeeTotal,
        PayEntry,
    )
    from ppflow.services.indicators import (
        Attendance,
        Compensation,
        Durations,
        ItemScores,
        Retention,
        TargetVersion,
        TeamCounts,
    )
    from ppflow.services.notifications import (
        Delivery,
        NewNotification,
        OutboxEntry,
        Outcome,
        OutgoingEmail,
        Person,
        RenderedEmail,
    )
    from ppflow.services.portal import PendingSurvey
    from ppflow.services.queries import ContactMatch
    from ppflow.services.referral_import import NewReferral
    from ppflow.services.sweeps import Found


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
    def list(self, criteria: AdvisorFilter) -> list[PoolEntry]: ...
    def count(self, criteria: AdvisorFilter) -> int:
        """How many advisors ``criteria`` selects, whatever its limit."""

    def count_by_stage(self) -> dict[str, int]: ...
    def consents(self, code: str) -> list[Consent]: ...
    def add_consent(self, code: str, consent: Consent) -> None: ...
    def withdraw_consents(self, code: str, at: datetime) -> int: ...
    def training(self, code: str) -> list[TrainingRecord]: ...
    def enrol(self, code: str, module: str, at: datetime) -> bool: ...
    def complete(self, code: str, module: str, at: datetime) -> bool: ...
    def add_referral(self, code: str, referred_by: str, at: datetime, source: str) -> None: ...
    def referrer(self, code: str) -> str | None: ...
    def find(self, words: tuple[str, ...], limit: int) -> list[ContactMatch]:
        """People whose names or e-mail contain every folded word (queries.matches), in
        registration order, at most ``limit``; erased contacts never match."""


class StaffRepository(Protocol):
    def add(self, member: StaffMember) -> None: ...
    def get(self, code: str) -> StaffMember: ...
    def save(self, member: StaffMember) -> None: ...
    def by_email(self, email: str) -> StaffMember | None: ...
    def list(self, role: str | None = None) -> list[StaffMember]: ...
    def known(self, keys: Iterable[str]) -> dict[str, str]: ...


class ProgramRepository(Protocol):
    def add(self, program: Program) -> None: ...
    def get(self, code: str) -> Program: ...
    def list(self) -> list[Program]: ...
    def add_target(self, program_code: str, target: ProgramTarget) -> None:
        """Add a version of a target; ConcurrentUpdateError if another version of the
        indicator was added since the program was read (``target.version`` is not next)."""


class TeamRepository(Protocol):
    def add(self, team: QITeam) -> None: ...
    def get(self, code: str) -> QITeam: ...
    def list(self, stage: str | None = None) -> list[QITeam]: ...
    def save(self, team: QITeam) -> None: ...
    def advisor_count(self, code: str) -> int: ...
    def record_proposals(self, code: str, matches: Sequence[Match], at: datetime) -> None:
        """Keep ``matches`` as the team's last proposals, replacing the ones before."""

    def last_proposals(self, code: str) -> tuple[datetime | None, list[Match]]:
        """When the team's last proposals were made, and the proposals, best first."""


class EngagementRepository(Protocol):
    def add(self, engagement: Engagement) -> None: ...
    def get(self, code: str) -> Engagement: ...
    def for_advisor(self, code: str) -> list[Engagement]: ...
    def for_team(self, code: str) -> list[Engagement]: ...
    def save(self, engagement: Engagement) -> None: ...


class TrainingRepository(Protocol):
    def add(self, module: TrainingModule) -> None: ...
    def list(self, required_only: bool = False) -> list[TrainingModule]: ...


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


class ReferralBatch(Protocol):
    """Set-based reads and one bulk write for a large referral import."""

    def replayed(self, request_ids: Sequence[str]) -> dict[str, str]:
        """Map each request id already logged to the advisor code it logged."""

    def codes_taken(self, codes: Sequence[str]) -> set[str]: ...
    def add(self, referrals: Iterable[NewReferral], at: datetime) -> None:
        """Write every referral, registered at ``at``, with bulk inserts in the open
        transaction; a row refused by the database raises RegisteredMeanwhileError."""


class UnitOfWork(Protocol):
    advisors: AdvisorRepository
    staff: StaffRepository
    programs: ProgramRepository
    teams: TeamRepository
    engagements: EngagementRepository
    training: TrainingRepository
    transitions: TransitionRepository
    notifications: NotificationRepository
    surveys: SurveyRepository
    evaluations: EvaluationRepository
    decisions: DecisionRepository
    corrections: CorrectionRepository
    meetings: MeetingRepository
    pay: CompensationRepository
    responses: ResponseStore
    referral_batch: ReferralBatch

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


# -------------------------------- read models and stores built beside the unit of work


class SweepQueries(Protocol):
    def stalled(self, stage: str, before: datetime, now: datetime, limit: int) -> Found: ...
    def unanswered_surveys(self, before: datetime, now: datetime, limit: int) -> Found: ...
    def expiring_consents(self, now: datetime, until: datetime, limit: int) -> Found: ...
    def overdue_training(self, before: datetime, now: datetime, limit: int) -> Found: ...
    def due_survey_rounds(self, now: datetime) -> list[tuple[str, int]]: ...


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


class RetentionStore(Protocol):
    def erase_final_before(self, stage: str, before: datetime, now: datetime) -> tuple[int, int]:
        """Erase contacts of advisors in ``stage`` since before ``before``; returns
        (people erased, pending notifications cancelled)."""


class PrivacyStore(Protocol):
    def export(self, code: str) -> dict[str, Any]: ...
    def erase(self, code: str, now: datetime, actor: str) -> int: ...
    def add_incident(self, incident: dict[str, Any]) -> int: ...
    def incidents(self, since: date | None = None) -> list[dict[str, Any]]: ...


# ----------------------------------------------------------------------- notifications


class Outbox(Protocol):
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
    """What signing needs from ``settings.portal``."""

    signing_key: str
    previous_signing_keys: list[str]
    link_days: int


class HasPortal(Protocol):
    portal: PortalKeys
    portal_url: str
    environment: str

    @property
    def resolved_database_url(self) -> str: ...
