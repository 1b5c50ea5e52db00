"""Shared fixtures: a real database per test (SQLite file, or a PostgreSQL database of its
own when PPFLOW_TEST_DATABASE_URL is set), migrated by Alembic, and a controllable clock.

Alembic runs once per session and kind: into a template (a SQLite file; a PostgreSQL
database), which each test then copies (the file; ``CREATE DATABASE ... TEMPLATE``). A
copy is the database a fresh migration makes, for far less (0.55 s a test to migrate on
SQLite, 1.5 s on PostgreSQL, against 0.01 s and 0.15 s). The migrations themselves are
tested from an empty database (``make_app(..., migrate=False)``, test_migrations.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ppflow.services.ports import FixedClock

if TYPE_CHECKING:
    from ppflow.bootstrap import App

# SQLAlchemy, the adapters and the settings are imported by the fixtures that use them, so
# that the unit tier (no database) never pays for them.

POSTGRES_URL = os.environ.get("PPFLOW_TEST_DATABASE_URL")
# On PostgreSQL the development signing key is refused (ppflow.services.links): the tests
# there sign links with this key (made by ppflow keygen) instead.
TEST_SIGNING_KEY = "ppflow_6ju4sit5ilmkgbiudsgobraf7kma2kbg3wnqj6n35czlkadlnvd3nrkdzm"
NO_POSTGRES = "PPFLOW_TEST_DATABASE_URL is not set (no PostgreSQL server to test against)"
# the schema ppflow's tables live in on PostgreSQL (each test has a database of its own)
TEST_SCHEMA = "ppflow_test"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# browser, page_at: headless Chromium for the page tests
pytest_plugins = ["tests.browser"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item) -> None:
    """Typer's CliRunner builds the Click command from the Typer app at every ``invoke``:
    0.16 s for ppflow's, more than most commands take to run. Once typer.testing is loaded
    (never in the unit tier), it builds each app's command once, as ``ppflow`` does once per
    process."""
    testing = sys.modules.get("typer.testing")
    if testing is None or getattr(testing._get_command, "built_once", False):
        return
    build = testing._get_command
    built: dict[int, tuple[object, object]] = {}

    def get_command(app):
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # the app is kept: its id stays its own
        return built[id(app)][1]

    get_command.built_once = True
    testing._get_command = get_command


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


# ------------------------------------------------------------ the migrated templates

_templates: dict[str, str] = {}  # kind -> the SQLite file, or the PostgreSQL database
_admin_engine: list = []


def _admin():
    """An engine on the test server's database, in autocommit (CREATE/DROP DATABASE)."""
    from sqlalchemy import create_engine

    if not _admin_engine:
        url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        _admin_engine.append(create_engine(url, isolation_level="AUTOCOMMIT"))
    return _admin_engine[0]


def _database_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _migrated(settings) -> None:
    from ppflow.bootstrap import bootstrap

    app = bootstrap(settings, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    try:
        app.upgrade()
        if settings.database_url.startswith("sqlite"):
            with app.engine.connect() as connection:  # one file, nothing left in the WAL
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        app.dispose()


def sqlite_template() -> Path:
    """A SQLite file migrated to the head, made once per session."""
    if "sqlite" not in _templates:
        from ppflow.settings import Settings

        directory = Path(tempfile.mkdtemp(prefix="ppflow-template-"))
        atexit.register(shutil.rmtree, directory, True)
        path = directory / "ppflow.db"
        _migrated(Settings(database_url=f"sqlite:///{path}", data_dir=directory))
        _templates["sqlite"] = str(path)
    return Path(_templates["sqlite"])


def postgres_template() -> str:
    """A PostgreSQL database migrated to the head (ppflow in TEST_SCHEMA), made once per
    session and dropped at its end; the name of the database."""
    if "postgres" not in _templates:
        from sqlalchemy import text

        from ppflow.adapters.db import make_engine
        from ppflow.settings import Settings

        name = f"t_template_{uuid.uuid4().hex[:12]}"
        with _admin().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        atexit.register(_drop_database, name)
        engine = make_engine(_database_url(name))
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{TEST_SCHEMA}"'))
        engine.dispose()
        _migrated(Settings(database_url=_database_url(name), database_schema=TEST_SCHEMA))
        _templates["postgres"] = name
    return _templates["postgres"]


def _drop_database(name: str) -> None:
    from sqlalchemy import text

    with _admin().connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_dropper: list[ThreadPoolExecutor] = []


def _drop_later(name: str) -> None:
    """Drop a test's database on a thread of its own, while the next tests run (a drop
    takes 0.1 to 2 s); the session's end waits for the last one."""
    if not _dropper:
        _dropper.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database"))
        atexit.register(_dropper[0].shutdown, wait=True)
    _dropper[0].submit(_drop_database, name)


def _postgres_schema():
    """A fresh, empty schema on the test server, dropped afterwards."""
    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    return admin, schema


def make_app(kind: str, tmp_path, clock, migrate: bool = True):
    """Build an App on a fresh database of the given kind, migrated to the head (a copy of
    the session's template) or, with ``migrate=False``, empty; returns (app, cleanup)."""
    from sqlalchemy import text

    from ppflow.bootstrap import bootstrap
    from ppflow.settings import PortalSettings, Settings

    cleanup = None
    if kind == "sqlite":
        path = Path(tmp_path) / "ppflow.db"
        if migrate:
            shutil.copyfile(sqlite_template(), path)
        settings = Settings(database_url=f"sqlite:///{path}", data_dir=tmp_path)
    else:
        if not POSTGRES_URL:
            pytest.skip(NO_POSTGRES)
        portal = PortalSettings(signing_key=TEST_SIGNING_KEY)
        if migrate:
            name = f"t_{uuid.uuid4().hex[:12]}"
            template = postgres_template()
            with _admin().connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            settings = Settings(
                database_url=_database_url(name),
                database_schema=TEST_SCHEMA,
                data_dir=tmp_path,
                portal=portal,
            )

            def cleanup():
                _drop_later(name)

        else:
            admin, schema = _postgres_schema()
            settings = Settings(
                database_url=POSTGRES_URL, database_schema=schema, data_dir=tmp_path, portal=portal
            )

            def cleanup():
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

    app = bootstrap(settings, clock=clock)
    return app, cleanup


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def any_app(request, tmp_path, clock):
    """The application on SQLite, then on PostgreSQL (skipped without a server)."""
    app, cleanup = make_app(request.param, tmp_path, clock)
    yield app
    app.dispose()
    if cleanup:
        cleanup()


@pytest.fixture
def sqlite_app(tmp_path, clock) -> App:
    app, _ = make_app("sqlite", tmp_path, clock)
    yield app
    app.dispose()
