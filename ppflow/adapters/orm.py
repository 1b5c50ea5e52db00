"""SQLAlchemy 2.0 models. The schema itself is created only by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

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


# ------------------------------------------------------------------ personal data
#
# Which columns hold an advisor's personal data is declared here, once, on the columns:
# ``info=PERSONAL`` (erased to "" or NULL) or ``info=personal(value)`` (erased to that
# value). A table holding such a column says how its rows belong to an advisor with
# ``about_an_advisor(...)`` in its ``__table_args__``. The export, the erasure and the
# compaction of the database files all read their lists from this declaration
# (:func:`personal_columns`, :func:`rows_about`, :func:`erased_value`), and
# ``tests/integration/test_erasure.py`` fails on a personal column any of them would miss.
# Staff members' work addresses are not declared: the people this covers are advisors.

ERASED = "[erased]"
_UNSET = object()


def personal(erased_as: object = _UNSET) -> dict:
    """``info`` of a column holding personal data; erasure writes ``erased_as`` in it (by
    default "" for text, NULL where the column allows it)."""
    return {"personal": True} if erased_as is _UNSET else {"personal": True, "erased": erased_as}


PERSONAL = personal()


def about_an_advisor(tie: str | tuple[str | None, str], rows: bool = False) -> dict:
    """``__table_args__`` entry of a table with personal columns: how a row belongs to an
    advisor. ``tie`` is ``"advisor_id"`` (the advisor's row), ``"engagement_id"`` (one of
    their engagements), ``"transition_id"`` (a move of theirs or of their engagements), or
    ``(kind_column, code_column)``: the advisor's code, where the kind column (if any) says
    "advisor". ``rows``: erasure deletes the rows rather than blanking their columns."""
    return {"info": {"person": tie, "erase_rows": rows}}


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
    to NULL, which every backend lets repeat, and so the folded ``search_text``."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("uq_contacts_email_key", "email_key", unique=True),
        Index("uq_contacts_phone_key", "phone_key", unique=True),
        about_an_advisor("advisor_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), unique=True)
    first_name: Mapped[str] = mapped_column(String(200), info=personal(ERASED))
    last_name: Mapped[str] = mapped_column(String(200), info=personal(ERASED))
    email: Mapped[str] = mapped_column(String(320), index=True, info=PERSONAL)
    phone: Mapped[str] = mapped_column(String(40), default="", index=True, info=PERSONAL)
    language: Mapped[str] = mapped_column(String(2), default="fr")
    context: Mapped[str] = mapped_column(Text, default="", info=PERSONAL)
    email_key: Mapped[str | None] = mapped_column(String(320), info=PERSONAL)
    phone_key: Mapped[str | None] = mapped_column(String(40), info=PERSONAL)
    # The first name, last name and e-mail address without case or accents
    # (ppflow.services.queries.search_text), written with them, so that a search by name
    # is one query on both databases; NULL once erased.
    search_text: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
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
    __table_args__ = (about_an_advisor("advisor_id"),)
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
    reason: Mapped[str | None] = mapped_column(Text, info=personal(ERASED))
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
    __table_args__ = (about_an_advisor("transition_id", rows=True),)
    transition_id: Mapped[int] = mapped_column(ForeignKey("transitions.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, info=PERSONAL)


class CorrectionRow(Base):
    """A correction a coordinator made to a record (an advisor's contact or profile, a
    staff member, a team): which fields, who, when and why. The values themselves are not
    kept here, so the log holds no personal data beyond the reason, which erasure empties."""

    __tablename__ = "corrections"
    __table_args__ = (about_an_advisor(("entity", "code")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16), index=True)
    fields: Mapped[list] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="", info=PERSONAL)
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
    __table_args__ = (
        UniqueConstraint("team_id", "rank"),
        about_an_advisor("advisor_id", rows=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("qi_teams.id"))
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, info=PERSONAL)
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
    __table_args__ = (about_an_advisor(("recipient_kind", "recipient_code")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    recipient_kind: Mapped[str] = mapped_column(String(16))  # advisor | staff
    recipient_code: Mapped[str] = mapped_column(String(16), index=True)
    language: Mapped[str] = mapped_column(String(2))
    context: Mapped[dict] = mapped_column(JSON, default=dict, info=personal({}))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("transitions.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the dispatcher's claim token
    last_error: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _now()


class SurveyRequestRow(Base):
    """One questionnaire sent to one respondent about one engagement."""

    __tablename__ = "survey_requests"
    __table_args__ = (
        UniqueConstraint("engagement_id", "respondent_code", "round"),
        about_an_advisor(("respondent_kind", "respondent_code")),
    )
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
    answers: Mapped[dict | None] = mapped_column(JSON, info=personal({"erased": True}))
    score: Mapped[float | None] = mapped_column(Float)
    questionnaire_version: Mapped[int | None] = mapped_column(Integer)  # that was answered
    theme_scores: Mapped[dict | None] = mapped_column(JSON)  # per theme of the questionnaire
    # Ended because the advisor withdrew or their data was erased ("withdrawn", "erased"):
    # the link then takes no answer and says why.
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_because: Mapped[str | None] = mapped_column(String(16))


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    __table_args__ = (about_an_advisor("engagement_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), unique=True)
    criteria: Mapped[list] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="", info=PERSONAL)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class DecisionRow(Base):
    """A person's answer to a question a flow waits on. One answer per question wins."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "question"),
        about_an_advisor((None, "subject")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16), index=True)
    answer: Mapped[dict] = mapped_column(JSON, info=personal({"erased": True}))
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


# ------------------------------------------------------------ reading the declaration


class UndeclaredPersonError(LookupError):
    """A table has personal columns but no way to find the advisor its rows are about, or a
    personal column has no value erasure could write in it."""


def personal_columns(metadata: MetaData | None = None) -> list[tuple[Table, Column]]:
    """Every (table, column) declared personal, tables in dependency order."""
    metadata = metadata or Base.metadata
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.info.get("personal")
    ]


def personal_tables(metadata: MetaData | None = None) -> list[Table]:
    seen: dict[str, Table] = {}
    for table, _ in personal_columns(metadata):
        seen.setdefault(table.name, table)
    return list(seen.values())


def rows_about(table: Table, advisor_ids) -> ColumnElement[bool]:
    """The condition that selects the rows of ``table`` about these advisors (a list of
    advisor ids, or a subquery giving them), as the table declares it."""
    tie = table.info.get("person")
    if tie is None:
        raise UndeclaredPersonError(
            f"table {table.name} has personal columns but does not say which advisor a row "
            "is about (about_an_advisor in its __table_args__)"
        )
    tables = table.metadata.tables
    advisors, engagements = tables["advisors"], tables["engagements"]
    if table is advisors and tie == "id":
        return advisors.c.id.in_(advisor_ids)
    if tie == "advisor_id":
        return table.c.advisor_id.in_(advisor_ids)
    theirs = select(engagements.c.id).where(engagements.c.advisor_id.in_(advisor_ids))
    if tie == "engagement_id":
        return table.c.engagement_id.in_(theirs)
    codes = select(advisors.c.code).where(advisors.c.id.in_(advisor_ids))
    if tie == "transition_id":
        moves = tables["transitions"]
        engagement_codes = select(engagements.c.code).where(
            engagements.c.advisor_id.in_(advisor_ids)
        )
        of_them = select(moves.c.id).where(
            or_(
                and_(moves.c.entity == "advisor", moves.c.code.in_(codes)),
                and_(moves.c.entity == "engagement", moves.c.code.in_(engagement_codes)),
            )
        )
        return table.c.transition_id.in_(of_them)
    if isinstance(tie, tuple) and len(tie) == 2 and tie[1] in table.c:
        kind, column = tie
        condition = table.c[column].in_(codes)
        return condition if kind is None else and_(table.c[kind] == "advisor", condition)
    raise UndeclaredPersonError(f"table {table.name}: unknown tie to an advisor {tie!r}")


def erased_value(column: Column) -> object:
    """What erasure writes in a personal column: its declared value, else NULL where the
    column allows it, else "" for text. Any other column must declare one."""
    if "erased" in column.info:
        return column.info["erased"]
    if column.nullable:
        return None
    if isinstance(column.type, String):  # Text is a String too
        return ""
    raise UndeclaredPersonError(
        f"{column.table.name}.{column.name} is personal, but erasure has no value to write "
        "in it: declare one with personal(value), or erase its rows (about_an_advisor(..., "
        "rows=True))"
    )
