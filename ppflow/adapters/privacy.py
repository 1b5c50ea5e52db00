"""SQL for the rights of the people ppflow serves: export everything about one advisor,
erase their personal data, and keep the register of confidentiality incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

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
)
from ppflow.adapters.orm_compensation import ActivityLogRow, ExpenseRow
from ppflow.domain.errors import NotFoundError

ERASED = "[erased]"
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
)


def erase_people(
    session: Session, advisor_ids, now: datetime, actor: str = "system"
) -> tuple[list[Erased], int]:
    """Erase the personal data of these advisors (ids as a list or a subquery), and write
    one entry per person in ``erasures`` (who, when, which categories; no personal data).
    Their unsent mail is cancelled. Returns (the people erased, messages cancelled). The
    log keeps its codes, states and times."""
    people = session.execute(
        select(AdvisorRow.code, ContactRow.first_name, ContactRow.last_name, ContactRow.email)
        .join(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
        .where(AdvisorRow.id.in_(advisor_ids), ContactRow.erased_at.is_(None))
    ).all()
    if not people:
        return [], 0
    erased = [code for code, *_ in people]
    ids = select(AdvisorRow.id).where(AdvisorRow.code.in_(erased))
    engagements = select(EngagementRow.id).where(EngagementRow.advisor_id.in_(ids))
    engagement_codes = select(EngagementRow.code).where(EngagementRow.advisor_id.in_(ids))
    quiet = {"synchronize_session": False}
    session.execute(
        update(ContactRow)
        .where(ContactRow.advisor_id.in_(ids))
        .values(
            first_name=ERASED,
            last_name=ERASED,
            email="",
            phone="",
            context="",
            email_key=None,
            phone_key=None,
            erased_at=now,
        )
        .execution_options(**quiet)
    )
    their_transitions = select(TransitionRow.id).where(
        or_(
            and_(TransitionRow.entity == "advisor", TransitionRow.code.in_(erased)),
            and_(TransitionRow.entity == "engagement", TransitionRow.code.in_(engagement_codes)),
        )
    )
    session.execute(
        delete(TransitionReasonRow)
        .where(TransitionReasonRow.transition_id.in_(their_transitions))
        .execution_options(**quiet)
    )
    session.execute(
        update(EngagementRow)
        .where(EngagementRow.id.in_(engagements), EngagementRow.reason.is_not(None))
        .values(reason=ERASED)
        .execution_options(**quiet)
    )
    session.execute(
        update(EvaluationRow)
        .where(EvaluationRow.engagement_id.in_(engagements))
        .values(notes="")
        .execution_options(**quiet)
    )
    # a proposal's reasons name the lived experience the advisor shares with the team
    session.execute(
        delete(MatchProposalRow)
        .where(MatchProposalRow.advisor_id.in_(ids))
        .execution_options(**quiet)
    )
    session.execute(
        update(SurveyRequestRow)
        .where(SurveyRequestRow.respondent_code.in_(erased), SurveyRequestRow.answers.is_not(None))
        .values(answers={"erased": True})
        .execution_options(**quiet)
    )
    session.execute(
        update(DecisionRow)
        .where(DecisionRow.subject.in_(erased))
        .values(answer={"erased": True})
        .execution_options(**quiet)
    )
    cancelled = session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.recipient_kind == "advisor",
            NotificationRow.recipient_code.in_(erased),
            NotificationRow.status.in_(("pending", "failed")),
        )
        .values(status="dead", last_error="recipient's personal data erased")
        .execution_options(**quiet)
    ).rowcount
    session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.recipient_kind == "advisor", NotificationRow.recipient_code.in_(erased)
        )
        .values(context={}, last_error=None)
        .execution_options(**quiet)
    )
    session.execute(
        update(ActivityLogRow)
        .where(ActivityLogRow.engagement_id.in_(engagements))
        .values(note="")
        .execution_options(**quiet)
    )
    session.execute(
        update(ExpenseRow)
        .where(ExpenseRow.engagement_id.in_(engagements))
        .values(receipt="")
        .execution_options(**quiet)
    )
    session.execute(
        update(CorrectionRow)
        .where(CorrectionRow.entity == "advisor", CorrectionRow.code.in_(erased))
        .values(reason="")
        .execution_options(**quiet)
    )
    session.add_all(
        ErasureRow(advisor_code=code, at=now, actor=actor, categories=list(CATEGORIES))
        for code in erased
    )
    # what identifies each person in a message, for the mail sink's copies (see forget)
    found = [
        Erased(code, (f"{first} {last}".strip(), last, email))
        for code, first, last, email in people
    ]
    return found, cancelled


@dataclass(frozen=True)
class Erased:
    code: str
    mentions: tuple[str, ...]  # the name and address the person had, to find their mail


def forget(session_factory: sessionmaker[Session], erased: list[Erased], maildir: Path | None):
    """After an erasure has committed: no readable copy in the database files, nor in the
    mail sink's Maildir."""
    if not erased:
        return
    compact(session_factory.kw["bind"])
    if maildir is not None:
        for person in erased:
            remove_messages_about(maildir, person.code, person.mentions)


def compact(engine: Engine) -> None:
    """Leave no readable copy of erased rows in the database files: PostgreSQL rewrites the
    tables erasure touches (VACUUM FULL: old row versions stay in the heap until then);
    SQLite writes the WAL back into the file and rebuilds it (VACUUM; secure_delete is on,
    so freed pages are zeroed)."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            tables = ", ".join(
                table.name
                for table in (
                    ContactRow.__table__,
                    TransitionReasonRow.__table__,
                    EngagementRow.__table__,
                    EvaluationRow.__table__,
                    SurveyRequestRow.__table__,
                    DecisionRow.__table__,
                    NotificationRow.__table__,
                    ActivityLogRow.__table__,
                    ExpenseRow.__table__,
                )
            )
            connection.exec_driver_sql(f"VACUUM FULL {tables}")
        elif engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("VACUUM")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class SqlPrivacy:
    def __init__(self, session_factory: sessionmaker[Session], maildir: Path | None = None):
        self.session_factory = session_factory
        self.maildir = maildir  # the mail sink's, whose copies of the person's mail go too

    def _advisor(self, session: Session, code: str) -> AdvisorRow:
        row = session.scalar(select(AdvisorRow).where(AdvisorRow.code == code))
        if row is None:
            raise NotFoundError("advisor", code)
        return row

    def export(self, code: str) -> dict[str, Any]:
        """Everything ppflow holds about one advisor, as plain data."""
        with self.session_factory() as session:
            advisor = self._advisor(session, code)
            contact = session.scalar(select(ContactRow).where(ContactRow.advisor_id == advisor.id))
            engagement_ids = select(EngagementRow.id).where(EngagementRow.advisor_id == advisor.id)
            return {
                "advisor": {
                    "code": advisor.code,
                    "stage": advisor.stage,
                    "languages": advisor.languages,
                    "lived_experience": advisor.tags,
                    "skills": advisor.skills,
                    "availability_hours": advisor.availability_hours,
                    "registered_at": _plain(advisor.created_at),
                },
                "contact": None
                if contact is None
                else {
                    "first_name": contact.first_name,
                    "last_name": contact.last_name,
                    "email": contact.email,
                    "phone": contact.phone,
                    "language": contact.language,
                    "context": contact.context,
                    "erased_at": _plain(contact.erased_at),
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
                "engagements": _rows(
                    session,
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
                    .where(EngagementRow.advisor_id == advisor.id),
                ),
                "questionnaires": _rows(
                    session,
                    select(
                        SurveyRequestRow.questionnaire,
                        SurveyRequestRow.round,
                        SurveyRequestRow.opened_at,
                        SurveyRequestRow.answered_at,
                        SurveyRequestRow.answers,
                    ).where(
                        SurveyRequestRow.engagement_id.in_(engagement_ids),
                        SurveyRequestRow.respondent_code == code,
                    ),
                ),
                "history": _rows(
                    session,
                    select(
                        TransitionRow.from_state,
                        TransitionRow.to_state,
                        TransitionRow.at,
                        TransitionRow.actor,
                        TransitionReasonRow.reason,
                    )
                    .outerjoin(
                        TransitionReasonRow, TransitionReasonRow.transition_id == TransitionRow.id
                    )
                    .where(TransitionRow.entity == "advisor", TransitionRow.code == code)
                    .order_by(TransitionRow.at, TransitionRow.id),
                ),
                "messages": _rows(
                    session,
                    select(
                        NotificationRow.template,
                        NotificationRow.language,
                        NotificationRow.status,
                        NotificationRow.created_at,
                        NotificationRow.sent_at,
                    )
                    .where(NotificationRow.recipient_code == code)
                    .order_by(NotificationRow.id),
                ),
                "hours": _rows(
                    session,
                    select(
                        EngagementRow.code.label("engagement"),
                        ActivityLogRow.activity_date,
                        ActivityLogRow.activity,
                        ActivityLogRow.centihours,
                        ActivityLogRow.amount_cents,
                        ActivityLogRow.declined,
                        ActivityLogRow.note,
                    )
                    .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
                    .where(ActivityLogRow.engagement_id.in_(engagement_ids))
                    .order_by(ActivityLogRow.activity_date, ActivityLogRow.id),
                ),
                "expenses": _rows(
                    session,
                    select(
                        EngagementRow.code.label("engagement"),
                        ExpenseRow.expense_date,
                        ExpenseRow.kind,
                        ExpenseRow.amount_cents,
                        ExpenseRow.receipt,
                    )
                    .join(EngagementRow, EngagementRow.id == ExpenseRow.engagement_id)
                    .where(ExpenseRow.engagement_id.in_(engagement_ids))
                    .order_by(ExpenseRow.expense_date, ExpenseRow.id),
                ),
                "erasures": _rows(
                    session,
                    select(ErasureRow.at, ErasureRow.actor, ErasureRow.categories)
                    .where(ErasureRow.advisor_code == code)
                    .order_by(ErasureRow.id),
                ),
            }

    def erase(self, code: str, now: datetime, actor: str = "system") -> int:
        """Erase one person's personal data, everywhere ppflow keeps it: the database (and
        its files), and the mail sink's copies of what was sent to them. Returns the unsent
        messages cancelled."""
        with self.session_factory.begin() as session:
            advisor = self._advisor(session, code)
            erased, cancelled = erase_people(session, [advisor.id], now, actor)
        forget(self.session_factory, erased, self.maildir)
        return cancelled

    def add_incident(self, incident: dict[str, Any]) -> int:
        with self.session_factory.begin() as session:
            row = IncidentRow(**incident)
            session.add(row)
            session.flush()
            return row.id

    def incidents(self, since: date | None = None) -> list[dict[str, Any]]:
        query = select(IncidentRow).order_by(IncidentRow.occurred_on, IncidentRow.id)
        if since:
            query = query.where(IncidentRow.occurred_on >= since)
        with self.session_factory() as session:
            return [
                {c: _plain(getattr(r, c)) for c in INCIDENT_COLUMNS} for r in session.scalars(query)
            ]

    def purge_incidents(self, today: date) -> int:
        """Incidents are kept five years, then removed from the register."""
        from sqlalchemy import delete

        with self.session_factory.begin() as session:
            return session.execute(
                delete(IncidentRow).where(IncidentRow.keep_until < today)
            ).rowcount
