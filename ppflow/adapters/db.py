"""Engines and migrations. Nothing here runs at import; callers build what they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Result, Table, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from ppflow.resources import migrations_dir


def make_engine(url: str, schema: str | None = None, **kwargs) -> Engine:
    """Build an engine. SQLite files get WAL, foreign keys and a busy timeout, so that
    several processes (CLI, flows, dispatcher) can share the embedded database.

    Its errors never carry the statement's parameters (``hide_parameters``): they hold
    names and addresses, and an error's text reaches logs, run logs on the Prefect server,
    and messages."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - driver glue
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # deleted and overwritten content is zeroed, so erased data leaves no trace
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if schema:
        kwargs.setdefault("connect_args", {})["options"] = f"-csearch_path={schema}"
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config  # imported here: most commands never migrate

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate up; by default to the head. The history is linear (one head, no merge
    revisions), so Alembic refuses "head" if a second head ever appears."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


# Two facts SQLAlchemy's types do not carry, said once for every adapter.


def table_of(row: type[Any]) -> Table:
    """A mapped class's table, typed as a Table (``__table__`` is typed as any FROM clause,
    which ``insert`` and ``update`` do not take)."""
    table = row.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{row.__name__} is not mapped to a table")
    return table


def rows_changed(result: Result[Any]) -> int:
    """The rows an INSERT, UPDATE or DELETE changed. ``Session.execute`` is typed as
    returning any Result; for those statements it is a CursorResult, which counts them."""
    if not isinstance(result, CursorResult):
        raise TypeError("only an INSERT, UPDATE or DELETE counts the rows it changed")
    return result.rowcount
