"""Wrong answers never break a run. For each question, an answer that does not fit is
refused on the way in (``ppflow answer``, Prefect's API behind the UI form), or, when it
reaches the run anyway, refused by the run, which logs why and waits again."""

from __future__ import annotations

import json
import time

import pytest
from prefect import get_client
from prefect.flow_runs import resume_flow_run
from typer.testing import CliRunner

from ppflow import cli
from ppflow.domain.commands import Meta
from ppflow.services import integration, queries
from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused

pytestmark = pytest.mark.prefect
runner = CliRunner()


def answer(*args: str):
    return runner.invoke(cli.app, ["answer", *args])


def still_waits(name: str, key: str):
    """The run is paused at ``key``: it did not fail, it did not move on."""
    return wait_until_paused(name, key, timeout=30)


def form(run) -> tuple[dict, str]:
    """The schema and the description of the form the Prefect UI shows for this wait."""
    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:
        schema = json.loads(client.read_flow_run_input(run.id, keyset["schema"]))
        description = json.loads(client.read_flow_run_input(run.id, keyset["description"]))
    return schema, description


def choices(schema: dict, field: str) -> list:
    """The values the form offers for ``field`` (a list, or a list of ticks)."""
    prop = schema["properties"][field]
    prop = prop.get("items", prop)
    if "$ref" in prop:
        prop = schema["definitions"][prop["$ref"].rsplit("/", 1)[-1]]
    return prop["enum"]


def logged(run_id, text: str, timeout: float = 20) -> bool:
    """Whether the run's log in Prefect has a line with ``text`` (logs arrive in batches)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        if any(text in entry.message for entry in logs):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def test_a_wrong_screening_answer_is_refused_and_the_run_still_waits(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    paused = wait_until_paused(f"recruit/{code}", "screening")
    schema, description = form(paused)
    assert code in description and "Not retained" in schema["properties"]["outcome"]["description"]
    assert choices(schema, "outcome") == ["Retained", "Not retained", "Declined"]

    refused = answer("screening", code, "--outcome", "not_retained")
    assert refused.exit_code == 1
    assert "a reason is required when the person is not retained" in refused.output
    assert "still waits" in refused.output and "Traceback" not in refused.output
    # the API refuses what the form does not offer, before the run resumes
    with pytest.raises(RuntimeError, match="outcome"):
        resume_flow_run(paused.id, run_input={"outcome": "maybe"})
    still_waits(f"recruit/{code}", "screening")
    # the form also says that not_retained needs a reason, so the API refuses that too
    with pytest.raises(RuntimeError, match="reason"):
        resume_flow_run(paused.id, run_input={"outcome": "Not retained", "reason": " "})
    still_waits(f"recruit/{code}", "screening")
    assert not running.done()
    assert queries.get_advisor(flow_app.uow(), code).advisor.stage == "invited"

    assert answer("screening", code, "--outcome", "retained").exit_code == 0
    assert running.result(timeout=60) == "recruited"


def test_an_unknown_training_module_is_refused_and_the_run_still_waits(flow_app):
    from ppflow_flows.prepare_advisor import prepare_advisor
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    recruiting = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")
    assert answer("screening", code, "--outcome", "retained").exit_code == 0
    recruiting.result(timeout=60)
    running = in_thread(prepare_advisor, code)
    paused = wait_until_paused(f"prepare/{code}", "training-1")
    schema, description = form(paused)
    assert "PP-101" in description and "CONF-1" in description
    assert sorted(choices(schema, "modules")) == ["CONF-1", "PP-101"]

    refused = answer("training", code, "--module", "XYZ-9")
    assert refused.exit_code == 1 and "XYZ-9" in refused.output
    assert "PP-101" in refused.output  # it says which modules are still to complete
    with pytest.raises(RuntimeError, match="modules"):
        resume_flow_run(paused.id, run_input={"modules": ["XYZ-9"]})
    still_waits(f"prepare/{code}", "training-1")
    assert not running.done()

    assert answer("training", code, "--module", "PP-101,CONF-1").exit_code == 0
    assert running.result(timeout=60) == "ready"


def test_a_match_that_no_longer_fits_is_refused_and_the_run_still_waits(flow_app):
    from ppflow_flows.integrate_advisor import integrate_advisor

    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("asthma",), seats=1)
    first = factories.ready_advisor(flow_app, factories.staff(flow_app), tags=("asthma",))
    second = factories.ready_advisor(flow_app, factories.staff(flow_app), tags=("asthma",))
    outsider = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(integrate_advisor, team)
    paused = wait_until_paused(f"integrate/{team}", "match")
    schema, description = form(paused)
    assert team in description and first in description and second in description
    assert "score" in description
    assert {first, second} <= set(choices(schema, "advisor"))
    assert "None" not in json.dumps(schema["properties"]["hourly_rate"])

    not_proposed = answer("match", team, "--advisor", outsider)
    assert not_proposed.exit_code == 1 and outsider in not_proposed.output
    # another coordinator fills the only seat while the run waits
    integration.confirm_match(flow_app.uow(), team, first, Meta("cli:other"), clock=flow_app.clock)
    full = answer("match", team, "--advisor", second)
    assert full.exit_code == 1 and "no free advisor seat" in full.output
    still_waits(f"integrate/{team}", "match")
    # through the API the form accepts it; the run refuses it and waits again
    resume_flow_run(paused.id, run_input={"advisor": second})
    again = still_waits(f"integrate/{team}", "match-2")
    assert logged(again.id, "no free advisor seat")
    assert not running.done()

    assert answer("match", team, "--reject").exit_code == 0
    assert running.result(timeout=60) is None
    assert queries.get_advisor(flow_app.uow(), second).advisor.stage == "ready"
