"""The portal's store: survey responses with their questionnaire version and theme scores,
in SQL Core over ``survey_requests`` (the table of :class:`SurveyRequestRow`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ppflow.adapters.db import rows_changed, table_of
from ppflow.adapters.orm import (
    AdvisorRow,
    ContactRow,
    EngagementRow,
    NotificationRow,
    SurveyRequestRow,
)
from ppflow.services.portal import ERASED
from ppflow.services.ports import PendingSurvey

survey_requests = table_of(SurveyRequestRow)
_requests = survey_requests.c


class SqlSurveyResponses:
    def __init__(self, session: Session):
        self.session = session

    def _select(self):
        return select(
            _requests.token,
            EngagementRow.code,
            _requests.respondent_kind,
            _requests.respondent_code,
            _requests.round,
            _requests.questionnaire,
            _requests.answered_at,
            _requests.questionnaire_version,
            _requests.ended_because,
        ).join(EngagementRow, EngagementRow.id == _requests.engagement_id)

    @staticmethod
    def _pending(row) -> PendingSurvey:
        return PendingSurvey(*row)

    def by_token(self, token: str) -> PendingSurvey | None:
        row = self.session.execute(self._select().where(_requests.token == token)).first()
        return self._pending(row) if row else None

    def latest(self, engagement: str, respondent: str, round: int | None) -> PendingSurvey | None:
        query = self._select().where(
            EngagementRow.code == engagement, _requests.respondent_code == respondent
        )
        if round is not None:
            query = query.where(_requests.round == round)
        row = self.session.execute(query.order_by(_requests.round.desc()).limit(1)).first()
        return self._pending(row) if row else None

    def record(
        self,
        token: str,
        answers: dict,
        version: int,
        score: float | None,
        theme_scores: dict[str, float],
        at: datetime,
    ) -> bool:
        """Record once: a request already answered, or ended, is left as it was (returns
        False)."""
        result = self.session.execute(
            update(survey_requests)
            .where(
                _requests.token == token,
                _requests.answered_at.is_(None),
                _requests.ended_because.is_(None),
            )
            .values(
                answers=answers,
                score=score,
                theme_scores=theme_scores,
                questionnaire_version=version,
                answered_at=at,
            )
        )
        return rows_changed(result) == 1

    def end_for(self, advisor: str, because: str, at: datetime) -> int:
        return end_survey_requests(self.session, [advisor], because, at)

    def language(self, survey: PendingSurvey) -> str | None:
        """The language the request e-mail went out in, else the advisor's own."""
        key = f"survey_request:{survey.engagement}:{survey.respondent}:{survey.round}"
        language = self.session.scalar(
            select(NotificationRow.language).where(NotificationRow.idempotency_key == key)
        )
        if language:
            return language
        if survey.respondent_kind == "advisor":
            return self.advisor_language(survey.respondent)
        return None

    def advisor_erased(self, advisor: str) -> bool:
        erased_at = self.session.scalar(
            select(ContactRow.erased_at)
            .join(AdvisorRow, AdvisorRow.id == ContactRow.advisor_id)
            .where(AdvisorRow.code == advisor)
        )
        return erased_at is not None

    def advisor_language(self, advisor: str) -> str | None:
        return self.session.scalar(
            select(ContactRow.language)
            .join(AdvisorRow, AdvisorRow.id == ContactRow.advisor_id)
            .where(AdvisorRow.code == advisor)
        )


def end_survey_requests(session: Session, codes: Iterable[str], because: str, at: datetime) -> int:
    """End these advisors' survey requests, answered or not: their links then take no
    answer and say why (``because``). Erasure overrides an earlier end (a withdrawal); a
    withdrawal leaves an erasure as it is."""
    where = [_requests.respondent_kind == "advisor", _requests.respondent_code.in_(list(codes))]
    if because != ERASED:
        where.append(_requests.ended_because.is_(None))
    return rows_changed(
        session.execute(
            update(survey_requests)
            .where(*where)
            .values(ended_because=because, ended_at=func.coalesce(_requests.ended_at, at))
            .execution_options(synchronize_session=False)
        )
    )
