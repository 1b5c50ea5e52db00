"""The schema exists only through Alembic: from empty, down to nothing, and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from ppflow.adapters import db
from ppflow.adapters.schema import metadata
from tests import factories
from tests.conftest import make_app

EXPECTED = set(metadata.tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_app(request, tmp_path, clock):
    app, cleanup = make_app(request.param, tmp_path, clock, migrate=False)
    yield app
    app.dispose()
    if cleanup:
        cleanup()


def test_migrations_build_the_whole_schema_from_empty(empty_app):
    assert db.table_names(empty_app.engine) - {"alembic_version"} == set()
    empty_app.upgrade()
    assert db.table_names(empty_app.engine) - {"alembic_version"} == EXPECTED
    assert db.current_revision(empty_app.engine) is not None


def test_the_migrated_schema_matches_the_models_column_for_column(empty_app):
    empty_app.upgrade()
    inspector = inspect(empty_app.engine)
    for name, table in metadata.tables.items():
        columns = {c["name"] for c in inspector.get_columns(name)}
        assert columns == set(table.columns.keys()), name


def test_downgrade_and_upgrade_round_trip_keeps_working(empty_app):
    empty_app.upgrade()
    head = db.current_revision(empty_app.engine)
    db.downgrade(empty_app.engine, "base")
    assert db.table_names(empty_app.engine) - {"alembic_version"} == set()
    assert db.current_revision(empty_app.engine) is None
    empty_app.upgrade()
    assert db.current_revision(empty_app.engine) == head
    referrer = factories.staff(empty_app)
    assert factories.referral(empty_app, referrer).startswith("PA-")
