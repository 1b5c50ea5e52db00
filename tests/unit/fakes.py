"""In-memory adapters for the service layer's ports, so that the unit tests run the real
use cases in milliseconds.

They copy the behaviour of the SQL adapters that use cases depend on: a repository hands
out copies (what a use case changes is not stored until it saves it), ``save`` writes
only under the version it read (:class:`ConcurrentUpdateError` otherwise) and only the
columns the SQL ``save`` writes, an unknown code raises :class:`NotFoundError` with the
same kind, the unique indexes of the schema raise :class:`FakeIntegrityError` (as the
database's IntegrityError, not a ppflow error), a notification's idempotency key queues
once, and leaving a unit of work without ``commit()`` discards what it wrote.

``tests/integration/test_fakes_agree.py`` runs the same scenarios on these fakes and on
the SQLite unit of work, so that they cannot drift apart silently.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ppflow.domain.commands import AddProgram, AddStaff, AddTeam, Meta, RegisterReferral
from ppflow.domain.compensation import RateTier, fiscal_year_bounds
from ppflow.domain.errors import (
    AlreadyRegisteredError,
    ConcurrentUpdateError,
    DuplicateError,
    NotFoundError,
)
from ppflow.domain.lifecycle import EngagementStage
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
    StaffRole,
    SurveyRequest,
    TrainingModule,
    TrainingRecord,
    Transition,
)
from ppflow.services.feedback import ADVISOR_QUESTIONNAIRE, TEAM_QUESTIONNAIRE
from ppflow.services.ports import (
    ActivityEntry,
    AdvisorFilter,
    BudgetLine,
    ContactMatch,
    Delivery,
    EngagementPay,
    Expense,
    FixedClock,
    Found,
    NewNotification,
    NewReferral,
    OutboxEntry,
    Outcome,
    OutgoingEmail,
    PayeeTotal,
    PayEntry,
    PendingSurvey,
    Person,
    PoolEntry,
    RenderedEmail,
)
from ppflow.services.queries import matches
from ppflow.services.questionnaires import Questionnaire, parse
from ppflow.services.referral_import import RegisteredMeanwhileError


class FakeIntegrityError(Exception):
    """A unique index refused a row, as the database's IntegrityError does: it is not a
    ppflow error, so :func:`ppflow.services.moves.run_once` treats it as a lost race."""


# ---------------------------------------------------------------------- the tables


@dataclass
class NotificationRecord:
    id: int
    template: str
    recipient_kind: str
    recipient_code: str
    language: str
    context: dict[str, Any]
    idempotency_key: str
    transition_id: int | None
    next_attempt_at: datetime
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None
    lease_until: datetime | None = None
    claimed_by: str | None = None


@dataclass
class SurveyRecord:
    """One row of ``survey_requests``: the feedback repository and the portal's response
    store are two views of it, as in SQL."""

    request: SurveyRequest
    answers: dict | None = None
    theme_scores: dict | None = None
    questionnaire_version: int | None = None
    ended_because: str | None = None


@dataclass
class ActivityRecord:
    entry: ActivityEntry
    at: datetime
    actor: str


@dataclass
class ExpenseRecord:
    expense: Expense
    at: datetime
    actor: str


@dataclass
class Tables:
    """The fake database. Dicts keep insertion order, which stands for the row id."""

    advisors: dict[str, Advisor] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    consents: dict[str, list[Consent]] = field(default_factory=dict)
    training_records: dict[tuple[str, str], TrainingRecord] = field(default_factory=dict)
    referrals: list[tuple[str, str, datetime, str]] = field(default_factory=list)
    staff: dict[str, StaffMember] = field(default_factory=dict)
    programs: dict[str, Program] = field(default_factory=dict)
    teams: dict[str, QITeam] = field(default_factory=dict)
    engagements: dict[str, Engagement] = field(default_factory=dict)
    modules: dict[str, TrainingModule] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    surveys: list[SurveyRecord] = field(default_factory=list)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    tiers: list[tuple[RateTier, datetime, str]] = field(default_factory=list)
    activities: list[ActivityRecord] = field(default_factory=list)
    proposals: dict[str, tuple[datetime, list[Match]]] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    expenses: list[ExpenseRecord] = field(default_factory=list)
    declines: list[tuple[str, date, datetime, str]] = field(default_factory=list)
    budgets: dict[tuple[str, int], tuple[int, datetime, str]] = field(default_factory=dict)
    corrections: list[Correction] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)


def _unique(taken: bool, what: str) -> None:
    if taken:
        raise FakeIntegrityError(f"UNIQUE constraint failed: {what}")


def _need(found: Any, kind: str, code: str) -> Any:
    if not found:
        raise NotFoundError(kind, code)
    return found


def _versioned_save(stored: dict, label: str, entity, columns: Sequence[str]) -> None:
    """Write the columns only if the stored row still has the version the entity was read
    at, and bump it; otherwise nothing is written (as ``_versioned_update`` in SQL)."""
    row = stored.get(entity.code)
    if row is None or row.version != entity.version:
        raise ConcurrentUpdateError(f"{label} {entity.code}")
    for column in columns:
        setattr(row, column, copy.deepcopy(getattr(entity, column)))
    row.version = entity.version = entity.version + 1


# ---------------------------------------------------------------- the repositories


# What saving an advisor writes: every field but its code, its program (set once, at
# registration) and its version, as the SQL repository's ``ADVISOR_FIELDS``; a field added
# to ``Advisor`` is kept without a change here.
ADVISOR_SAVED = tuple(
    f.name for f in fields(Advisor) if f.name not in ("code", "program", "version")
)


class FakeAdvisors:
    def __init__(self, db: Tables):
        self.db = db

    def _known(self, code: str) -> None:
        _need(code in self.db.advisors, "advisor", code)

    def add(self, advisor: Advisor, contact: Contact) -> None:
        if advisor.program:
            _need(advisor.program in self.db.programs, "program", advisor.program)
        _unique(advisor.code in self.db.advisors, "advisors.code")
        existing = self.find_by_email_or_phone([contact.email], [contact.phone])
        if existing:  # the contacts' unique keys, as the SQL repository reports them
            codes = set(existing.values())
            raise AlreadyRegisteredError({c: self.db.advisors[c].stage for c in codes})
        self.db.advisors[advisor.code] = copy.deepcopy(advisor)
        self.db.contacts[advisor.code] = copy.deepcopy(contact)
        self.db.consents[advisor.code] = []

    def get(self, code: str) -> Advisor:
        return copy.deepcopy(_need(self.db.advisors.get(code), "advisor", code))

    def exists(self, code: str) -> bool:
        return code in self.db.advisors

    def contact(self, code: str) -> Contact:
        return copy.deepcopy(_need(self.db.contacts.get(code), "contact for advisor", code))

    def find_by_email_or_phone(
        self, emails: Iterable[str], phones: Iterable[str]
    ) -> dict[str, str]:
        emails = {e.lower() for e in emails if e}
        phones = {p for p in phones if p}
        found: dict[str, str] = {}
        for code, contact in self.db.contacts.items():
            if contact.email.lower() in emails:
                found[contact.email.lower()] = code
            if contact.phone and contact.phone in phones:
                found[contact.phone] = code
        return found

    def save(self, advisor: Advisor) -> None:
        _versioned_save(self.db.advisors, "advisor", advisor, ADVISOR_SAVED)

    def save_contact(self, code: str, contact: Contact) -> None:
        _need(self.db.contacts.get(code), "contact for advisor", code)
        existing = self.find_by_email_or_phone([contact.email], [contact.phone])
        others = {c for c in existing.values() if c != code}
        if others:  # the contacts' unique keys, as the SQL repository reports them
            raise AlreadyRegisteredError({c: self.db.advisors[c].stage for c in others})
        self.db.contacts[code] = copy.deepcopy(contact)

    def list(self, criteria: AdvisorFilter) -> list[PoolEntry]:
        entries = []
        for advisor in self.db.advisors.values():
            if criteria.stage and advisor.stage != criteria.stage:
                continue
            if criteria.language and criteria.language not in advisor.languages:
                continue
            if criteria.tags and not set(criteria.tags) <= set(advisor.tags):
                continue
            if criteria.skills and not set(criteria.skills) <= set(advisor.skills):
                continue
            if (
                criteria.available_hours is not None
                and advisor.availability_hours < criteria.available_hours
            ):
                continue
            active = sum(
                1
                for e in self.db.engagements.values()
                if e.advisor == advisor.code and e.stage == EngagementStage.ACTIVE
            )
            if criteria.max_load is not None and active > criteria.max_load:
                continue
            entries.append(PoolEntry(copy.deepcopy(advisor), active))
            if criteria.limit and len(entries) >= criteria.limit:
                break
        return entries

    def count(self, criteria: AdvisorFilter) -> int:
        return len(self.list(replace(criteria, limit=None)))

    def find(self, words: tuple[str, ...], limit: int) -> builtins.list[ContactMatch]:
        """As SQL, on the contacts in registration order (the fake has no erasure: the SQL
        one's exclusion of erased people is tested on the databases)."""
        found = []
        for code, c in self.db.contacts.items():
            if matches(words, c.first_name, c.last_name, c.email):
                stage = self.db.advisors[code].stage
                found.append(ContactMatch(code, stage, c.first_name, c.last_name, c.email))
                if len(found) >= limit:
                    break
        return found

    def count_by_stage(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for advisor in self.db.advisors.values():
            counts[advisor.stage] = counts.get(advisor.stage, 0) + 1
        return counts

    def consents(self, code: str) -> builtins.list[Consent]:
        self._known(code)
        return copy.deepcopy(self.db.consents[code])

    def add_consent(self, code: str, consent: Consent) -> None:
        self._known(code)
        self.db.consents[code].append(copy.deepcopy(consent))

    def withdraw_consents(self, code: str, at: datetime) -> int:
        self._known(code)
        open_ = [c for c in self.db.consents[code] if c.withdrawn_at is None]
        for consent in open_:
            consent.withdrawn_at = at
        return len(open_)

    def training(self, code: str) -> builtins.list[TrainingRecord]:
        self._known(code)
        records = [r for (a, _), r in self.db.training_records.items() if a == code]
        return copy.deepcopy(sorted(records, key=lambda r: r.module))

    def enrol(self, code: str, module: str, at: datetime) -> bool:
        self._known(code)
        _need(module in self.db.modules, "training module", module)
        if (code, module) in self.db.training_records:
            return False
        self.db.training_records[(code, module)] = TrainingRecord(module, at)
        return True

    def complete(self, code: str, module: str, at: datetime) -> bool:
        _need(module in self.db.modules, "training module", module)
        self._known(code)
        record = self.db.training_records.get((code, module))
        if record is None or record.completed_at is not None:
            return False
        record.completed_at = at
        return True

    def add_referral(self, code: str, referred_by: str, at: datetime, source: str) -> None:
        _need(referred_by in self.db.staff, "staff member", referred_by)
        self._known(code)
        self.db.referrals.append((code, referred_by, at, source))

    def referrer(self, code: str) -> str | None:
        return next((staff for a, staff, _, _ in self.db.referrals if a == code), None)


class FakeCorrections:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, correction: Correction) -> None:
        self.db.corrections.append(correction)

    def of(self, entity: str, code: str) -> list[Correction]:
        return [c for c in self.db.corrections if (c.entity, c.code) == (entity, code)]


class FakeMeetings:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, meeting: Meeting) -> None:
        _need(meeting.team in self.db.teams, "QI team", meeting.team)
        for code in meeting.present + meeting.absent:
            _need(code in self.db.advisors, "advisor", code)
        _unique(self.on(meeting.team, meeting.held_on) is not None, "meetings.team_id, held_on")
        self.db.meetings.append(
            replace(
                meeting,
                present=tuple(sorted(meeting.present)),
                absent=tuple(sorted(meeting.absent)),
            )
        )

    def on(self, team: str, day: date) -> Meeting | None:
        return next((m for m in self.db.meetings if (m.team, m.held_on) == (team, day)), None)

    def for_team(self, team: str, start: date | None, end: date | None) -> list[Meeting]:
        return sorted(
            (
                m
                for m in self.db.meetings
                if m.team == team
                and (start is None or m.held_on >= start)
                and (end is None or m.held_on <= end)
            ),
            key=lambda m: m.held_on,
        )


class FakeStaff:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, member: StaffMember) -> None:
        _unique(member.code in self.db.staff, "staff.code")
        _unique(any(s.email == member.email for s in self.db.staff.values()), "staff.email")
        self.db.staff[member.code] = copy.deepcopy(member)

    def get(self, code: str) -> StaffMember:
        return copy.deepcopy(_need(self.db.staff.get(code), "staff member", code))

    def save(self, member: StaffMember) -> None:
        _need(self.db.staff.get(member.code), "staff member", member.code)
        self.db.staff[member.code] = copy.deepcopy(member)

    def by_email(self, email: str) -> StaffMember | None:
        for member in self.db.staff.values():
            if member.email.lower() == email.lower():
                return copy.deepcopy(member)
        return None

    def list(self, role: str | None = None) -> list[StaffMember]:
        return [copy.deepcopy(s) for s in self.db.staff.values() if not role or s.role == role]

    def known(self, keys: Iterable[str]) -> dict[str, str]:
        keys = {k.strip() for k in keys if k and k.strip()}
        lowered = {k.lower() for k in keys}
        found: dict[str, str] = {}
        for member in self.db.staff.values():
            if member.code in keys or member.email.lower() in lowered:
                found[member.code] = member.code
                found[member.email.lower()] = member.code
        return found


class FakePrograms:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, program: Program) -> None:
        _unique(program.code in self.db.programs, "programs.code")
        for manager in program.responsible_managers:
            _need(manager in self.db.staff, "staff member", manager)
        self.db.programs[program.code] = copy.deepcopy(program)

    def _read(self, program: Program) -> Program:
        """As SQL reads it back: managers by code, targets by indicator and version."""
        read = copy.deepcopy(program)
        read.responsible_managers.sort()
        read.targets.sort(key=lambda t: (t.indicator, t.version))
        return read

    def get(self, code: str) -> Program:
        return self._read(_need(self.db.programs.get(code), "program", code))

    def list(self) -> list[Program]:
        return [self._read(p) for p in self.db.programs.values()]

    def add_target(self, program_code: str, target: ProgramTarget) -> None:
        program = _need(self.db.programs.get(program_code), "program", program_code)
        versions = [t.version for t in program.targets if t.indicator == target.indicator]
        latest = max(versions, default=0)
        if target.version != latest + 1:
            raise ConcurrentUpdateError(f"the target for {target.indicator} of {program_code}")
        program.targets.append(copy.deepcopy(target))


class FakeTeams:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, team: QITeam) -> None:
        if team.program:
            _need(team.program in self.db.programs, "program", team.program)
        if team.lead:
            _need(team.lead in self.db.staff, "staff member", team.lead)
        _unique(team.code in self.db.teams, "teams.code")
        self.db.teams[team.code] = copy.deepcopy(team)

    def get(self, code: str) -> QITeam:
        return copy.deepcopy(_need(self.db.teams.get(code), "QI team", code))

    def list(self, stage: str | None = None) -> list[QITeam]:
        return [copy.deepcopy(t) for t in self.db.teams.values() if not stage or t.stage == stage]

    def save(self, team: QITeam) -> None:
        _versioned_save(
            self.db.teams,
            "team",
            team,
            (
                "stage",
                "briefed_at",
                "objectives_set_at",
                "name",
                "lead",
                "advisor_seats",
                "languages",
                "focus_tags",
            ),
        )

    def advisor_count(self, code: str) -> int:
        return sum(
            1
            for e in self.db.engagements.values()
            if e.team == code and e.stage == EngagementStage.ACTIVE
        )

    def record_proposals(self, code: str, matches: Sequence[Match], at: datetime) -> None:
        _need(code in self.db.teams, "QI team", code)
        for m in matches:
            _need(m.advisor in self.db.advisors, "advisor", m.advisor)
        # as SQL: the score and the reasons are kept, not the lived experience they share
        self.db.proposals[code] = (at, [replace(m, shared=()) for m in matches])

    def last_proposals(self, code: str) -> tuple[datetime | None, builtins.list[Match]]:
        _need(code in self.db.teams, "QI team", code)
        return self.db.proposals.get(code, (None, []))


class FakeEngagements:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, engagement: Engagement) -> None:
        _need(engagement.advisor in self.db.advisors, "advisor", engagement.advisor)
        _need(engagement.team in self.db.teams, "QI team", engagement.team)
        _unique(engagement.code in self.db.engagements, "engagements.code")
        self.db.engagements[engagement.code] = copy.deepcopy(engagement)

    def get(self, code: str) -> Engagement:
        return copy.deepcopy(_need(self.db.engagements.get(code), "engagement", code))

    def for_advisor(self, code: str) -> list[Engagement]:
        return [copy.deepcopy(e) for e in self.db.engagements.values() if e.advisor == code]

    def for_team(self, code: str) -> list[Engagement]:
        return [copy.deepcopy(e) for e in self.db.engagements.values() if e.team == code]

    def save(self, engagement: Engagement) -> None:
        columns = ("stage", "start_date", "end_date", "joined_at", "reason")
        _versioned_save(self.db.engagements, "engagement", engagement, columns)


class FakeTraining:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, module: TrainingModule) -> None:
        _unique(module.code in self.db.modules, "training_modules.code")
        self.db.modules[module.code] = copy.deepcopy(module)

    def list(self, required_only: bool = False) -> list[TrainingModule]:
        modules = sorted(self.db.modules.values(), key=lambda m: m.code)
        return [copy.deepcopy(m) for m in modules if m.required or not required_only]


class FakeTransitions:
    """Append-only, as in SQL: there is no update or delete."""

    def __init__(self, db: Tables):
        self.db = db

    def add(self, transition: Transition) -> int:
        if transition.request_id is not None:
            taken = any(t.request_id == transition.request_id for t in self.db.transitions)
            _unique(taken, "transitions.request_id")
        self.db.transitions.append(transition)
        return len(self.db.transitions)

    def by_request_id(self, request_id: str) -> Transition | None:
        return next((t for t in self.db.transitions if t.request_id == request_id), None)

    def history(self, entity: str, code: str) -> list[Transition]:
        numbered = [
            (t.at, n, t)
            for n, t in enumerate(self.db.transitions)
            if t.entity == entity and t.code == code
        ]
        return [t for _, _, t in sorted(numbered, key=lambda x: (x[0], x[1]))]

    def after(
        self, position: int, made_before: datetime, limit: int
    ) -> list[tuple[int, Transition]]:
        numbered = enumerate(self.db.transitions, 1)
        found = [(n, t) for n, t in numbered if n > position and t.at < made_before][:limit]
        return [(n, replace(t, reason=None)) for n, t in found]

    def cursor(self, name: str) -> int:
        return self.db.cursors.get(name, 0)

    def move_cursor(self, name: str, position: int, at: datetime) -> None:
        self.db.cursors[name] = max(position, self.db.cursors.get(name, 0))


class FakeNotifications:
    def __init__(self, db: Tables):
        self.db = db

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
    ) -> bool:
        if any(n.idempotency_key == idempotency_key for n in self.db.notifications):
            return False
        self.db.notifications.append(
            NotificationRecord(
                id=len(self.db.notifications) + 1,
                template=template,
                recipient_kind=recipient_kind,
                recipient_code=recipient_code,
                language=language,
                context=copy.deepcopy(dict(context)),
                idempotency_key=idempotency_key,
                transition_id=transition_id,
                next_attempt_at=at,
            )
        )
        return True

    def link(self, idempotency_key: str, transition_id: int) -> None:
        for row in self.db.notifications:
            if row.idempotency_key == idempotency_key:
                row.transition_id = transition_id

    def cancel_pending(self, recipient_code: str, reason: str) -> int:
        cancelled = 0
        for row in self.db.notifications:
            if row.recipient_code == recipient_code and row.status in ("pending", "failed"):
                row.status, row.last_error = "dead", reason
                cancelled += 1
        return cancelled

    def templates_for(self, recipient_code: str) -> set[str]:
        return {n.template for n in self.db.notifications if n.recipient_code == recipient_code}


class FakeSurveys:
    def __init__(self, db: Tables):
        self.db = db

    def open(self, request: SurveyRequest) -> bool:
        _need(request.engagement in self.db.engagements, "engagement", request.engagement)
        for row in self.db.surveys:
            r = row.request
            if (r.engagement, r.respondent, r.round) == (
                request.engagement,
                request.respondent,
                request.round,
            ):
                return False
        _unique(any(s.request.token == request.token for s in self.db.surveys), "token")
        self.db.surveys.append(SurveyRecord(copy.deepcopy(request)))
        return True

    def for_engagement(self, code: str) -> list[SurveyRequest]:
        numbered = [
            (s.request.round, n, s.request)
            for n, s in enumerate(self.db.surveys)
            if s.request.engagement == code
        ]
        return [copy.deepcopy(r) for _, _, r in sorted(numbered, key=lambda x: x[:2])]

    def _row(self, token: str) -> SurveyRecord | None:
        return next((s for s in self.db.surveys if s.request.token == token), None)

    def by_token(self, token: str) -> SurveyRequest | None:
        row = self._row(token)
        return copy.deepcopy(row.request) if row else None

    def answer(self, token: str, answers: dict, score: float | None, at: datetime) -> bool:
        row = self._row(token)
        if row is None or row.request.answered_at is not None:
            return False
        row.answers = copy.deepcopy(answers)
        row.request.score, row.request.answered_at = score, at
        return True

    def mark_reminded(self, token: str, at: datetime) -> None:
        row = self._row(token)
        if row is not None:
            row.request.reminded_at = at
            row.request.reminders += 1


class FakeEvaluations:
    def __init__(self, db: Tables):
        self.db = db

    def add(self, evaluation: Evaluation) -> None:
        _need(evaluation.engagement in self.db.engagements, "engagement", evaluation.engagement)
        _unique(evaluation.engagement in self.db.evaluations, "evaluations.engagement_id")
        self.db.evaluations[evaluation.engagement] = copy.deepcopy(evaluation)

    def get(self, engagement: str) -> Evaluation | None:
        return copy.deepcopy(self.db.evaluations.get(engagement))


class FakeDecisions:
    def __init__(self, db: Tables):
        self.db = db

    def get(self, flow_run_id: str, question: str) -> Decision | None:
        key = (flow_run_id, question)
        return next((d for d in self.db.decisions if (d.flow_run_id, d.question) == key), None)

    def latest(self, subject: str, question: str) -> Decision | None:
        matching = [
            d
            for d in self.db.decisions
            if d.subject == subject
            and (d.question == question or d.question.startswith(f"{question}-"))
        ]
        return max(matching, key=lambda d: d.at, default=None)

    def add(self, decision: Decision) -> None:
        _unique(
            self.get(decision.flow_run_id, decision.question) is not None,
            "decisions.flow_run_id, decisions.question",
        )
        self.db.decisions.append(decision)


class FakeCompensation:
    def __init__(self, db: Tables):
        self.db = db

    def add_tier(self, tier: RateTier, at: datetime, actor: str) -> RateTier:
        for stored, _, _ in self.db.tiers:
            if (stored.activity, stored.effective_from) == (tier.activity, tier.effective_from):
                raise DuplicateError(
                    f"a tier for '{tier.activity}' already starts on {tier.effective_from}"
                )
        stored = replace(tier, id=len(self.db.tiers) + 1)
        self.db.tiers.append((stored, at, actor))
        return stored

    def tiers(self, activity: str | None = None) -> list[RateTier]:
        tiers = [t for t, _, _ in self.db.tiers if activity is None or t.activity == activity]
        return sorted(tiers, key=lambda t: (t.activity, t.effective_from))

    def _program(self, engagement: Engagement) -> str | None:
        """An engagement's program: its team's, or else its advisor's."""
        team = self.db.teams[engagement.team]
        return team.program or self.db.advisors[engagement.advisor].program

    def engagements(self, codes: Iterable[str]) -> dict[str, EngagementPay]:
        found = {}
        for code in set(codes):
            e = self.db.engagements.get(code)
            if e is not None:
                found[code] = EngagementPay(
                    code, e.advisor, str(e.stage), e.start_date, e.hourly_rate, self._program(e)
                )
        return found

    def logged_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        wanted = set(request_ids)
        return {a.entry.request_id for a in self.db.activities if a.entry.request_id in wanted}

    def _voided(self) -> set[int]:
        return {a.entry.voids for a in self.db.activities if a.entry.voids is not None}

    def logged_keys(self, pairs: Iterable[tuple[str, date]]) -> set[tuple]:
        wanted, voided = set(pairs), self._voided()
        return {
            (e.engagement, e.day, e.activity, e.centihours, e.note)
            for number, e in enumerate((a.entry for a in self.db.activities), 1)
            if (e.engagement, e.day) in wanted and e.voids is None and number not in voided
        }

    def add_activity(self, entry: ActivityEntry, at: datetime, actor: str) -> int:
        _need(entry.engagement in self.db.engagements, "engagement", entry.engagement)
        if entry.request_id is not None:
            _unique(
                entry.request_id in self.logged_request_ids([entry.request_id]),
                "activity_logs.request_id",
            )
        if entry.voids is not None and entry.voids in self._voided():
            raise DuplicateError(f"entry {entry.voids} was voided meanwhile by another entry")
        self.db.activities.append(ActivityRecord(entry, at, actor))
        return len(self.db.activities)

    def entries(self, engagement: str | None = None) -> list[PayEntry]:
        by = {a.entry.voids: n for n, a in enumerate(self.db.activities, 1) if a.entry.voids}
        found = []
        for n, record in enumerate(self.db.activities, 1):
            e = record.entry
            if engagement is None or e.engagement == engagement:
                found.append(
                    PayEntry(
                        n,
                        e.engagement,
                        e.day,
                        e.activity,
                        e.centihours,
                        e.amount_cents,
                        e.declined,
                        e.note,
                        record.at,
                        record.actor,
                        e.voids,
                        by.get(n),
                    )
                )
        return found

    def entry(self, entry_id: int) -> PayEntry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)

    def add_expense(self, expense: Expense, at: datetime, actor: str) -> int | None:
        if expense.request_id and any(
            e.expense.request_id == expense.request_id for e in self.db.expenses
        ):
            return None
        _need(expense.engagement in self.db.engagements, "engagement", expense.engagement)
        self.db.expenses.append(ExpenseRecord(expense, at, actor))
        return len(self.db.expenses)

    def declines(self, advisors: Iterable[str]) -> dict[str, list[date]]:
        result: dict[str, list[date]] = {code: [] for code in sorted(set(advisors))}
        for advisor, start, _, _ in self.db.declines:
            if advisor in result:
                result[advisor].append(start)
        return result

    def add_decline(self, advisor: str, effective_from: date, at: datetime, actor: str) -> bool:
        _need(advisor in self.db.advisors, "advisor", advisor)
        if any((a, d) == (advisor, effective_from) for a, d, _, _ in self.db.declines):
            return False
        self.db.declines.append((advisor, effective_from, at, actor))
        return True

    def waive_from(self, advisor: str, effective_from: date) -> int:
        _need(advisor in self.db.advisors, "advisor", advisor)
        waived = 0
        for row in self.db.activities:
            e = row.entry
            mine = self.db.engagements[e.engagement].advisor == advisor
            if mine and e.day >= effective_from and not e.declined:
                row.entry = replace(e, declined=True, amount_cents=0)
                waived += 1
        return waived

    def set_budget(
        self, program: str, year: int, amount_cents: int, at: datetime, actor: str
    ) -> None:
        _need(program in self.db.programs, "program", program)
        self.db.budgets[(program, year)] = (amount_cents, at, actor)

    def budget(self, program: str, year: int) -> int | None:
        found = self.db.budgets.get((program, year))
        return found[0] if found else None

    def _in_program(self, engagement: str, program: str) -> bool:
        return self._program(self.db.engagements[engagement]) == program

    def committed(self, program: str, start: date, end: date) -> int:
        owed = sum(
            a.entry.amount_cents
            for a in self.db.activities
            if start <= a.entry.day < end and self._in_program(a.entry.engagement, program)
        )
        spent = sum(
            x.expense.amount_cents
            for x in self.db.expenses
            if start <= x.expense.day < end and self._in_program(x.expense.engagement, program)
        )
        return owed + spent

    def _advisor_of(self, engagement: str) -> str:
        return self.db.engagements[engagement].advisor

    def payee_total(self, advisor: str, start: date, end: date) -> int:
        return sum(
            a.entry.amount_cents
            for a in self.db.activities
            if start <= a.entry.day < end and self._advisor_of(a.entry.engagement) == advisor
        )

    def payees(self, start: date, end: date) -> list[PayeeTotal]:
        totals: dict[str, PayeeTotal] = {}
        for a in self.db.activities:
            if not start <= a.entry.day < end:
                continue
            code = self._advisor_of(a.entry.engagement)
            t = totals.get(code) or PayeeTotal(code, 0, 0, 0, 0, False)
            totals[code] = replace(
                t,
                centihours=t.centihours + a.entry.centihours,
                owed_cents=t.owed_cents + a.entry.amount_cents,
                entries=t.entries + 1,
                declined=t.declined or a.entry.declined,
            )
        for x in self.db.expenses:
            if not start <= x.expense.day < end:
                continue
            code = self._advisor_of(x.expense.engagement)
            t = totals.get(code) or PayeeTotal(code, 0, 0, 0, 0, False)
            totals[code] = replace(t, expenses_cents=t.expenses_cents + x.expense.amount_cents)
        return [totals[code] for code in sorted(totals)]

    def engagement_total(self, engagement: str) -> PayeeTotal:
        advisor = _need(self.db.engagements.get(engagement), "engagement", engagement).advisor
        total = PayeeTotal(advisor, 0, 0, 0, 0, False)
        for a in self.db.activities:
            if a.entry.engagement == engagement:
                total = replace(
                    total,
                    centihours=total.centihours + a.entry.centihours,
                    owed_cents=total.owed_cents + a.entry.amount_cents,
                    entries=total.entries + 1,
                    declined=total.declined or a.entry.declined,
                )
        spent = sum(
            x.expense.amount_cents for x in self.db.expenses if x.expense.engagement == engagement
        )
        return replace(total, expenses_cents=spent)

    def coordinators(self) -> list[str]:
        return sorted(c for c, s in self.db.staff.items() if s.role == StaffRole.COORDINATOR)

    def budget_lines(self, year: int | None, start_month: int) -> list[BudgetLine]:
        lines = []
        for (program, fiscal), (amount, _, _) in sorted(self.db.budgets.items()):
            if year is not None and fiscal != year:
                continue
            start, end = fiscal_year_bounds(fiscal, start_month)
            lines.append(BudgetLine(program, fiscal, amount, self.committed(program, start, end)))
        return lines


class FakeResponses:
    """The portal's view of the survey requests."""

    def __init__(self, db: Tables):
        self.db = db

    @staticmethod
    def _pending(row: SurveyRecord) -> PendingSurvey:
        r = row.request
        return PendingSurvey(
            r.token,
            r.engagement,
            r.respondent_kind,
            r.respondent,
            r.round,
            r.questionnaire,
            r.answered_at,
            row.questionnaire_version,
            row.ended_because,
        )

    def by_token(self, token: str) -> PendingSurvey | None:
        row = next((s for s in self.db.surveys if s.request.token == token), None)
        return self._pending(row) if row else None

    def latest(self, engagement: str, respondent: str, round: int | None) -> PendingSurvey | None:
        rows = [
            s
            for s in self.db.surveys
            if s.request.engagement == engagement
            and s.request.respondent == respondent
            and (round is None or s.request.round == round)
        ]
        return self._pending(max(rows, key=lambda s: s.request.round)) if rows else None

    def record(
        self,
        token: str,
        answers: dict,
        version: int,
        score: float | None,
        theme_scores: dict[str, float],
        at: datetime,
    ) -> bool:
        row = next((s for s in self.db.surveys if s.request.token == token), None)
        if row is None or row.request.answered_at is not None or row.ended_because:
            return False
        row.answers, row.theme_scores = copy.deepcopy(answers), dict(theme_scores)
        row.questionnaire_version = version
        row.request.score, row.request.answered_at = score, at
        return True

    def language(self, survey: PendingSurvey) -> str | None:
        key = f"survey_request:{survey.engagement}:{survey.respondent}:{survey.round}"
        sent = next((n for n in self.db.notifications if n.idempotency_key == key), None)
        if sent and sent.language:
            return sent.language
        if survey.respondent_kind == "advisor":
            return self.advisor_language(survey.respondent)
        return None

    def advisor_language(self, advisor: str) -> str | None:
        contact = self.db.contacts.get(advisor)
        return contact.language if contact else None

    def advisor_erased(self, advisor: str) -> bool:
        contact = self.db.contacts.get(advisor)
        return bool(contact and contact.erased)

    def end_for(self, advisor: str, because: str, at: datetime) -> int:
        ended = 0
        for row in self.db.surveys:
            r = row.request
            if r.respondent_kind != "advisor" or r.respondent != advisor:
                continue
            if row.ended_because is None or because == "erased":
                row.ended_because = because
                ended += 1
        return ended


class FakeReferralBatch:
    """The bulk import's reads and writes, over the same tables as the repositories; a
    row the SQL schema's unique indexes refuse fails the whole write, as in SQL."""

    def __init__(self, db: Tables):
        self.db = db

    def replayed(self, request_ids: Sequence[str]) -> dict[str, str]:
        wanted = set(request_ids)
        return {t.request_id: t.code for t in self.db.transitions if t.request_id in wanted}

    def codes_taken(self, codes: Sequence[str]) -> set[str]:
        return set(codes) & self.db.advisors.keys()

    def add(self, referrals: Iterable[NewReferral], at: datetime) -> None:
        emails = {c.email.strip().lower() for c in self.db.contacts.values() if c.email}
        phones = {c.phone for c in self.db.contacts.values() if c.phone}
        request_ids = {t.request_id for t in self.db.transitions if t.request_id}
        keys = {n.idempotency_key for n in self.db.notifications}
        for r in referrals:
            a, c, t = r.advisor, r.contact, r.transition
            email = c.email.strip().lower()
            if (
                a.code in self.db.advisors
                or email in emails
                or (c.phone and c.phone in phones)
                or (t.request_id and t.request_id in request_ids)
                or any(n.idempotency_key in keys for n in r.notices)
            ):
                raise RegisteredMeanwhileError()
            _need(r.referrer in self.db.staff, "staff member", r.referrer)
            if a.program:
                _need(a.program in self.db.programs, "program", a.program)
            emails.add(email)
            phones.add(c.phone)
            if t.request_id:
                request_ids.add(t.request_id)
            self.db.advisors[a.code] = copy.deepcopy(a)
            self.db.contacts[a.code] = copy.deepcopy(c)
            self.db.consents[a.code] = []
            self.db.referrals.append((a.code, r.referrer, at, r.source))
            self.db.transitions.append(t)
            transition_id = len(self.db.transitions)
            for n in r.notices:
                keys.add(n.idempotency_key)
                self.db.notifications.append(
                    NotificationRecord(
                        id=len(self.db.notifications) + 1,
                        template=n.template,
                        recipient_kind=n.recipient_kind,
                        recipient_code=n.recipient_code,
                        language=n.language,
                        context=copy.deepcopy(n.context),
                        idempotency_key=n.idempotency_key,
                        transition_id=transition_id,
                        next_attempt_at=at,
                    )
                )


# ------------------------------------------------------------------- unit of work


class FakeUnitOfWork:
    """One transaction over :class:`Tables`. Entering takes a snapshot; leaving without
    ``commit()`` (or calling ``rollback()``) puts the snapshot back, so that a refused use
    case leaves no trace, as the SQL unit of work does."""

    def __init__(self, tables: Tables | None = None):
        self.tables = tables if tables is not None else Tables()
        self.committed = False  # whether the last unit of work entered committed
        self.commits = 0
        self._snapshot: Tables | None = None
        db = self.tables
        self.advisors = FakeAdvisors(db)
        self.staff = FakeStaff(db)
        self.programs = FakePrograms(db)
        self.teams = FakeTeams(db)
        self.engagements = FakeEngagements(db)
        self.training = FakeTraining(db)
        self.transitions = FakeTransitions(db)
        self.notifications = FakeNotifications(db)
        self.surveys = FakeSurveys(db)
        self.evaluations = FakeEvaluations(db)
        self.decisions = FakeDecisions(db)
        self.corrections = FakeCorrections(db)
        self.meetings = FakeMeetings(db)
        self.pay = FakeCompensation(db)
        self.responses = FakeResponses(db)
        self.referral_batch = FakeReferralBatch(db)
        # Stubs beside the tables: a test that needs one sets its own (see `holding`).
        self.privacy = FakePrivacyStore()
        self.retention = FakeRetentionStore()

    def __enter__(self) -> FakeUnitOfWork:
        self._snapshot = copy.deepcopy(self.tables)
        self.committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._snapshot is not None:  # what was not committed goes
            self._restore(self._snapshot)
        self._snapshot = None

    def commit(self) -> None:
        # The use cases commit last, so nothing is left to roll back: no second snapshot
        # (it would double the fake's cost, and the unit tier must stay quick).
        self._snapshot = None
        self.committed = True
        self.commits += 1

    def rollback(self) -> None:
        if self._snapshot is not None:
            self._restore(self._snapshot)
            self._snapshot = copy.deepcopy(self.tables)

    def _restore(self, snapshot: Tables) -> None:
        for column in fields(Tables):
            setattr(self.tables, column.name, getattr(snapshot, column.name))

    # ------------------------------------------------------- what the tests look at

    def queued(self, template: str | None = None) -> list[NotificationRecord]:
        return [n for n in self.tables.notifications if template in (None, n.template)]

    def log(self, entity: str | None = None) -> list[Transition]:
        return [t for t in self.tables.transitions if entity in (None, t.entity)]


# ----------------------------------------------------------- the dispatcher's ports


class FakeOutbox:
    """The outbox over the fake unit of work's notifications, claimed, renewed and settled
    as the SQL outbox does (lease, token, attempts). While ``unreachable``, renewing a
    lease fails as a lost database connection does."""

    def __init__(self, tables: Tables):
        self.db = tables
        self.renewals = 0
        self.unreachable = False

    @staticmethod
    def _entry(row: NotificationRecord) -> OutboxEntry:
        return OutboxEntry(
            id=row.id,
            template=row.template,
            recipient_kind=row.recipient_kind,
            recipient_code=row.recipient_code,
            language=row.language,
            context=copy.deepcopy(row.context),
            idempotency_key=row.idempotency_key,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            message_id=row.message_id,
            sent_at=row.sent_at,
            transition_id=row.transition_id,
        )

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, token: str
    ) -> list[OutboxEntry]:
        due = [
            r
            for r in self.db.notifications
            if (r.status == "pending" and r.next_attempt_at <= now)
            or (r.status == "sending" and r.lease_until is not None and r.lease_until < now)
        ]
        due.sort(key=lambda r: (r.next_attempt_at, r.id))
        for row in due[:limit]:
            row.status, row.lease_until, row.claimed_by = "sending", lease_until, token
            row.attempts += 1
        return [self._entry(r) for r in due[:limit]]

    def renew(self, token: str, lease_until: datetime) -> int:
        self.renewals += 1
        if self.unreachable:
            raise ConnectionError("the outbox cannot be reached")
        # as SQL: only the leases it lengthens are counted (a lease is never shortened)
        held = [
            r
            for r in self.db.notifications
            if r.claimed_by == token
            and r.status == "sending"
            and r.lease_until is not None
            and r.lease_until < lease_until
        ]
        for row in held:
            row.lease_until = lease_until
        return len(held)

    def settle(
        self,
        token: str,
        now: datetime,
        outcomes: Sequence[Outcome],
        notices: Sequence[NewNotification] = (),
    ) -> int:
        rows = {r.id: r for r in self.db.notifications}
        for outcome in outcomes:
            row = rows.get(outcome.id)
            if row is None or row.claimed_by != token or row.status != "sending":
                continue
            row.status, row.lease_until, row.claimed_by = outcome.status, None, None
            if outcome.status == "sent":
                row.sent_at, row.message_id = now, outcome.message_id
            else:
                row.last_error = outcome.error
                if outcome.status == "pending":
                    if outcome.next_attempt_at is None:  # the column is NOT NULL
                        raise FakeIntegrityError("notifications.next_attempt_at may not be null")
                    row.next_attempt_at = outcome.next_attempt_at
        queue = FakeNotifications(self.db)
        return sum(
            queue.queue(
                template=n.template,
                recipient_kind=n.recipient_kind,
                recipient_code=n.recipient_code,
                language=n.language,
                context=dict(n.context),
                idempotency_key=n.idempotency_key,
                at=now,
                transition_id=None,
            )
            for n in notices
        )


class FakeDirectory:
    """Recipients read from the fake tables at send time; ``erased`` names advisors whose
    personal data was erased."""

    def __init__(self, tables: Tables, erased: Iterable[str] = ()):
        self.db = tables
        self.erased = set(erased)

    def people(self, advisors: Iterable[str], staff: Iterable[str]) -> dict[str, Person]:
        found: dict[str, Person] = {}
        for code in set(advisors):
            contact = self.db.contacts.get(code)
            if contact is None:
                continue
            erased = code in self.erased
            found[code] = Person(
                code,
                "advisor",
                "" if erased else contact.first_name,
                "" if erased else contact.last_name,
                "" if erased else contact.email,
                contact.language,
                erased,
            )
        for code in set(staff):
            member = self.db.staff.get(code)
            if member is not None:
                found[code] = Person(code, "staff", member.name, "", member.email)
        return found

    def coordinators(self) -> list[Person]:
        return [
            Person(s.code, "staff", s.name, "", s.email)
            for s in self.db.staff.values()
            if s.role == StaffRole.COORDINATOR
        ]


class FakeRenderer:
    """Renders a subject naming the template, the language and the recipient's name;
    ``broken`` templates raise, as a template with an error does."""

    def __init__(self, broken: Iterable[str] = ()):
        self.broken = set(broken)

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        if template in self.broken:
            raise KeyError(f"'{template}' uses an undefined name")
        recipient = context["recipient"]
        subject = f"[{language}] {template} for {recipient.name}"
        return RenderedEmail(subject, f"{subject}\n", f"<p>{subject}</p>")


@dataclass
class FakeMailer:
    """Records every message it is given. A message to an address in ``refuse`` is
    refused for good (5xx), one to an address in ``defer`` fails for now (4xx). It sends
    over ``concurrency`` connections, each taking ``delay`` seconds a message; ``watch``
    is called with each message just before it goes out."""

    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    sent: list[OutgoingEmail] = field(default_factory=list)
    passes: int = 0
    concurrency: int = 1
    delay: float = 0.0
    watch: Callable[[OutgoingEmail], None] | None = None

    def __call__(self) -> FakeMailer:  # the dispatcher asks for a fresh mailer per pass
        return self

    async def __aenter__(self) -> FakeMailer:
        self.passes += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def stream(
        self, source: asyncio.Queue[OutgoingEmail | None], deliver: Callable[[Delivery], None]
    ) -> None:
        await asyncio.gather(*(self._connection(source, deliver) for _ in range(self.concurrency)))

    async def _connection(
        self, source: asyncio.Queue[OutgoingEmail | None], deliver: Callable[[Delivery], None]
    ) -> None:
        while (email := await source.get()) is not None:
            if self.watch is not None:
                self.watch(email)
            await asyncio.sleep(self.delay)
            if email.to_address in self.refuse:
                deliver(Delivery(email.key, False, True, f"550 {email.to_address} unknown"))
            elif email.to_address in self.defer:
                deliver(Delivery(email.key, False, False, "451 try again later"))
            else:
                self.sent.append(email)
                deliver(Delivery(email.key, True))
        source.put_nowait(None)  # the other connections see the end too


# ------------------------------------------------------------ read models and stores


@dataclass
class FakeSweepQueries:
    """Answers the sweeps' questions with what the test put in; records what was asked."""

    stalled_cases: dict[str, Found] = field(default_factory=dict)
    surveys: Found = field(default_factory=lambda: Found(0, []))
    consents: Found = field(default_factory=lambda: Found(0, []))
    training: Found = field(default_factory=lambda: Found(0, []))
    due_rounds: list[tuple[str, int]] = field(default_factory=list)
    asked: list[tuple] = field(default_factory=list)

    def stalled(self, stage: str, before: datetime, now: datetime, limit: int) -> Found:
        self.asked.append(("stalled", stage, before))
        return self.stalled_cases.get(stage, Found(0, []))

    def unanswered_surveys(self, before: datetime, now: datetime, limit: int) -> Found:
        self.asked.append(("survey", before))
        return self.surveys

    def expiring_consents(self, now: datetime, until: datetime, limit: int) -> Found:
        self.asked.append(("consent", until))
        return self.consents

    def overdue_training(self, before: datetime, now: datetime, limit: int) -> Found:
        self.asked.append(("training", before))
        return self.training

    def due_survey_rounds(self, now: datetime) -> list[tuple[str, int]]:
        return list(self.due_rounds)


@dataclass
class FakeRetentionStore:
    """Erases nothing; says how many people each stage had before each cut-off."""

    people: dict[str, int] = field(default_factory=dict)
    mail: int = 0
    asked: list[tuple[str, datetime]] = field(default_factory=list)

    def erase_final_before(self, stage: str, before: datetime, now: datetime) -> tuple[int, int]:
        self.asked.append((stage, before))
        return self.people.get(stage, 0), self.mail


@dataclass
class FakePrivacyStore:
    exports: dict[str, dict] = field(default_factory=dict)
    erased: list[tuple[str, datetime]] = field(default_factory=list)
    incident_rows: list[dict] = field(default_factory=list)

    def export(self, code: str) -> dict[str, Any]:
        return copy.deepcopy(_need(self.exports.get(code), "advisor", code))

    def erase(self, code: str, now, actor: str = "system") -> int:
        _need(code in self.exports, "advisor", code)
        self.erased.append((code, now))
        return 0

    def add_incident(self, incident: dict[str, Any]) -> int:
        self.incident_rows.append(dict(incident))
        return len(self.incident_rows)

    def incidents(self, since: date | None = None) -> list[dict[str, Any]]:
        return [i for i in self.incident_rows if since is None or i["occurred_on"] >= since]


# ------------------------------------------------------------------------ scenarios
# A small organization and advisors at a chosen stage, built through the use cases
# themselves, so that what a test starts from is what the program would have written.

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REQUIRED_MODULES = ("CONF-1", "PP-101")


@dataclass
class Organization:
    uow: FakeUnitOfWork
    clock: FixedClock
    coordinator: str
    referrer: str
    lead: str
    program: str
    team: str

    def later(self, **delta: float) -> datetime:
        """Move the clock on (``days=2``, ``hours=1``) and return the new time."""
        self.clock.moment += timedelta(**delta)
        return self.clock.moment


def organization(seats: int = 2, uow=None, clock: FixedClock | None = None) -> Organization:
    """Staff (a coordinator, a referring provider, a team lead), a program, two required
    training modules and an optional one, and a forming team; on a fresh fake unit of work
    unless given another (the SQL one, to check that the fakes agree with it)."""
    from ppflow.services import organization as org

    uow = FakeUnitOfWork() if uow is None else uow
    clock = clock or FixedClock(START)
    coordinator = org.add_staff(
        uow, AddStaff("Camille Roy", "camille.roy@example.org", "coordinator")
    ).code
    referrer = org.add_staff(uow, AddStaff("Dominique P", "dominique@example.org", "provider")).code
    lead = org.add_staff(
        uow, AddStaff("Sam Bouchard", "sam.bouchard@example.org", "front_line_manager")
    ).code
    program = org.add_program(uow, AddProgram("PP-CHU", "Partenariat", "Qualité"), clock).code
    for code in REQUIRED_MODULES:
        org.add_training_module(uow, TrainingModule(code, f"Module {code}"))
    org.add_training_module(uow, TrainingModule("QI-TOOLS", "Optional tools", required=False))
    team = org.add_team(
        uow, AddTeam("Urgence", program=program, lead=lead, advisor_seats=seats), clock
    ).code
    return Organization(uow, clock, coordinator, referrer, lead, program, team)


_people = iter(range(10_000))


def referral(o: Organization, **changes: Any) -> RegisterReferral:
    n = next(_people)
    values: dict[str, Any] = dict(
        first_name="Marie",
        last_name=f"Lavoie{n}",
        email=f"marie.{n}@example.org",
        referred_by=o.referrer,
        language="fr",
        tags=("cancer",),
        availability_hours=8,
        program=o.program,
    )
    values.update(changes)
    return RegisterReferral(**values)


ADVISOR_PATH = ("identified", "invited", "screening", "recruited", "preparing", "ready", "active")


def advisor_at(o: Organization, stage: str, **referral_changes: Any) -> str:
    """A new advisor walked through the use cases up to ``stage`` (one of ADVISOR_PATH)."""
    from ppflow.services import advisors as a
    from ppflow.services import integration

    meta = Meta(actor="coordinator")
    code = a.register_referral(o.uow, referral(o, **referral_changes), o.clock).code
    steps = [
        lambda: a.invite_advisor(o.uow, code, meta, o.clock),
        lambda: a.record_invitation_answer(o.uow, code, True, meta, o.clock),
        lambda: a.apply_screening_outcome(o.uow, code, "retained", meta, clock=o.clock),
        lambda: a.enrol_required_modules(o.uow, code, meta, o.clock),
        lambda: [a.complete_module(o.uow, code, m, meta, o.clock) for m in REQUIRED_MODULES],
        lambda: (
            integration.brief_team(o.uow, o.team, meta, o.clock),
            integration.confirm_match(o.uow, o.team, code, meta, clock=o.clock),
        ),
    ]
    for step in steps[: ADVISOR_PATH.index(stage)]:
        step()
    return code


# ---------------------------------------------------------------- questionnaires


def questionnaire(name: str, version: int = 1) -> Questionnaire:
    """A small questionnaire of two themes and an open question, in both languages."""
    both = {"fr": "texte", "en": "text"}
    return parse(
        {
            "name": name,
            "version": version,
            "title": both,
            "scale": {lang: ["1", "2", "3", "4", "5"] for lang in ("fr", "en")},
            "themes": [{"id": "respect", "title": both}, {"id": "influence", "title": both}],
            "items": [
                {"id": "res_heard", "theme": "respect", "type": "scale", "text": both},
                {"id": "res_valued", "theme": "respect", "type": "scale", "text": both},
                {"id": "inf_change", "theme": "influence", "type": "scale", "text": both},
                {"id": "comments", "type": "open", "text": both},
            ],
        },
        source=f"{name}.v{version}",
    )


class FakeQuestionnaires:
    """The questionnaire library, without files: every name the use cases ask for."""

    def __init__(self, *questionnaires: Questionnaire):
        self.known = {
            (q.name, q.version): q
            for q in questionnaires
            or (questionnaire(ADVISOR_QUESTIONNAIRE), questionnaire(TEAM_QUESTIONNAIRE))
        }

    def get(self, name: str, version: int | None = None) -> Questionnaire:
        versions = {v: q for (n, v), q in self.known.items() if n == name}
        if not versions:
            raise NotFoundError("questionnaire", name)
        chosen = max(versions) if version is None else version
        if chosen not in versions:
            raise NotFoundError("questionnaire version", f"{name} v{chosen}")
        return versions[chosen]


if TYPE_CHECKING:
    # `make typecheck` holds each fake to the port it stands for, as the SQL adapters are:
    # a fake that drifts from its protocol (a method missing, a signature changed) fails it.
    from ppflow.services.ports import (
        Directory,
        Mailer,
        Outbox,
        PrivacyStore,
        Renderer,
        RetentionStore,
        SweepQueries,
        UnitOfWork,
    )

    _tables = Tables()
    _uow: UnitOfWork = FakeUnitOfWork(_tables)
    _outbox: Outbox = FakeOutbox(_tables)
    _directory: Directory = FakeDirectory(_tables)
    _renderer: Renderer = FakeRenderer()
    _mailer: Mailer = FakeMailer()
    _sweeps: SweepQueries = FakeSweepQueries()
    _retention: RetentionStore = FakeRetentionStore()
    _privacy: PrivacyStore = FakePrivacyStore()
