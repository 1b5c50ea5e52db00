"""The one unit of work: a database transaction holding every repository on its session,
so that whatever a use case writes (a move, its log row, its e-mails, the hours and the
alerts they raise, a survey response, an erasure) commits or rolls back together.

Its ``commit()`` and ``rollback()`` are the only transaction boundaries of the
repositories and stores: none of them begins, commits or rolls back. (The outbox's lease
claims and outcomes are the one exception: see ``ppflow.services.ports.Outbox``.) What
must wait until the data is committed (an erasure compacting the database files) is
handed to ``after_commit`` and runs after a successful commit only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters.bulk import SqlReferralBatch
from ppflow.adapters.compensation import SqlCompensation
from ppflow.adapters.portal_store import SqlSurveyResponses
from ppflow.adapters.privacy import SqlPrivacy
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
from ppflow.adapters.sweeps import SqlRetention


class SqlUnitOfWork:
    """One database transaction. Leaving the block without ``commit()`` rolls back."""

    def __init__(self, session_factory: sessionmaker[Session], maildir: Path | None = None):
        self.session_factory = session_factory
        self.maildir = maildir  # the mail sink's: an erasure removes its copies too
        self.session: Session | None = None
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> SqlUnitOfWork:
        self.session = session = self.session_factory()
        self.advisors = SqlAdvisors(session, self.savepoint)
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
        self._after_commit = []
        self.privacy = SqlPrivacy(session, self._after_commit.append, self.maildir)
        self.retention = SqlRetention(self.privacy)
        return self

    def _open(self) -> Session:
        """The session of the ``with`` block: entering makes it."""
        if self.session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self.session

    def __exit__(self, *exc: object) -> None:
        self._after_commit.clear()
        session = self._open()
        try:
            session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        try:
            self._open().commit()
        except IntegrityError:
            self.rollback()
            raise
        done, self._after_commit[:] = list(self._after_commit), []
        for action in done:
            action()

    def rollback(self) -> None:
        self._after_commit.clear()
        self._open().rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A SAVEPOINT in the transaction, for a repository that reads on after a write the
        database may refuse: a refusal undoes the block only, and the transaction goes on.

        On SQLite the driver begins the transaction only at the first write, and a
        SAVEPOINT outside a transaction would start one that its release commits: the
        transaction is begun first, so the savepoint stays inside it."""
        session = self._open()
        connection = session.connection()
        driver = connection.connection.dbapi_connection
        assert driver is not None  # the connection was just checked out, so it is open
        if connection.dialect.name == "sqlite" and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN")
        with session.begin_nested():
            yield
