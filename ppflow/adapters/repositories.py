"""SQLAlchemy repositories and the unit of work. They translate rows to domain objects."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, and_, cast, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ppflow.adapters.db import rows_changed
from ppflow.adapters.orm import (
    AdvisorRow,
    ConsentRow,
    ContactRow,
    CorrectionRow,
    CursorRow,
    DecisionRow,
    EngagementRow,
    EvaluationRow,
    MatchProposalRow,
    MeetingAttendanceRow,
    MeetingRow,
    NotificationRow,
    ProgramManagerRow,
    ProgramRow,
    ProgramTargetRow,
    ReferralRow,
    StaffRow,
    SurveyRequestRow,
    TeamRow,
    TrainingModuleRow,
    TrainingRecordRow,
    TransitionReasonRow,
    TransitionRow,
)
from ppflow.domain.errors import AlreadyRegisteredError, ConcurrentUpdateError, NotFoundError
from ppflow.domain.lifecycle import AdvisorStage, EngagementStage, TeamStage
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
    ParticipationRules,
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
from ppflow.services.ports import AdvisorFilter, ContactMatch, PoolEntry
from ppflow.services.queries import search_text

OPEN_ENGAGEMENT_STAGES = (EngagementStage.PROPOSED, EngagementStage.ACTIVE)


def _one(session: Session, row_type: type[Any], kind: str, code: str) -> Any:
    row = session.scalar(select(row_type).where(row_type.code == code))
    if row is None:
        raise NotFoundError(kind, code)
    return row


def _versioned_update(session: Session, row_type: type[Any], label: str, entity, **values) -> None:
    """Optimistic locking: write only if the row still has the version the entity was read
    at, and bump it; otherwise someone else changed it first and nothing is written."""
    read = entity.version
    result = session.execute(
        update(row_type)
        .where(row_type.code == entity.code, row_type.version == read)
        .values(version=read + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        raise ConcurrentUpdateError(f"{label} {entity.code}")
    entity.version = read + 1


# What the advisors table keeps of an Advisor: every field of the dataclass under its own
# name, but its program (a key to the programs table) and its version (the optimistic
# lock, which _versioned_update moves). A field added to Advisor is written, read and
# saved here once its column is in orm.py and a migration; a field without a column fails
# at the first write.
ADVISOR_FIELDS = tuple(f.name for f in fields(Advisor) if f.name not in ("program", "version"))
ADVISOR_LISTS = {f.name for f in fields(Advisor) if f.default_factory is list}
ADVISOR_STAGES = ("stage", "held_from")


def _advisor_values(advisor: Advisor) -> dict[str, Any]:
    return {name: getattr(advisor, name) for name in ADVISOR_FIELDS if name != "code"}


def _advisor(row: AdvisorRow, program: str | None = None) -> Advisor:
    values = {name: getattr(row, name) for name in ADVISOR_FIELDS}
    for name in ADVISOR_LISTS:
        values[name] = list(values[name] or [])
    for name in ADVISOR_STAGES:
        values[name] = AdvisorStage(values[name]) if values[name] else None
    return Advisor(**values, program=program, version=row.version)


class SqlAdvisors:
    def __init__(self, session: Session, savepoint: Callable[[], AbstractContextManager]):
        self.session = session
        self.savepoint = savepoint  # the unit of work's (see _as_one_person)

    def _row(self, code: str) -> AdvisorRow:
        return _one(self.session, AdvisorRow, "advisor", code)

    def _id(self, code: str) -> int:
        return self._row(code).id

    def add(self, advisor: Advisor, contact: Contact) -> None:
        program_id = None
        if advisor.program:
            program_id = _one(self.session, ProgramRow, "program", advisor.program).id
        row = AdvisorRow(
            code=advisor.code,
            program_id=program_id,
            version=advisor.version,
            **_advisor_values(advisor),
        )
        self.session.add(row)
        self.session.flush()

        def insert_contact() -> None:
            self.session.add(ContactRow(advisor_id=row.id, **_contact_values(contact)))
            self.session.flush()

        # the unique keys refuse a second contact for the same person: the insert is the
        # check, so two coordinators registering one person at once get one code
        self._as_one_person(contact, advisor.code, insert_contact)

    def get(self, code: str) -> Advisor:
        found = self.session.execute(
            select(AdvisorRow, ProgramRow.code)
            .outerjoin(ProgramRow, ProgramRow.id == AdvisorRow.program_id)
            .where(AdvisorRow.code == code)
        ).first()
        if found is None:
            raise NotFoundError("advisor", code)
        return _advisor(*found)

    def exists(self, code: str) -> bool:
        return self.session.scalar(select(AdvisorRow.id).where(AdvisorRow.code == code)) is not None

    def contact(self, code: str) -> Contact:
        row = self.session.scalar(
            select(ContactRow).join(AdvisorRow).where(AdvisorRow.code == code)
        )
        if row is None:
            raise NotFoundError("contact for advisor", code)
        return Contact(
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            language=row.language,
            context=row.context,
            erased=row.erased_at is not None,
        )

    def find_by_email_or_phone(
        self, emails: Iterable[str], phones: Iterable[str]
    ) -> dict[str, str]:
        """Map each e-mail (lower case) or phone already in the pool to its advisor code."""
        # a blank address has no key: it would match nobody
        emails = {key for e in emails if e and (key := contact_keys(e, "")[0])}
        phones = {p for p in phones if p}
        if not emails and not phones:
            return {}
        found: dict[str, str] = {}
        query = (
            select(ContactRow.email_key, ContactRow.phone_key, AdvisorRow.code)
            .join(AdvisorRow)
            .where(or_(ContactRow.email_key.in_(emails), ContactRow.phone_key.in_(phones)))
        )
        for email, phone, code in self.session.execute(query):
            if email in emails:
                found[email] = code
            if phone and phone in phones:
                found[phone] = code
        return found

    def save(self, advisor: Advisor) -> None:
        """Write the advisor (stage and profile) only if nobody changed them since they
        were read."""
        _versioned_update(
            self.session,
            AdvisorRow,
            "advisor",
            advisor,
            **_advisor_values(advisor),
        )

    def save_contact(self, code: str, contact: Contact) -> None:
        """Correct the person's contact: the contacts table only. Its unique keys refuse an
        address or phone another advisor has, naming them."""
        row = self.session.scalar(
            select(ContactRow).join(AdvisorRow).where(AdvisorRow.code == code)
        )
        if row is None:
            raise NotFoundError("contact for advisor", code)
        change = update(ContactRow).where(ContactRow.id == row.id)
        self._as_one_person(
            contact, code, lambda: self.session.execute(change.values(**_contact_values(contact)))
        )

    def _as_one_person(self, contact: Contact, code: str, write) -> None:
        """``write`` the contact; if the contacts' unique keys refuse it (the address or
        phone is another advisor's), say whose, with how to go on. The write is in a
        savepoint of the unit of work, so that the refused statement alone is undone and
        the transaction can still read whose they are (PostgreSQL refuses every statement
        of a transaction after an error); the error then ends the unit of work, which
        rolls back."""
        try:
            with self.savepoint():
                write()
        except IntegrityError as error:
            existing = self.find_by_email_or_phone([contact.email], [contact.phone])
            others = {c for c in existing.values() if c != code}
            if not others:
                raise
            raise AlreadyRegisteredError({c: self.get(c).stage for c in others}) from error

    def list(self, criteria: AdvisorFilter) -> builtins.list[PoolEntry]:
        """The advisors ``criteria`` selects, in registration order, at most its limit."""
        query = (
            self._pool(criteria, AdvisorRow, ProgramRow.code)
            .outerjoin(ProgramRow, ProgramRow.id == AdvisorRow.program_id)
            .order_by(AdvisorRow.id)
            .limit(criteria.limit)
        )
        return [
            PoolEntry(_advisor(row, program), active)
            for row, program, active in self.session.execute(query)
        ]

    def _pool(self, criteria: AdvisorFilter, *columns):
        """``columns`` of the advisors ``criteria`` selects, every filter in SQL (so that a
        page and its count are each one query). A JSON list holds a value when its text
        holds the value's JSON string (quotes included, so exactly that item), as written
        with or without escaped accents; instr() and strpos() are case-sensitive, as the
        filters are."""
        load = (
            select(func.count(EngagementRow.id))
            .where(
                EngagementRow.advisor_id == AdvisorRow.id,
                EngagementRow.stage == EngagementStage.ACTIVE,
            )
            .scalar_subquery()
        )
        position = func.instr if self.session.get_bind().dialect.name == "sqlite" else func.strpos

        def holds(column, value: str):
            listed = cast(column, Text)
            forms = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
            return or_(*(position(listed, form) > 0 for form in sorted(forms)))

        query = select(*columns, load.label("load")) if columns else select(AdvisorRow.id)
        if criteria.stage:
            query = query.where(AdvisorRow.stage == criteria.stage)
        if criteria.language:
            query = query.where(holds(AdvisorRow.languages, criteria.language))
        for tag in criteria.tags:
            query = query.where(holds(AdvisorRow.tags, tag))
        for skill in criteria.skills:
            query = query.where(holds(AdvisorRow.skills, skill))
        if criteria.available_hours is not None:
            query = query.where(AdvisorRow.availability_hours >= criteria.available_hours)
        if criteria.max_load is not None:
            query = query.where(load <= criteria.max_load)
        return query

    def count(self, criteria: AdvisorFilter) -> int:
        """How many advisors ``criteria`` selects, whatever its limit."""
        selected = self._pool(criteria).subquery()
        # COUNT without GROUP BY gives exactly one row.
        return self.session.execute(select(func.count()).select_from(selected)).scalar_one()

    def find(self, words: tuple[str, ...], limit: int) -> builtins.list[ContactMatch]:
        """One query on ``contacts.search_text``, the names and address folded by
        queries.search_text when they were written: case and accents are folded in
        Python, alike on SQLite and PostgreSQL (whose lower() and collations differ), and
        the database only looks for each folded word in it (LIKE, its wildcards escaped),
        at most ``limit`` people."""
        query = (
            select(
                AdvisorRow.code,
                AdvisorRow.stage,
                ContactRow.first_name,
                ContactRow.last_name,
                ContactRow.email,
            )
            .join(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
            .where(
                ContactRow.erased_at.is_(None),
                *(ContactRow.search_text.contains(word, autoescape=True) for word in words),
            )
            .order_by(AdvisorRow.id)
            .limit(limit)
        )
        return [
            ContactMatch(code, AdvisorStage(stage), first, last, email)
            for code, stage, first, last, email in self.session.execute(query)
        ]

    def count_by_stage(self) -> dict[str, int]:
        query = select(AdvisorRow.stage, func.count()).group_by(AdvisorRow.stage)
        return {stage: n for stage, n in self.session.execute(query)}

    def consents(self, code: str) -> builtins.list[Consent]:
        rows = self.session.scalars(
            select(ConsentRow)
            .where(ConsentRow.advisor_id == self._id(code))
            .order_by(ConsentRow.id)
        )
        return [
            Consent(r.purpose, r.wording_version, r.given_at, r.expires_at, r.withdrawn_at)
            for r in rows
        ]

    def add_consent(self, code: str, consent: Consent) -> None:
        self.session.add(
            ConsentRow(
                advisor_id=self._id(code),
                purpose=consent.purpose,
                wording_version=consent.wording_version,
                given_at=consent.given_at,
                expires_at=consent.expires_at,
                withdrawn_at=consent.withdrawn_at,
            )
        )

    def withdraw_consents(self, code: str, at: datetime) -> int:
        result = self.session.execute(
            update(ConsentRow)
            .where(ConsentRow.advisor_id == self._id(code), ConsentRow.withdrawn_at.is_(None))
            .values(withdrawn_at=at)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result)

    def training(self, code: str) -> builtins.list[TrainingRecord]:
        rows = self.session.execute(
            select(TrainingModuleRow.code, TrainingRecordRow)
            .join(TrainingRecordRow, TrainingRecordRow.module_id == TrainingModuleRow.id)
            .where(TrainingRecordRow.advisor_id == self._id(code))
            .order_by(TrainingModuleRow.code)
        )
        return [TrainingRecord(m, r.enrolled_at, r.completed_at) for m, r in rows]

    def enrol(self, code: str, module: str, at: datetime) -> bool:
        advisor_id = self._id(code)
        module_id = _one(self.session, TrainingModuleRow, "training module", module).id
        exists = self.session.scalar(
            select(TrainingRecordRow.id).where(
                TrainingRecordRow.advisor_id == advisor_id,
                TrainingRecordRow.module_id == module_id,
            )
        )
        if exists:
            return False
        self.session.add(
            TrainingRecordRow(advisor_id=advisor_id, module_id=module_id, enrolled_at=at)
        )
        self.session.flush()
        return True

    def complete(self, code: str, module: str, at: datetime) -> bool:
        module_id = _one(self.session, TrainingModuleRow, "training module", module).id
        result = self.session.execute(
            update(TrainingRecordRow)
            .where(
                TrainingRecordRow.advisor_id == self._id(code),
                TrainingRecordRow.module_id == module_id,
                TrainingRecordRow.completed_at.is_(None),
            )
            .values(completed_at=at)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1

    def add_referral(self, code: str, referred_by: str, at: datetime, source: str) -> None:
        staff_id = _one(self.session, StaffRow, "staff member", referred_by).id
        self.session.add(
            ReferralRow(
                advisor_id=self._id(code), referred_by_id=staff_id, referred_at=at, source=source
            )
        )

    def referrer(self, code: str) -> str | None:
        return self.session.scalar(
            select(StaffRow.code)
            .join(ReferralRow, ReferralRow.referred_by_id == StaffRow.id)
            .join(AdvisorRow, AdvisorRow.id == ReferralRow.advisor_id)
            .where(AdvisorRow.code == code)
            .order_by(ReferralRow.id)
            .limit(1)
        )


def _staff(row: StaffRow) -> StaffMember:
    return StaffMember(row.code, row.name, row.email, StaffRole(row.role), row.department)


class SqlStaff:
    def __init__(self, session: Session):
        self.session = session

    def add(self, member: StaffMember) -> None:
        self.session.add(
            StaffRow(
                code=member.code,
                name=member.name,
                email=member.email,
                role=str(member.role),
                department=member.department,
            )
        )
        self.session.flush()

    def get(self, code: str) -> StaffMember:
        return _staff(_one(self.session, StaffRow, "staff member", code))

    def save(self, member: StaffMember) -> None:
        row = _one(self.session, StaffRow, "staff member", member.code)
        row.name, row.email = member.name, member.email
        row.role, row.department = member.role.value, member.department
        self.session.flush()

    def by_email(self, email: str) -> StaffMember | None:
        row = self.session.scalar(
            select(StaffRow).where(func.lower(StaffRow.email) == email.lower())
        )
        return _staff(row) if row else None

    def list(self, role: str | None = None) -> builtins.list[StaffMember]:
        query = select(StaffRow).order_by(StaffRow.id)
        if role:
            query = query.where(StaffRow.role == role)
        return [_staff(r) for r in self.session.scalars(query)]

    def known(self, keys: Iterable[str]) -> dict[str, str]:
        """Map staff codes and e-mail addresses (lower case) to staff codes."""
        keys = {k.strip() for k in keys if k and k.strip()}
        lowered = {k.lower() for k in keys}
        found: dict[str, str] = {}
        query = select(StaffRow.code, func.lower(StaffRow.email)).where(
            or_(StaffRow.code.in_(keys), func.lower(StaffRow.email).in_(lowered))
        )
        for code, email in self.session.execute(query):
            found[code] = code
            found[email] = code
        return found


class SqlPrograms:
    def __init__(self, session: Session):
        self.session = session

    def add(self, program: Program) -> None:
        row = ProgramRow(
            code=program.code, name=program.name, owner_department=program.owner_department
        )
        self.session.add(row)
        self.session.flush()
        for manager in program.responsible_managers:
            staff_id = _one(self.session, StaffRow, "staff member", manager).id
            self.session.add(ProgramManagerRow(program_id=row.id, staff_id=staff_id))
        for target in program.targets:
            self.session.add(self._target_row(row.id, target))
        self.session.flush()

    @staticmethod
    def _target_row(program_id: int, target: ProgramTarget) -> ProgramTargetRow:
        row = ProgramTargetRow(
            program_id=program_id,
            indicator=target.indicator,
            target=target.target,
            period=target.period,
            version=target.version,
        )
        if target.set_at is not None:  # else the server's time
            row.created_at = target.set_at
        return row

    def add_target(self, program_code: str, target: ProgramTarget) -> None:
        # The program's row is locked (on PostgreSQL) so that two revisions of one
        # indicator are taken in turn; the second then finds the version taken.
        program = self.session.scalars(
            select(ProgramRow).where(ProgramRow.code == program_code).with_for_update()
        ).one_or_none()
        if program is None:
            raise NotFoundError("program", program_code)
        latest = self.session.scalar(
            select(func.max(ProgramTargetRow.version)).where(
                ProgramTargetRow.program_id == program.id,
                ProgramTargetRow.indicator == target.indicator,
            )
        )
        if target.version != (latest or 0) + 1:
            raise ConcurrentUpdateError(f"the target for {target.indicator} of {program_code}")
        self.session.add(self._target_row(program.id, target))
        self.session.flush()

    def _program(self, row: ProgramRow) -> Program:
        managers = self.session.scalars(
            select(StaffRow.code)
            .join(ProgramManagerRow, ProgramManagerRow.staff_id == StaffRow.id)
            .where(ProgramManagerRow.program_id == row.id)
            .order_by(StaffRow.code)
        )
        targets = self.session.scalars(
            select(ProgramTargetRow)
            .where(ProgramTargetRow.program_id == row.id)
            .order_by(ProgramTargetRow.indicator, ProgramTargetRow.version)
        )
        return Program(
            code=row.code,
            name=row.name,
            owner_department=row.owner_department,
            responsible_managers=list(managers),
            targets=[
                ProgramTarget(t.indicator, t.target, t.period, t.version, t.created_at)
                for t in targets
            ],
        )

    def get(self, code: str) -> Program:
        return self._program(_one(self.session, ProgramRow, "program", code))

    def list(self) -> builtins.list[Program]:
        rows = self.session.scalars(select(ProgramRow).order_by(ProgramRow.id))
        return [self._program(r) for r in rows]


class SqlTeams:
    def __init__(self, session: Session):
        self.session = session

    def _team(self, row: TeamRow) -> QITeam:
        program = lead = None
        if row.program_id is not None:
            program = self.session.get_one(ProgramRow, row.program_id).code
        if row.lead_id is not None:
            lead = self.session.get_one(StaffRow, row.lead_id).code
        return QITeam(
            code=row.code,
            name=row.name,
            program=program,
            lead=lead,
            stage=TeamStage(row.stage),
            advisor_seats=row.advisor_seats,
            rules=ParticipationRules(**(row.rules or {})),
            languages=list(row.languages or []),
            focus_tags=list(row.focus_tags or []),
            briefed_at=row.briefed_at,
            objectives_set_at=row.objectives_set_at,
            version=row.version,
        )

    def add(self, team: QITeam) -> None:
        program_id = lead_id = None
        if team.program:
            program_id = _one(self.session, ProgramRow, "program", team.program).id
        if team.lead:
            lead_id = _one(self.session, StaffRow, "staff member", team.lead).id
        self.session.add(
            TeamRow(
                code=team.code,
                name=team.name,
                program_id=program_id,
                lead_id=lead_id,
                stage=team.stage,
                advisor_seats=team.advisor_seats,
                rules=vars(team.rules).copy(),
                languages=team.languages,
                focus_tags=team.focus_tags,
                version=team.version,
            )
        )
        self.session.flush()

    def get(self, code: str) -> QITeam:
        return self._team(_one(self.session, TeamRow, "QI team", code))

    def list(self, stage: str | None = None) -> builtins.list[QITeam]:
        query = select(TeamRow).order_by(TeamRow.id)
        if stage:
            query = query.where(TeamRow.stage == stage)
        return [self._team(r) for r in self.session.scalars(query)]

    def save(self, team: QITeam) -> None:
        _versioned_update(
            self.session,
            TeamRow,
            "team",
            team,
            stage=team.stage,
            briefed_at=team.briefed_at,
            objectives_set_at=team.objectives_set_at,
            name=team.name,
            lead_id=_one(self.session, StaffRow, "staff member", team.lead).id
            if team.lead
            else None,
            advisor_seats=team.advisor_seats,
            languages=team.languages,
            focus_tags=team.focus_tags,
        )

    def advisor_count(self, code: str) -> int:
        return self.session.scalars(
            select(func.count(EngagementRow.id))
            .join(TeamRow, TeamRow.id == EngagementRow.team_id)
            .where(TeamRow.code == code, EngagementRow.stage == EngagementStage.ACTIVE)
        ).one()  # COUNT gives one row, even over none

    def record_proposals(self, code: str, matches: Sequence[Match], at: datetime) -> None:
        team = _one(self.session, TeamRow, "QI team", code)
        self.session.execute(delete(MatchProposalRow).where(MatchProposalRow.team_id == team.id))
        ids = dict(
            self.session.execute(
                select(AdvisorRow.code, AdvisorRow.id).where(
                    AdvisorRow.code.in_([m.advisor for m in matches])
                )
            ).all()
        )
        self.session.add_all(
            MatchProposalRow(
                team_id=team.id,
                advisor_id=ids[m.advisor],
                rank=rank,
                score=m.score,
                reasons=list(m.reasons),
                proposed_at=at,
            )
            for rank, m in enumerate(matches, 1)
        )
        self.session.flush()

    def last_proposals(self, code: str) -> tuple[datetime | None, builtins.list[Match]]:
        team = _one(self.session, TeamRow, "QI team", code)
        rows = self.session.execute(
            select(MatchProposalRow, AdvisorRow.code)
            .join(AdvisorRow, AdvisorRow.id == MatchProposalRow.advisor_id)
            .where(MatchProposalRow.team_id == team.id)
            .order_by(MatchProposalRow.rank)
        ).all()
        if not rows:
            return None, []
        return rows[0][0].proposed_at, [
            Match(advisor, row.score, tuple(row.reasons)) for row, advisor in rows
        ]


class SqlEngagements:
    def __init__(self, session: Session):
        self.session = session

    def _query(self):
        return (
            select(EngagementRow, AdvisorRow.code, TeamRow.code)
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .join(TeamRow, TeamRow.id == EngagementRow.team_id)
            .order_by(EngagementRow.id)
        )

    @staticmethod
    def _engagement(row: EngagementRow, advisor: str, team: str) -> Engagement:
        return Engagement(
            code=row.code,
            advisor=advisor,
            team=team,
            stage=EngagementStage(row.stage),
            role=row.role,
            start_date=row.start_date,
            end_date=row.end_date,
            hourly_rate=row.hourly_rate,
            joined_at=row.confirmed_at,
            reason=row.reason,
            version=row.version,
        )

    def add(self, engagement: Engagement) -> None:
        self.session.add(
            EngagementRow(
                code=engagement.code,
                advisor_id=_one(self.session, AdvisorRow, "advisor", engagement.advisor).id,
                team_id=_one(self.session, TeamRow, "QI team", engagement.team).id,
                stage=engagement.stage,
                role=engagement.role,
                start_date=engagement.start_date,
                end_date=engagement.end_date,
                hourly_rate=engagement.hourly_rate,
                confirmed_at=engagement.joined_at,
                reason=engagement.reason,
                version=engagement.version,
            )
        )
        self.session.flush()

    def get(self, code: str) -> Engagement:
        found = self.session.execute(self._query().where(EngagementRow.code == code)).first()
        if found is None:
            raise NotFoundError("engagement", code)
        return self._engagement(*found)

    def for_advisor(self, code: str) -> list[Engagement]:
        query = self._query().where(AdvisorRow.code == code)
        return [self._engagement(*r) for r in self.session.execute(query)]

    def for_team(self, code: str) -> list[Engagement]:
        query = self._query().where(TeamRow.code == code)
        return [self._engagement(*r) for r in self.session.execute(query)]

    def save(self, engagement: Engagement) -> None:
        _versioned_update(
            self.session,
            EngagementRow,
            "engagement",
            engagement,
            stage=engagement.stage,
            start_date=engagement.start_date,
            end_date=engagement.end_date,
            confirmed_at=engagement.joined_at,
            reason=engagement.reason,
        )


class SqlTraining:
    def __init__(self, session: Session):
        self.session = session

    def add(self, module: TrainingModule) -> None:
        self.session.add(
            TrainingModuleRow(code=module.code, title=module.title, required=module.required)
        )
        self.session.flush()

    def list(self, required_only: bool = False) -> builtins.list[TrainingModule]:
        query = select(TrainingModuleRow).order_by(TrainingModuleRow.code)
        if required_only:
            query = query.where(TrainingModuleRow.required.is_(True))
        return [TrainingModule(r.code, r.title, r.required) for r in self.session.scalars(query)]


def _contact_values(contact: Contact) -> dict[str, Any]:
    """A contact's columns, with its unique keys and the folded text a search reads."""
    email_key, phone_key = contact_keys(contact.email, contact.phone)
    return dict(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language,
        context=contact.context,
        email_key=email_key,
        phone_key=phone_key,
        search_text=search_text(contact.first_name, contact.last_name, contact.email),
    )


def contact_keys(email: str, phone: str) -> tuple[str | None, str | None]:
    """The unique keys of a contact: the address in lower case, the phone's digits (each
    None when empty, so that erased contacts and contacts without a phone never clash)."""
    return (email or "").strip().lower() or None, (phone or "").strip() or None


def _transition(row: TransitionRow, reason: str | None) -> Transition:
    return Transition(
        entity=row.entity,
        code=row.code,
        from_state=row.from_state,
        to_state=row.to_state,
        at=row.at,
        actor=row.actor,
        reason=reason,
        request_id=row.request_id,
        flow_run_id=row.flow_run_id,
    )


def _with_reasons(query):
    """A query of transitions, each with its reason (kept apart, where erasure reaches it)."""
    return query.add_columns(TransitionReasonRow.reason).outerjoin(
        TransitionReasonRow, TransitionReasonRow.transition_id == TransitionRow.id
    )


class SqlTransitions:
    """Append-only: there is deliberately no update or delete method."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, transition: Transition) -> int:
        row = TransitionRow(
            entity=transition.entity,
            code=transition.code,
            from_state=transition.from_state,
            to_state=transition.to_state,
            at=transition.at,
            actor=transition.actor,
            request_id=transition.request_id,
            flow_run_id=transition.flow_run_id,
        )
        self.session.add(row)
        self.session.flush()
        if transition.reason:
            self.session.add(TransitionReasonRow(transition_id=row.id, reason=transition.reason))
            self.session.flush()
        return row.id

    def by_request_id(self, request_id: str) -> Transition | None:
        found = self.session.execute(
            _with_reasons(select(TransitionRow)).where(TransitionRow.request_id == request_id)
        ).first()
        return _transition(*found) if found else None

    def history(self, entity: str, code: str) -> list[Transition]:
        rows = self.session.execute(
            _with_reasons(select(TransitionRow))
            .where(and_(TransitionRow.entity == entity, TransitionRow.code == code))
            .order_by(TransitionRow.at, TransitionRow.id)
        )
        return [_transition(row, reason) for row, reason in rows]

    def after(
        self, position: int, made_before: datetime, limit: int
    ) -> list[tuple[int, Transition]]:
        rows = self.session.scalars(
            select(TransitionRow)
            .where(TransitionRow.id > position, TransitionRow.at < made_before)
            .order_by(TransitionRow.id)
            .limit(limit)
        )
        return [(row.id, _transition(row, None)) for row in rows]

    def cursor(self, name: str) -> int:
        return self.session.scalar(select(CursorRow.position).where(CursorRow.name == name)) or 0

    def move_cursor(self, name: str, position: int, at: datetime) -> None:
        moved = self.session.execute(
            update(CursorRow)
            .where(CursorRow.name == name, CursorRow.position < position)
            .values(position=position, updated_at=at)
        )
        if rows_changed(moved) == 0 and self.session.get(CursorRow, name) is None:
            self.session.add(CursorRow(name=name, position=position, updated_at=at))
            self.session.flush()


class SqlNotifications:
    def __init__(self, session: Session):
        self.session = session

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
        """Queue one message; the same idempotency key twice makes one row."""
        exists = self.session.scalar(
            select(NotificationRow.id).where(NotificationRow.idempotency_key == idempotency_key)
        )
        if exists:
            return False
        self.session.add(
            NotificationRow(
                template=template,
                recipient_kind=recipient_kind,
                recipient_code=recipient_code,
                language=language,
                context=context,
                idempotency_key=idempotency_key,
                transition_id=transition_id,
                status="pending",
                next_attempt_at=at,
            )
        )
        self.session.flush()
        return True

    def link(self, idempotency_key: str, transition_id: int) -> None:
        """Tie a message queued just before its transition to that transition."""
        self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.idempotency_key == idempotency_key)
            .values(transition_id=transition_id)
            .execution_options(synchronize_session=False)
        )

    def cancel_pending(self, recipient_code: str, reason: str) -> int:
        """Unsent mail to this person will not go: it is marked dead with the reason."""
        result = self.session.execute(
            update(NotificationRow)
            .where(
                NotificationRow.recipient_code == recipient_code,
                NotificationRow.status.in_(("pending", "failed")),
            )
            .values(status="dead", last_error=reason)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result)

    def templates_for(self, recipient_code: str) -> set[str]:
        rows = self.session.scalars(
            select(NotificationRow.template).where(NotificationRow.recipient_code == recipient_code)
        )
        return set(rows)


def _survey(row: SurveyRequestRow, engagement: str) -> SurveyRequest:
    return SurveyRequest(
        engagement=engagement,
        respondent_kind=row.respondent_kind,
        respondent=row.respondent_code,
        round=row.round,
        questionnaire=row.questionnaire,
        token=row.token,
        opened_at=row.opened_at,
        reminders=row.reminders,
        reminded_at=row.reminded_at,
        answered_at=row.answered_at,
        score=row.score,
    )


class SqlSurveys:
    def __init__(self, session: Session):
        self.session = session

    def open(self, request: SurveyRequest) -> bool:
        """Open one questionnaire; opening the same one twice keeps the first."""
        engagement_id = _one(self.session, EngagementRow, "engagement", request.engagement).id
        exists = self.session.scalar(
            select(SurveyRequestRow.id).where(
                SurveyRequestRow.engagement_id == engagement_id,
                SurveyRequestRow.respondent_code == request.respondent,
                SurveyRequestRow.round == request.round,
            )
        )
        if exists:
            return False
        self.session.add(
            SurveyRequestRow(
                engagement_id=engagement_id,
                respondent_kind=request.respondent_kind,
                respondent_code=request.respondent,
                round=request.round,
                questionnaire=request.questionnaire,
                token=request.token,
                opened_at=request.opened_at,
            )
        )
        self.session.flush()
        return True

    def for_engagement(self, code: str) -> list[SurveyRequest]:
        rows = self.session.scalars(
            select(SurveyRequestRow)
            .join(EngagementRow, EngagementRow.id == SurveyRequestRow.engagement_id)
            .where(EngagementRow.code == code)
            .order_by(SurveyRequestRow.round, SurveyRequestRow.id)
        )
        return [_survey(r, code) for r in rows]

    def by_token(self, token: str) -> SurveyRequest | None:
        found = self.session.execute(
            select(SurveyRequestRow, EngagementRow.code)
            .join(EngagementRow, EngagementRow.id == SurveyRequestRow.engagement_id)
            .where(SurveyRequestRow.token == token)
        ).first()
        return _survey(*found) if found else None

    def answer(self, token: str, answers: dict, score: float | None, at: datetime) -> bool:
        """Record the answers once; a second answer to the same request changes nothing."""
        result = self.session.execute(
            update(SurveyRequestRow)
            .where(SurveyRequestRow.token == token, SurveyRequestRow.answered_at.is_(None))
            .values(answers=answers, score=score, answered_at=at)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1

    def mark_reminded(self, token: str, at: datetime) -> None:
        self.session.execute(
            update(SurveyRequestRow)
            .where(SurveyRequestRow.token == token)
            .values(reminded_at=at, reminders=SurveyRequestRow.reminders + 1)
            .execution_options(synchronize_session=False)
        )


class SqlEvaluations:
    def __init__(self, session: Session):
        self.session = session

    def add(self, evaluation: Evaluation) -> None:
        engagement_id = _one(self.session, EngagementRow, "engagement", evaluation.engagement).id
        self.session.add(
            EvaluationRow(
                engagement_id=engagement_id,
                criteria=evaluation.criteria,
                score=evaluation.score,
                notes=evaluation.notes,
                at=evaluation.at,
                actor=evaluation.actor,
            )
        )
        self.session.flush()

    def get(self, engagement: str) -> Evaluation | None:
        row = self.session.scalar(
            select(EvaluationRow)
            .join(EngagementRow, EngagementRow.id == EvaluationRow.engagement_id)
            .where(EngagementRow.code == engagement)
        )
        if row is None:
            return None
        return Evaluation(engagement, row.criteria, row.score, row.notes, row.at, row.actor)


class SqlDecisions:
    def __init__(self, session: Session):
        self.session = session

    def get(self, flow_run_id: str, question: str) -> Decision | None:
        row = self.session.scalar(
            select(DecisionRow).where(
                DecisionRow.flow_run_id == flow_run_id, DecisionRow.question == question
            )
        )
        return self._decision(row)

    def latest(self, subject: str, question: str) -> Decision | None:
        row = self.session.scalar(
            select(DecisionRow)
            .where(
                DecisionRow.subject == subject,
                (DecisionRow.question == question) | DecisionRow.question.like(f"{question}-%"),
            )
            .order_by(DecisionRow.at.desc())
            .limit(1)
        )
        return self._decision(row)

    @staticmethod
    def _decision(row: DecisionRow | None) -> Decision | None:
        if row is None:
            return None
        return Decision(row.flow_run_id, row.question, row.subject, row.answer, row.actor, row.at)

    def add(self, decision: Decision) -> None:
        self.session.add(
            DecisionRow(
                flow_run_id=decision.flow_run_id,
                question=decision.question,
                subject=decision.subject,
                answer=decision.answer,
                actor=decision.actor,
                at=decision.at,
            )
        )
        self.session.flush()


class SqlCorrections:
    def __init__(self, session: Session):
        self.session = session

    def add(self, correction: Correction) -> None:
        self.session.add(
            CorrectionRow(
                entity=correction.entity,
                code=correction.code,
                fields=list(correction.fields),
                actor=correction.actor,
                reason=correction.reason,
                at=correction.at,
            )
        )
        self.session.flush()

    def of(self, entity: str, code: str) -> list[Correction]:
        rows = self.session.scalars(
            select(CorrectionRow)
            .where(CorrectionRow.entity == entity, CorrectionRow.code == code)
            .order_by(CorrectionRow.id)
        )
        return [
            Correction(r.entity, r.code, tuple(r.fields), r.actor, r.reason, r.at) for r in rows
        ]


class SqlMeetings:
    def __init__(self, session: Session):
        self.session = session

    def add(self, meeting: Meeting) -> None:
        team = _one(self.session, TeamRow, "QI team", meeting.team)
        row = MeetingRow(
            team_id=team.id,
            held_on=meeting.held_on,
            sets_objectives=meeting.sets_objectives,
            actor=meeting.actor,
            recorded_at=meeting.recorded_at,
        )
        self.session.add(row)
        self.session.flush()
        for codes, present in ((meeting.present, True), (meeting.absent, False)):
            for code in codes:
                advisor = _one(self.session, AdvisorRow, "advisor", code)
                self.session.add(
                    MeetingAttendanceRow(meeting_id=row.id, advisor_id=advisor.id, present=present)
                )
        self.session.flush()

    def _meetings(self, team: str, *where) -> list[Meeting]:
        rows = self.session.execute(
            select(MeetingRow, TeamRow.code)
            .join(TeamRow, TeamRow.id == MeetingRow.team_id)
            .where(TeamRow.code == team, *where)
            .order_by(MeetingRow.held_on)
        ).all()
        calls: dict[int, dict[bool, list[str]]] = {r.id: {True: [], False: []} for r, _ in rows}
        if calls:
            for meeting_id, code, present in self.session.execute(
                select(
                    MeetingAttendanceRow.meeting_id, AdvisorRow.code, MeetingAttendanceRow.present
                )
                .join(AdvisorRow, AdvisorRow.id == MeetingAttendanceRow.advisor_id)
                .where(MeetingAttendanceRow.meeting_id.in_(list(calls)))
                .order_by(AdvisorRow.code)
            ):
                calls[meeting_id][present].append(code)
        return [
            Meeting(
                code,
                r.held_on,
                tuple(calls[r.id][True]),
                tuple(calls[r.id][False]),
                r.actor,
                r.recorded_at,
                r.sets_objectives,
            )
            for r, code in rows
        ]

    def on(self, team: str, day: date) -> Meeting | None:
        found = self._meetings(team, MeetingRow.held_on == day)
        return found[0] if found else None

    def for_team(self, team: str, start: date | None, end: date | None) -> list[Meeting]:
        where = []
        if start is not None:
            where.append(MeetingRow.held_on >= start)
        if end is not None:
            where.append(MeetingRow.held_on <= end)
        return self._meetings(team, *where)
