"""The one place where concrete adapters are built and wired, from settings read once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters import db
from ppflow.adapters.indicators import SqlIndicators
from ppflow.adapters.privacy import SqlPrivacy
from ppflow.adapters.repositories import SqlUnitOfWork
from ppflow.adapters.sweeps import SqlRetention, SqlSweeps
from ppflow.services.ports import SYSTEM_CLOCK, Clock
from ppflow.settings import Settings, get_settings


@dataclass
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock = field(default=SYSTEM_CLOCK)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.session_factory)

    def sweeps(self) -> SqlSweeps:
        return SqlSweeps(self.session_factory)

    def indicators(self) -> SqlIndicators:
        return SqlIndicators(self.session_factory)

    def retention(self) -> SqlRetention:
        return SqlRetention(self.session_factory)

    def privacy(self) -> SqlPrivacy:
        return SqlPrivacy(self.session_factory)

    def upgrade(self, revision: str = "heads") -> None:
        db.upgrade(self.engine, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    settings = settings or get_settings()
    engine = db.make_engine(settings.resolved_database_url, settings.database_schema)
    return App(
        settings=settings,
        engine=engine,
        session_factory=db.make_session_factory(engine),
        clock=clock or SYSTEM_CLOCK,
    )
