"""SQLAlchemy 2.0 models. The schema itself is created only by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; ppflow stores aware UTC timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), server_default=func.now())


class StaffRow(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _now()


class ProgramRow(Base):
    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_department: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()


class ProgramManagerRow(Base):
    __tablename__ = "program_managers"
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)


class ProgramTargetRow(Base):
    __tablename__ = "program_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    indicator: Mapped[str] = mapped_column(String(64))
    target: Mapped[float] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()


class AdvisorRow(Base):
    __tablename__ = "advisors"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    held_from: Mapped[str | None] = mapped_column(String(32))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    availability_hours: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    stage_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _now()


class ContactRow(Base):
    """Personal data, apart from the pseudonymous records. Erasing a person empties this row.

    ``email_key`` (the address in lower case) and ``phone_key`` (the digits) are unique: the
    database itself refuses a second contact for the same person, so that two coordinators
    registering one person at the same moment cannot give them two codes. Erasure sets both
    to NULL, which every backend lets repeat."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("uq_contacts_email_key", "email_key", unique=True),
        Index("uq_contacts_phone_key", "phone_key", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="", index=True)
    language: Mapped[str] = mapped_column(String(2), default="fr")
    context: Mapped[str] = mapped_column(Text, default="")
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone_key: Mapped[str | None] = mapped_column(String(40))
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReferralRow(Base):
    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    referred_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    referred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(32), default="cli")


class TeamRow(Base):
    __tablename__ = "qi_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    stage: Mapped[str] = mapped_column(String(32))
    advisor_seats: Mapped[int] = mapped_column(Integer, default=2)
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    focus_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    briefed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    objectives_set_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()


class EngagementRow(Base):
    __tablename__ = "engagements"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("qi_teams.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(64), default="member")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    hourly_rate: Mapped[float | None] = mapped_column(Float)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()


class ConsentRow(Base):
    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    wording_version: Mapped[str] = mapped_column(String(32))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TrainingModuleRow(Base):
    __tablename__ = "training_modules"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, default=True)


class TrainingRecordRow(Base):
    __tablename__ = "training_records"
    __table_args__ = (UniqueConstraint("advisor_id", "module_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("training_modules.id"))
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TransitionRow(Base):
    """Append-only log of every change of state (on PostgreSQL a trigger of the migration
    refuses UPDATE and DELETE).

    The structural indicators read the log by state (first entry into a state per code,
    entries into and exits from a state) and by time (moves in a period, moves since a
    moment); each of the three composite indexes covers its queries, so they read the
    index and never the table."""

    __tablename__ = "transitions"
    __table_args__ = (
        Index("ix_transitions_entity_to_state_code", "entity", "to_state", "code", "at"),
        Index("ix_transitions_entity_from_state_code", "entity", "from_state", "code", "at"),
        Index("ix_transitions_entity_at", "entity", "at", "to_state", "from_state", "code"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))


class TransitionReasonRow(Base):
    """The free-text reason of a transition. A reason can name a person or their health
    ("called from 514-555-…"), so it lives beside the append-only log, where erasure can
    remove it; the log keeps its codes, states and times."""

    __tablename__ = "transition_reasons"
    transition_id: Mapped[int] = mapped_column(ForeignKey("transitions.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)


class CorrectionRow(Base):
    """A correction a coordinator made to a record (an advisor's contact or profile, a
    staff member, a team): which fields, who, when and why. The values themselves are not
    kept here, so the log holds no personal data beyond the reason, which erasure empties."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16), index=True)
    fields: Mapped[list] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class MeetingRow(Base):
    """A meeting of a QI team, on a day: one a day per team, so that recording the same
    meeting twice cannot count its attendance twice (a second sitting on one day is
    recorded as one meeting). It names people by their advisor row only."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("team_id", "held_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("qi_teams.id"))
    held_on: Mapped[date] = mapped_column(Date)
    sets_objectives: Mapped[bool] = mapped_column(Boolean, default=False)
    actor: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MeetingAttendanceRow(Base):
    """The roll call of one meeting: each advisor of the team, present or absent."""

    __tablename__ = "meeting_attendance"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), primary_key=True, index=True)
    present: Mapped[bool] = mapped_column(Boolean)


class CursorRow(Base):
    """How far a reader of an append-only log has got: ``transition_events`` is the last
    transition announced as a Prefect event (or skipped, a flow's own)."""

    __tablename__ = "cursors"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MatchProposalRow(Base):
    """The last advisors proposed for a team, best first, with the score's reasons (which
    may name lived experience: erased with the advisor). A new proposal replaces them."""

    __tablename__ = "match_proposals"
    __table_args__ = (UniqueConstraint("team_id", "rank"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("qi_teams.id"))
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ErasureRow(Base):
    """One erasure of a person's data: who asked, when, and which kinds of data went. It
    holds the advisor's code and nothing personal."""

    __tablename__ = "erasures"
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_code: Mapped[str] = mapped_column(String(16), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list] = mapped_column(JSON, default=list)


class NotificationRow(Base):
    """The outbox: written in the same transaction as the change that causes it."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    recipient_kind: Mapped[str] = mapped_column(String(16))  # advisor | staff
    recipient_code: Mapped[str] = mapped_column(String(16), index=True)
    language: Mapped[str] = mapped_column(String(2))
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("transitions.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the dispatcher's claim token
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _now()


class SurveyRequestRow(Base):
    """One questionnaire sent to one respondent about one engagement."""

    __tablename__ = "survey_requests"
    __table_args__ = (UniqueConstraint("engagement_id", "respondent_code", "round"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    respondent_kind: Mapped[str] = mapped_column(String(16))  # advisor | staff
    respondent_code: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    questionnaire: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answers: Mapped[dict | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    questionnaire_version: Mapped[int | None] = mapped_column(Integer)  # that was answered
    theme_scores: Mapped[dict | None] = mapped_column(JSON)  # per theme of the questionnaire


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), unique=True)
    criteria: Mapped[list] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class DecisionRow(Base):
    """A person's answer to a question a flow waits on. One answer per question wins."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("flow_run_id", "question"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16), index=True)
    answer: Mapped[dict] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class IncidentRow(Base):
    """The register of confidentiality incidents (kept 5 years, as Law 25 expects)."""

    __tablename__ = "confidentiality_incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    circumstances: Mapped[str] = mapped_column(Text)
    data_concerned: Mapped[str] = mapped_column(Text)
    people_affected: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    measures: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))
    keep_until: Mapped[date] = mapped_column(Date)
