"""onboard-advisor: identify -> recruit -> prepare -> integrate for one advisor. Re-run,
it resumes from the advisor's current state."""

from __future__ import annotations

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.integrate_advisor import integrate_advisor
from ppflow_flows.prepare_advisor import prepare_advisor
from ppflow_flows.recruit_advisor import recruit_advisor
from ppflow_flows.runtime import publish, tag_run

RECRUITING = ("identified", "invited", "screening")
PREPARING = ("recruited", "preparing")


@flow(name="onboard-advisor", flow_run_name="onboard/{advisor}")
def onboard_advisor(advisor: str, team: str | None = None):
    start = tasks.describe_advisor(advisor)
    tag_run(
        "stage:onboard",
        f"program:{start['program']}" if start["program"] else "",
        f"team:{team}" if team else "",
    )
    stage = start["stage"]
    if stage in RECRUITING:
        stage = recruit_advisor(advisor)
    if stage in PREPARING:
        stage = prepare_advisor(advisor)
    if stage == "ready" and team:
        integrate_advisor(team, advisor=advisor)
        stage = tasks.describe_advisor(advisor)["stage"]
    publish(
        f"onboard-{advisor}",
        f"Onboarding of {advisor}",
        [f"- started at `{start['stage']}`", f"- now `{stage}`"],
    )
    return stage
