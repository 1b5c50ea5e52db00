"""The one unit of work: a database transaction holding every repository on its session,
so that whatever a use case writes (a move, its log row, its e-mails, the hours and the
alerts they raise, a survey response) commits or rolls back together."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters.bulk import SqlReferralBatch
from ppflow.adapters.compensation import SqlCompensation
from ppflow.adapters.portal_store import SqlSurveyResponses
from ppflow.adapters.repositories import (
    SqlAdvisors,
    SqlCorrections,
    SqlDecisions,
    SqlEngagements,
    SqlEvaluations,
    SqlMeetings,
    SqlNotifications,
    SqlPrograms,
    SqlStaff,
    SqlSurveys,
    SqlTeams,
    SqlTraining,
    SqlTransitions,
)


class SqlUnitOfWork:
    """One database transaction. Leaving the block without ``commit()`` rolls back."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.session = session = self.session_factory()
        self.advisors = SqlAdvisors(session)
        self.staff = SqlStaff(session)
        self.programs = SqlPrograms(session)
        self.teams = SqlTeams(session)
        self.engagements = SqlEngagements(session)
        self.training = SqlTraining(session)
        self.transitions = SqlTransitions(session)
        self.notifications = SqlNotifications(session)
        self.surveys = SqlSurveys(session)
        self.evaluations = SqlEvaluations(session)
        self.decisions = SqlDecisions(session)
        self.corrections = SqlCorrections(session)
        self.meetings = SqlMeetings(session)
        self.pay = SqlCompensation(session)
        self.responses = SqlSurveyResponses(session)
        self.referral_batch = SqlReferralBatch(session)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise

    def rollback(self) -> None:
        self.session.rollback()
