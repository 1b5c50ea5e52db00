"""`ppflow waiting` on a real database (SQLite, then PostgreSQL) when no Prefect server is
configured: it says the waiting runs are not listed, and still lists the cases stalled past
their service level, from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ppflow.adapters.orm import AdvisorRow
from ppflow.cli import app as ppflow_cli
from tests import factories

runner = CliRunner()


@pytest.fixture
def waiting(any_app, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    def invoke() -> str:
        # whatever server an earlier test left configured, none is here
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            result = runner.invoke(ppflow_cli, ["waiting"], obj=any_app)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        return " ".join(result.output.split())

    return invoke


def test_without_prefect_the_stalled_cases_are_still_listed(any_app, waiting):
    referrer = factories.staff(any_app)
    late, fresh = factories.referral(any_app, referrer), factories.referral(any_app, referrer)
    assert "no case is stalled past its service level" in waiting()
    with any_app.engine.begin() as connection:  # identified for ten days, never invited
        connection.execute(
            update(AdvisorRow)
            .where(AdvisorRow.code == late)
            .values(stage_changed_at=any_app.clock.now() - timedelta(days=10))
        )

    listed = waiting()

    assert "no Prefect server at PREFECT_API_URL: waiting runs are not listed" in listed
    assert late in listed and fresh not in listed and "identified" in listed
