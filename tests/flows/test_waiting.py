"""`ppflow waiting`: every decision a run waits for, with the command that answers it, and
the cases stalled past their service level; a coordinator answers from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ppflow import cli
from ppflow.adapters.orm import AdvisorRow
from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused

pytestmark = pytest.mark.prefect
runner = CliRunner()


def ppflow(*args: str) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_waiting_lists_the_open_questions_and_a_coordinator_answers_from_it(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    late = factories.referral(flow_app, factories.staff(flow_app))
    with flow_app.engine.begin() as connection:  # identified for ten days, never invited
        connection.execute(
            update(AdvisorRow)
            .where(AdvisorRow.code == late)
            .values(stage_changed_at=flow_app.clock.now() - timedelta(days=10))
        )
    running = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")

    listed = ppflow("waiting")

    command = f"ppflow answer screening {code} --outcome"
    assert "screening" in listed and command in " ".join(listed.split())
    assert late in listed and "identified" in listed  # stalled past its service level
    ppflow("answer", "screening", code, "--outcome", "retained")
    assert running.result(timeout=60) == "recruited"
    assert code not in ppflow("waiting").split("Stalled")[0]  # nothing waits on it now
