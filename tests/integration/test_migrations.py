"""The schema exists only through Alembic: from empty to exactly what the models declare,
down to nothing, and up again, along one line of revisions."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ppflow.adapters import db
from ppflow.adapters.schema import metadata
from ppflow.resources import migrations_dir
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


def differences_from_the_models(engine) -> list:
    """What Alembic's autogenerate would change to make the database match the models:
    tables, columns, types, nullability, server defaults, indexes, unique and foreign-key
    constraints. Empty when the migrations create exactly what the models declare."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def user_functions(engine) -> set[str]:
    """The functions the migrations made in the application's schema (PostgreSQL)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = current_schema()"
            )
        )
        return {name for (name,) in rows}


def test_migrations_build_the_whole_schema_from_empty(empty_app):
    assert db.table_names(empty_app.engine) - {"alembic_version"} == set()
    empty_app.upgrade()
    assert db.table_names(empty_app.engine) - {"alembic_version"} == EXPECTED
    assert (
        db.current_revision(empty_app.engine)
        == ScriptDirectory(str(migrations_dir())).get_current_head()
    )


def test_the_migrated_schema_matches_the_models_in_full(empty_app):
    db.upgrade(empty_app.engine, "head")
    assert differences_from_the_models(empty_app.engine) == []


def test_the_history_is_one_line_of_revisions_with_one_head():
    script = ScriptDirectory(str(migrations_dir()))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations found"
    for revision in revisions:
        assert not revision.is_merge_point, f"{revision.revision} merges branches"
        assert not revision.is_branch_point, f"{revision.revision} has several children"
    assert len(script.get_bases()) == 1


def test_downgrade_and_upgrade_round_trip_keeps_working(empty_app):
    empty_app.upgrade()
    head = db.current_revision(empty_app.engine)
    db.downgrade(empty_app.engine, "base")
    assert db.table_names(empty_app.engine) - {"alembic_version"} == set()
    assert db.current_revision(empty_app.engine) is None
    if empty_app.engine.dialect.name == "postgresql":
        assert user_functions(empty_app.engine) == set()  # the append-only trigger's too
    empty_app.upgrade()
    assert db.current_revision(empty_app.engine) == head
    assert differences_from_the_models(empty_app.engine) == []
    referrer = factories.staff(empty_app)
    assert factories.referral(empty_app, referrer).startswith("PA-")
