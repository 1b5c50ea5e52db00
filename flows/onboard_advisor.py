"""onboard-advisor: recruit -> prepare -> integrate for one advisor, from wherever the
advisor stands.

Deployed, it is a chain, not a nest: this run starts the deployment of the advisor's
current stage and ends. Each stage is then a top-level run whose waits are suspensions
(no process held), and when a stage ends its event starts the next stage's deployment
through the triggers of ``deployments/prefect.yaml`` (automations in the Prefect UI).
Run in-process (tests, the demo), it calls the stages one after the other and pauses."""

from __future__ import annotations

from prefect import flow

from ppflow.domain.lifecycle import AdvisorStage
from ppflow_flows import tasks
from ppflow_flows.integrate_advisor import integrate_advisor
from ppflow_flows.prepare_advisor import prepare_advisor
from ppflow_flows.recruit_advisor import recruit_advisor
from ppflow_flows.runtime import deployed, logger, publish, tag_run

RECRUITING = (AdvisorStage.IDENTIFIED, AdvisorStage.INVITED, AdvisorStage.SCREENING)
PREPARING = (AdvisorStage.RECRUITED, AdvisorStage.PREPARING)


@flow(name="onboard-advisor", flow_run_name="onboard/{advisor}")
def onboard_advisor(advisor: str, team: str | None = None):
    start = tasks.describe_advisor(advisor)
    tag_run(
        "stage:onboard",
        f"program:{start.program}" if start.program else "",
        f"team:{team}" if team else "",
    )
    # a stage flow that finds a run of its own already going returns no stage (None)
    stage: str | None = start.stage
    if deployed():
        return start_chain(advisor, team, start.stage)
    if stage in RECRUITING:
        stage = recruit_advisor(advisor, team)
    if stage in PREPARING:
        stage = prepare_advisor(advisor, team)
    if stage == AdvisorStage.READY and team:
        integrate_advisor(team, advisor=advisor)
        stage = tasks.describe_advisor(advisor).stage
    publish(
        f"onboard-{advisor}",
        f"Onboarding of {advisor}",
        [f"- started at `{start.stage}`", f"- now `{stage}`"],
    )
    return stage


def start_chain(advisor: str, team: str | None, stage: str) -> str:
    from ppflow_flows.serving import trigger

    if stage in RECRUITING:
        short, code, extra = "recruit", advisor, {"team": team}
    elif stage in PREPARING:
        short, code, extra = "prepare", advisor, {"team": team}
    elif stage == AdvisorStage.READY and team:
        short, code, extra = "integrate", team, {"advisor": advisor}
    else:
        logger().info("onboard/%s: at %s, no stage to start", advisor, stage)
        return stage
    run_id, name = trigger(short, code, extra)
    logger().info("onboard/%s: at %s, started %s (flow run %s)", advisor, stage, name, run_id)
    publish(
        f"onboard-{advisor}",
        f"Onboarding of {advisor}",
        [
            f"- at `{stage}`: started `{name}`",
            "- the next stages start by themselves when each one ends (automations)",
        ],
    )
    return stage
