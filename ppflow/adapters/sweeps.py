"""Set-based queries for the scheduled sweeps: a count and the oldest few cases of each
kind, so memory stays flat however large the pool."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters.orm import (
    AdvisorRow,
    ConsentRow,
    ContactRow,
    EngagementRow,
    SurveyRequestRow,
    TrainingModuleRow,
    TrainingRecordRow,
)
from ppflow.adapters.privacy import SqlPrivacy, erase_people
from ppflow.domain.lifecycle import ADVISOR_ENDED, EngagementStage
from ppflow.domain.surveys import FINAL_ROUND, due_round, months_between
from ppflow.services.ports import Case, Found


def _days(now: datetime, then: datetime) -> int:
    return max(0, (now - then).days)


class SqlSweeps:
    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def _found(self, session: Session, count_query, rows_query, make) -> Found:
        total = session.scalar(count_query) or 0
        first = [make(*row) for row in session.execute(rows_query)] if total else []
        return Found(total, first)

    def stalled(self, stage: str, before: datetime, now: datetime, limit: int) -> Found:
        where = (AdvisorRow.stage == stage, AdvisorRow.stage_changed_at < before)
        with self.session_factory() as session:
            return self._found(
                session,
                select(func.count()).select_from(AdvisorRow).where(*where),
                select(AdvisorRow.code, AdvisorRow.stage_changed_at)
                .where(*where)
                .order_by(AdvisorRow.stage_changed_at)
                .limit(limit),
                lambda code, since: Case(code, stage, _days(now, since)),
            )

    def unanswered_surveys(self, before: datetime, now: datetime, limit: int) -> Found:
        where = (
            SurveyRequestRow.answered_at.is_(None),
            SurveyRequestRow.ended_because.is_(None),
            SurveyRequestRow.opened_at < before,
            EngagementRow.stage.in_((EngagementStage.ACTIVE, EngagementStage.COMPLETED)),
        )
        base = (
            select(func.count())
            .select_from(SurveyRequestRow)
            .join(EngagementRow, EngagementRow.id == SurveyRequestRow.engagement_id)
        )
        with self.session_factory() as session:
            return self._found(
                session,
                base.where(*where),
                select(
                    SurveyRequestRow.respondent_code, EngagementRow.code, SurveyRequestRow.opened_at
                )
                .join(EngagementRow, EngagementRow.id == SurveyRequestRow.engagement_id)
                .where(*where)
                .order_by(SurveyRequestRow.opened_at)
                .limit(limit),
                lambda who, engagement, since: Case(who, "survey", _days(now, since), engagement),
            )

    def expiring_consents(self, now: datetime, until: datetime, limit: int) -> Found:
        where = (
            ConsentRow.withdrawn_at.is_(None),
            ConsentRow.expires_at >= now,
            ConsentRow.expires_at < until,
            AdvisorRow.stage.not_in(ADVISOR_ENDED),
        )
        with self.session_factory() as session:
            return self._found(
                session,
                select(func.count())
                .select_from(ConsentRow)
                .join(AdvisorRow, AdvisorRow.id == ConsentRow.advisor_id)
                .where(*where),
                select(AdvisorRow.code, ConsentRow.purpose, ConsentRow.expires_at)
                .join(AdvisorRow, AdvisorRow.id == ConsentRow.advisor_id)
                .where(*where)
                .order_by(ConsentRow.expires_at)
                .limit(limit),
                lambda code, purpose, expires: Case(
                    code, "consent", _days(expires, now), purpose, expires.date().isoformat()
                ),
            )

    def overdue_training(self, before: datetime, now: datetime, limit: int) -> Found:
        where = (
            TrainingRecordRow.completed_at.is_(None),
            TrainingRecordRow.enrolled_at < before,
            TrainingModuleRow.required.is_(True),
            AdvisorRow.stage.not_in(ADVISOR_ENDED),
        )
        joined = (
            select(func.count())
            .select_from(TrainingRecordRow)
            .join(AdvisorRow, AdvisorRow.id == TrainingRecordRow.advisor_id)
            .join(TrainingModuleRow, TrainingModuleRow.id == TrainingRecordRow.module_id)
        )
        with self.session_factory() as session:
            return self._found(
                session,
                joined.where(*where),
                select(AdvisorRow.code, TrainingModuleRow.code, TrainingRecordRow.enrolled_at)
                .join(AdvisorRow, AdvisorRow.id == TrainingRecordRow.advisor_id)
                .join(TrainingModuleRow, TrainingModuleRow.id == TrainingRecordRow.module_id)
                .where(*where)
                .order_by(TrainingRecordRow.enrolled_at)
                .limit(limit),
                lambda code, module, since: Case(code, "training", _days(now, since), module),
            )

    def due_survey_rounds(self, now: datetime) -> list[tuple[str, int]]:
        """(engagement, round) for each active engagement whose next round is due."""
        opened = (
            select(SurveyRequestRow.engagement_id, func.max(SurveyRequestRow.round).label("r"))
            .group_by(SurveyRequestRow.engagement_id)
            .subquery()
        )
        query = (
            select(EngagementRow.code, EngagementRow.start_date, opened.c.r)
            .outerjoin(opened, opened.c.engagement_id == EngagementRow.id)
            .where(
                EngagementRow.stage == EngagementStage.ACTIVE, EngagementRow.start_date.is_not(None)
            )
        )
        ended = (
            select(EngagementRow.code)
            .outerjoin(opened, opened.c.engagement_id == EngagementRow.id)
            .where(
                EngagementRow.stage == EngagementStage.COMPLETED,
                func.coalesce(opened.c.r, 0) < FINAL_ROUND,
            )
        )
        due = []
        today = now.date()
        with self.session_factory() as session:
            for code, start, last in session.execute(query).yield_per(1000):
                round = due_round(months_between(start, today))
                if round > (last or 0):
                    due.append((code, round))
            due += [(code, FINAL_ROUND) for code in session.scalars(ended)]
        return due


class SqlRetention:
    """Erasure by retention period, on the unit of work's session (it never commits); the
    files are compacted once the unit of work has committed (see ``SqlPrivacy``)."""

    def __init__(self, privacy: SqlPrivacy):
        self.privacy = privacy

    def erase_final_before(self, stage: str, before: datetime, now: datetime) -> tuple[int, int]:
        due = (AdvisorRow.stage == stage, AdvisorRow.stage_changed_at < before)
        # those erased already are left alone: erasing again is for a request, not a sweep
        not_yet = select(ContactRow.advisor_id).where(ContactRow.erased_at.is_(None))
        erased, cancelled = erase_people(
            self.privacy.session,
            select(AdvisorRow.id).where(*due, AdvisorRow.id.in_(not_yet)),
            now,
            actor="retention",
        )
        self.privacy.forget_after_commit(erased)
        return len(erased), cancelled
