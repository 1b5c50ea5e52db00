"""SQL for the rights of the people ppflow serves: export everything about one advisor,
erase their personal data, and keep the register of confidentiality incidents."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, or_, select, text, update
from sqlalchemy.orm import Session

from ppflow.adapters.db import rows_changed, table_of
from ppflow.adapters.email.maildir import remove_messages_about
from ppflow.adapters.orm import (
    AdvisorRow,
    ConsentRow,
    ContactRow,
    CorrectionRow,
    DecisionRow,
    EngagementRow,
    ErasureRow,
    EvaluationRow,
    IncidentRow,
    MatchProposalRow,
    NotificationRow,
    ReferralRow,
    StaffRow,
    SurveyRequestRow,
    TeamRow,
    TrainingModuleRow,
    TrainingRecordRow,
    TransitionReasonRow,
    TransitionRow,
    UndeclaredPersonError,
    erased_value,
    personal_columns,
    personal_tables,
    rows_about,
)
from ppflow.adapters.orm_compensation import ActivityLogRow, ExpenseRow
from ppflow.adapters.portal_store import end_survey_requests
from ppflow.domain.errors import NotFoundError
from ppflow.services.portal import ERASED

log = logging.getLogger("ppflow.privacy")
INCIDENT_COLUMNS = [column.key for column in IncidentRow.__table__.columns]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(session: Session, query) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in session.execute(query)]


# What an erasure removes, as its entry in the erasures table names it.
CATEGORIES = (
    "contact",  # names, e-mail address, phone, free-text context
    "reasons",  # the free text of the person's transitions and engagements
    "survey_answers",
    "decisions",  # the answers coordinators gave about them (they may quote a reason)
    "messages",  # the contents of their outbox rows; unsent mail is cancelled
    "pay_notes",  # notes on hours and receipts' descriptions
    "match_proposals",  # the reasons a match named (lived experience)
    "corrections",  # the reasons given for correcting their record
)


def erase_personal_columns(session: Session, advisor_ids) -> None:
    """Every column declared personal (``info`` in the ORM), in the rows about these
    advisors, takes its erased value; a table declared so loses those rows."""
    quiet = {"synchronize_session": False}
    for table in personal_tables():
        about = rows_about(table, advisor_ids)
        if table.info.get("erase_rows"):
            session.execute(delete(table).where(about).execution_options(**quiet))
            continue
        for column in (c for t, c in personal_columns() if t is table):
            value = erased_value(column)
            session.execute(
                update(table)
                .where(about, column.is_not(None))
                .values({column.name: value})
                .execution_options(**quiet)
            )


def erase_people(
    session: Session, advisor_ids, now: datetime, actor: str = "system"
) -> tuple[list[Erased], int]:
    """Erase the personal data of these advisors (ids as a list or a subquery), and write
    one entry per person in ``erasures`` (who, when, which categories; no personal data).
    Their unsent mail is cancelled and their survey links end. Returns (the people erased,
    messages cancelled). The log keeps its codes, states and times.

    Erasing a person already erased does it all again: whatever came in since (an answer,
    a note) goes too."""
    people = session.execute(
        select(
            AdvisorRow.id,
            AdvisorRow.code,
            ContactRow.first_name,
            ContactRow.last_name,
            ContactRow.email,
            ContactRow.erased_at,
        )
        .outerjoin(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
        .where(AdvisorRow.id.in_(advisor_ids))
    ).all()
    if not people:
        return [], 0
    ids = [row.id for row in people]
    erased = [row.code for row in people]
    quiet = {"synchronize_session": False}
    erase_personal_columns(session, ids)
    session.execute(
        update(ContactRow)
        .where(ContactRow.advisor_id.in_(ids), ContactRow.erased_at.is_(None))
        .values(erased_at=now)
        .execution_options(**quiet)
    )
    end_survey_requests(session, erased, ERASED, now)
    cancelled = rows_changed(
        session.execute(
            update(NotificationRow)
            .where(
                NotificationRow.recipient_kind == "advisor",
                NotificationRow.recipient_code.in_(erased),
                NotificationRow.status.in_(("pending", "failed")),
            )
            .values(status="dead", last_error="recipient's personal data erased")
            .execution_options(**quiet)
        )
    )
    session.add_all(
        ErasureRow(advisor_code=code, at=now, actor=actor, categories=list(CATEGORIES))
        for code in erased
    )
    # what identifies each person in a message, for the mail sink's copies (see forget);
    # once erased, only their code is left to find them by
    found = [
        Erased(
            row.code,
            ()
            if row.erased_at is not None or row.first_name is None
            else (f"{row.first_name} {row.last_name}".strip(), row.last_name, row.email),
        )
        for row in people
    ]
    return found, cancelled


@dataclass(frozen=True)
class Erased:
    code: str
    mentions: tuple[str, ...]  # the name and address the person had, to find their mail


def forget(engine: Engine, erased: list[Erased], maildir: Path | None) -> None:
    """After an erasure has committed: no readable copy in the database files, nor in the
    mail sink's Maildir. The stores queue it on the unit of work, which runs it once its
    commit has succeeded (a rolled-back erasure leaves the files alone)."""
    if not erased:
        return
    compact(engine)
    if maildir is not None:
        for person in erased:
            remove_messages_about(maildir, person.code, person.mentions)


AfterCommit = Callable[[Callable[[], None]], None]


def compact(engine: Engine) -> None:
    """Leave no readable copy of erased rows in the database files: PostgreSQL rewrites
    every table with a personal column, as the ORM declares them (VACUUM FULL: old row
    versions stay in the heap, its indexes and its TOAST until then); SQLite writes the WAL
    back into the file and rebuilds it (VACUUM; secure_delete is on, so freed pages are
    zeroed). PostgreSQL's WAL and its backups keep old pages until they are recycled: see
    the README's privacy section."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            _wait_for_older_transactions(connection)
            preparer = engine.dialect.identifier_preparer
            names = ", ".join(preparer.quote(name) for name in compacted_tables())
            connection.exec_driver_sql(f"VACUUM FULL {names}")
        elif engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("VACUUM")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


OLDER_TRANSACTIONS_WAIT = (150, 0.2)  # polls, seconds apart


def _wait_for_older_transactions(connection) -> bool:
    """VACUUM FULL keeps a dead row version that a transaction begun before the erasure
    could still see. Wait (30 s at most) until every such transaction in this database has
    ended; returns False if one is still running, in which case its rows go at the next
    compaction (the next erasure, or VACUUM FULL by hand)."""
    since = connection.exec_driver_sql("SELECT clock_timestamp()").scalar()
    older = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL AND xact_start < :since"
    )
    polls, pause = OLDER_TRANSACTIONS_WAIT
    for _ in range(polls):
        if not connection.execute(older, {"since": since}).scalar():
            return True
        time.sleep(pause)
    log.warning("erasure: a transaction older than the erasure still runs; compacting anyway")
    return False


def compacted_tables() -> list[str]:
    """The tables whose files compaction rewrites on PostgreSQL: every table with a
    personal column."""
    return [table.name for table in personal_tables()]


def _engagements_of(ids):
    return select(EngagementRow.id).where(EngagementRow.advisor_id.in_(ids))


# The export's section for each table with personal columns: its name, and the query of
# the person's rows (given a list of advisor ids) to which the declared personal columns
# of the table are added.
EXPORT_SECTIONS: dict[str, tuple[str, Callable[[list[int]], Select]]] = {
    "contacts": (
        "contact",
        lambda ids: select(ContactRow.language, ContactRow.erased_at).where(
            rows_about(table_of(ContactRow), ids)
        ),
    ),
    "engagements": (
        "engagements",
        lambda ids: (
            select(
                EngagementRow.code,
                TeamRow.code.label("team"),
                EngagementRow.stage,
                EngagementRow.role,
                EngagementRow.start_date,
                EngagementRow.end_date,
                EngagementRow.hourly_rate,
            )
            .join(TeamRow, TeamRow.id == EngagementRow.team_id)
            .where(rows_about(table_of(EngagementRow), ids))
            .order_by(EngagementRow.id)
        ),
    ),
    "evaluations": (
        "evaluations",
        lambda ids: (
            select(
                EngagementRow.code.label("engagement"),
                EvaluationRow.criteria,
                EvaluationRow.score,
                EvaluationRow.at,
                EvaluationRow.actor,
            )
            .join(EngagementRow, EngagementRow.id == EvaluationRow.engagement_id)
            .where(rows_about(table_of(EvaluationRow), ids))
            .order_by(EvaluationRow.id)
        ),
    ),
    "survey_requests": (
        "questionnaires",
        lambda ids: (
            select(
                EngagementRow.code.label("engagement"),
                SurveyRequestRow.questionnaire,
                SurveyRequestRow.round,
                SurveyRequestRow.opened_at,
                SurveyRequestRow.answered_at,
                SurveyRequestRow.ended_because,
            )
            .join(EngagementRow, EngagementRow.id == SurveyRequestRow.engagement_id)
            .where(rows_about(table_of(SurveyRequestRow), ids))
            .order_by(SurveyRequestRow.id)
        ),
    ),
    # every move of the person and of their engagements, with its reason where it has one
    "transition_reasons": (
        "history",
        lambda ids: (
            select(
                TransitionRow.entity,
                TransitionRow.code,
                TransitionRow.from_state,
                TransitionRow.to_state,
                TransitionRow.at,
                TransitionRow.actor,
            )
            .outerjoin(TransitionReasonRow, TransitionReasonRow.transition_id == TransitionRow.id)
            .where(
                or_(
                    and_(
                        TransitionRow.entity == "advisor",
                        TransitionRow.code.in_(
                            select(AdvisorRow.code).where(AdvisorRow.id.in_(ids))
                        ),
                    ),
                    and_(
                        TransitionRow.entity == "engagement",
                        TransitionRow.code.in_(
                            select(EngagementRow.code).where(EngagementRow.advisor_id.in_(ids))
                        ),
                    ),
                )
            )
            .order_by(TransitionRow.at, TransitionRow.id)
        ),
    ),
    "notifications": (
        "messages",
        lambda ids: (
            select(
                NotificationRow.template,
                NotificationRow.language,
                NotificationRow.status,
                NotificationRow.created_at,
                NotificationRow.sent_at,
            )
            .where(rows_about(table_of(NotificationRow), ids))
            .order_by(NotificationRow.id)
        ),
    ),
    "decisions": (
        "decisions",
        lambda ids: (
            select(DecisionRow.question, DecisionRow.actor, DecisionRow.at)
            .where(rows_about(table_of(DecisionRow), ids))
            .order_by(DecisionRow.at, DecisionRow.id)
        ),
    ),
    "corrections": (
        "corrections",
        lambda ids: (
            select(CorrectionRow.fields, CorrectionRow.actor, CorrectionRow.at)
            .where(rows_about(table_of(CorrectionRow), ids))
            .order_by(CorrectionRow.at, CorrectionRow.id)
        ),
    ),
    "match_proposals": (
        "match_proposals",
        lambda ids: (
            select(
                TeamRow.code.label("team"),
                MatchProposalRow.rank,
                MatchProposalRow.score,
                MatchProposalRow.proposed_at,
            )
            .join(TeamRow, TeamRow.id == MatchProposalRow.team_id)
            .where(rows_about(table_of(MatchProposalRow), ids))
            .order_by(MatchProposalRow.proposed_at, MatchProposalRow.id)
        ),
    ),
    "activity_logs": (
        "hours",
        lambda ids: (
            select(
                EngagementRow.code.label("engagement"),
                ActivityLogRow.activity_date,
                ActivityLogRow.activity,
                ActivityLogRow.centihours,
                ActivityLogRow.amount_cents,
                ActivityLogRow.declined,
            )
            .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
            .where(rows_about(table_of(ActivityLogRow), ids))
            .order_by(ActivityLogRow.activity_date, ActivityLogRow.id)
        ),
    ),
    "expenses": (
        "expenses",
        lambda ids: (
            select(
                EngagementRow.code.label("engagement"),
                ExpenseRow.expense_date,
                ExpenseRow.kind,
                ExpenseRow.amount_cents,
            )
            .join(EngagementRow, EngagementRow.id == ExpenseRow.engagement_id)
            .where(rows_about(table_of(ExpenseRow), ids))
            .order_by(ExpenseRow.expense_date, ExpenseRow.id)
        ),
    ),
}


# The export's "advisor" section: every column of the advisors table (a column added
# there is exported with no change here), but the row's keys and its optimistic lock,
# under the names a person reads.
ADVISOR_NOT_EXPORTED = {"id", "program_id", "version"}
ADVISOR_EXPORT_NAMES = {"tags": "lived_experience", "created_at": "registered_at"}


class SqlPrivacy:
    """The privacy store, on the unit of work's session: it never commits. An erasure's
    last step (compacting the database files, removing the mail sink's copies) is handed
    to ``after_commit`` and runs once the unit of work has committed."""

    def __init__(self, session: Session, after_commit: AfterCommit, maildir: Path | None = None):
        self.session = session
        self.after_commit = after_commit
        self.maildir = maildir  # the mail sink's, whose copies of the person's mail go too

    def _advisor(self, code: str) -> AdvisorRow:
        row = self.session.scalar(select(AdvisorRow).where(AdvisorRow.code == code))
        if row is None:
            raise NotFoundError("advisor", code)
        return row

    def export(self, code: str) -> dict[str, Any]:
        """Everything ppflow holds about one advisor, as plain data: their profile and
        records, and in each section the columns the ORM declares personal."""
        session = self.session
        advisor = self._advisor(code)
        data: dict[str, Any] = {
            "advisor": {
                ADVISOR_EXPORT_NAMES.get(column.key, column.key): _plain(
                    getattr(advisor, column.key)
                )
                for column in AdvisorRow.__table__.columns
                if column.key not in ADVISOR_NOT_EXPORTED
            },
            "referrals": _rows(
                session,
                select(
                    StaffRow.code.label("referred_by"),
                    ReferralRow.referred_at,
                    ReferralRow.source,
                )
                .join(StaffRow, StaffRow.id == ReferralRow.referred_by_id)
                .where(ReferralRow.advisor_id == advisor.id),
            ),
            "consents": _rows(
                session,
                select(
                    ConsentRow.purpose,
                    ConsentRow.wording_version,
                    ConsentRow.given_at,
                    ConsentRow.expires_at,
                    ConsentRow.withdrawn_at,
                )
                .where(ConsentRow.advisor_id == advisor.id)
                .order_by(ConsentRow.id),
            ),
            "training": _rows(
                session,
                select(
                    TrainingModuleRow.code.label("module"),
                    TrainingRecordRow.enrolled_at,
                    TrainingRecordRow.completed_at,
                )
                .join(TrainingModuleRow, TrainingModuleRow.id == TrainingRecordRow.module_id)
                .where(TrainingRecordRow.advisor_id == advisor.id),
            ),
            "erasures": _rows(
                session,
                select(ErasureRow.at, ErasureRow.actor, ErasureRow.categories)
                .where(ErasureRow.advisor_code == code)
                .order_by(ErasureRow.id),
            ),
        }
        for table in personal_tables():
            section = EXPORT_SECTIONS.get(table.name)
            if section is None:
                raise UndeclaredPersonError(f"the export has no section for {table.name}")
            name, query = section
            personal = [c for t, c in personal_columns() if t is table]
            rows = _rows(session, query([advisor.id]).add_columns(*personal))
            if name == "contact":
                data[name] = rows[0] if rows else None
            else:
                data[name] = rows
        return data

    def erase(self, code: str, now: datetime, actor: str = "system") -> int:
        """Erase one person's personal data, everywhere ppflow keeps it: the database (and,
        once committed, its files), and the mail sink's copies of what was sent to them.
        Returns the unsent messages cancelled."""
        erased, cancelled = erase_people(self.session, [self._advisor(code).id], now, actor)
        self.forget_after_commit(erased)
        return cancelled

    def forget_after_commit(self, erased: list[Erased]) -> None:
        if erased:
            engine, maildir = self.session.get_bind().engine, self.maildir
            self.after_commit(lambda: forget(engine, erased, maildir))

    def add_incident(self, incident: dict[str, Any]) -> int:
        row = IncidentRow(**incident)
        self.session.add(row)
        self.session.flush()
        return row.id

    def incidents(self, since: date | None = None) -> list[dict[str, Any]]:
        query = select(IncidentRow).order_by(IncidentRow.occurred_on, IncidentRow.id)
        if since:
            query = query.where(IncidentRow.occurred_on >= since)
        return [
            {c: _plain(getattr(r, c)) for c in INCIDENT_COLUMNS}
            for r in self.session.scalars(query)
        ]

    def purge_incidents(self, today: date) -> int:
        """Incidents are kept five years, then removed from the register."""
        return rows_changed(
            self.session.execute(delete(IncidentRow).where(IncidentRow.keep_until < today))
        )
