"""Shared fixtures: a real database per test (SQLite file, or a PostgreSQL schema when
PPFLOW_TEST_DATABASE_URL is set), migrated by Alembic, and a controllable clock."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
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

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# browser, page_at: headless Chromium for the page tests
pytest_plugins = ["tests.browser"]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def _postgres_schema():
    """A fresh schema on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return admin, schema


def make_app(kind: str, tmp_path, clock, migrate: bool = True):
    """Build an App on a fresh database of the given kind; returns (app, cleanup)."""
    from sqlalchemy import text

    from ppflow.bootstrap import bootstrap
    from ppflow.settings import PortalSettings, Settings

    if kind == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp_path}/ppflow.db", data_dir=tmp_path)
        cleanup = None
    else:
        if not POSTGRES_URL:
            pytest.skip(NO_POSTGRES)
        admin, schema = _postgres_schema()
        settings = Settings(
            database_url=POSTGRES_URL,
            database_schema=schema,
            data_dir=tmp_path,
            portal=PortalSettings(signing_key=TEST_SIGNING_KEY),
        )

        def cleanup():
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    app = bootstrap(settings, clock=clock)
    if migrate:
        app.upgrade()
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
