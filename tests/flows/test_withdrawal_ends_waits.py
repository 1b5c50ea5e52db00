"""A withdrawal ends the runs that were waiting on the advisor: the portal does not talk to
Prefect, so the dispatch-notifications sweep cancels them; ``ppflow advisor withdraw``
does it at once. Nothing the run waited for is applied."""

from __future__ import annotations

import time

import pytest
from prefect import get_client
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ppflow import cli
from ppflow.services import advisors, links, queries
from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused

pytestmark = pytest.mark.prefect
runner = CliRunner()


def state_of(run_id):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def moves_of(app, code: str) -> list[str]:
    return [t.to_state for t in advisors.advisor_history(app.uow(), code)]


def nothing_applied(app, code: str) -> None:
    """No screening outcome was recorded: no consent, no move past withdrawn, no welcome."""
    detail = queries.get_advisor(app.uow(), code)
    assert detail.advisor.stage == "withdrawn"
    assert detail.consents == []
    assert moves_of(app, code) == ["identified", "invited", "withdrawn"]
    refused = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "retained"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert queries.get_advisor(app.uow(), code).advisor.stage == "withdrawn"


def test_a_withdrawal_through_the_portal_ends_the_recruitment_run_at_the_next_sweep(flow_app):
    from ppflow_flows.dispatch_notifications import dispatch_notifications
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    other = factories.referral(flow_app, factories.staff(flow_app))
    in_thread(recruit_advisor, code)
    in_thread(recruit_advisor, other)
    paused = wait_until_paused(f"recruit/{code}", "screening")
    still = wait_until_paused(f"recruit/{other}", "screening")

    link = links.withdrawal_link(flow_app.settings, code, flow_app.clock.now())
    page = TestClient(flow_app.portal()).post(link[link.index("/w/") :], data={"confirm": "yes"})
    assert page.status_code == 200
    assert state_of(paused.id).is_paused()  # the portal leaves Prefect alone

    dispatch_notifications()

    state = state_of(paused.id)
    assert state.is_cancelled(), state
    assert state.message == f"advisor {code} withdrew"
    assert state_of(still.id).is_paused()  # someone who did not withdraw still waits
    time.sleep(2)  # the cancelled run's process does not move it on
    assert state_of(paused.id).is_cancelled()
    nothing_applied(flow_app, code)


def test_ppflow_advisor_withdraw_ends_the_waiting_run_at_once(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    in_thread(recruit_advisor, code)
    paused = wait_until_paused(f"recruit/{code}", "screening")

    done = runner.invoke(cli.app, ["advisor", "withdraw", code, "--reason", "by phone"])

    assert done.exit_code == 0, done.output
    assert f"ended 1 flow run(s) waiting on {code}" in done.output
    state = state_of(paused.id)
    assert state.is_cancelled() and state.message == f"advisor {code} withdrew"
    nothing_applied(flow_app, code)
