"""SQL for the rights of the people ppflow serves: export everything about one advisor,
erase their personal data, and keep the register of confidentiality incidents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters.orm import (
    AdvisorRow,
    ConsentRow,
    ContactRow,
    EngagementRow,
    IncidentRow,
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
from ppflow.domain.errors import NotFoundError

ERASED = "[erased]"
INCIDENT_COLUMNS = [column.key for column in IncidentRow.__table__.columns]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(session: Session, query) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in session.execute(query)]


def erase_people(session: Session, advisor_ids, codes, now: datetime) -> tuple[int, int]:
    """Erase the personal data of these advisors (ids and codes, as lists or subqueries):
    contact fields, free-text context and survey answers. Their unsent mail is cancelled.
    Returns (people erased, messages cancelled)."""
    people = session.execute(
        update(ContactRow)
        .where(ContactRow.advisor_id.in_(advisor_ids), ContactRow.erased_at.is_(None))
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
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(SurveyRequestRow)
        .where(SurveyRequestRow.respondent_code.in_(codes), SurveyRequestRow.answers.is_not(None))
        .values(answers={"erased": True})
        .execution_options(synchronize_session=False)
    )
    cancelled = session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.recipient_kind == "advisor",
            NotificationRow.recipient_code.in_(codes),
            NotificationRow.status.in_(("pending", "failed")),
        )
        .values(status="dead", last_error="recipient's personal data erased")
        .execution_options(synchronize_session=False)
    ).rowcount
    return people, cancelled


class SqlPrivacy:
    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

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
            }

    def erase(self, code: str, now: datetime) -> int:
        """Erase one person's personal data; returns the unsent messages cancelled."""
        with self.session_factory.begin() as session:
            advisor = self._advisor(session, code)
            return erase_people(session, [advisor.id], [code], now)[1]

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
