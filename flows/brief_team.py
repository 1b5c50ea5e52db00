"""brief-team: a QI team receives the patient-partnership method documents before its
first advisor joins, and becomes active."""

from __future__ import annotations

from prefect import flow

from ppflow.domain.lifecycle import TeamStage
from ppflow_flows import tasks
from ppflow_flows.runtime import publish, tag_run


@flow(name="brief-team", flow_run_name="brief/{team}")
def brief_team(team: str):
    start = tasks.describe_team(team)
    tag_run("stage:brief", f"team:{team}", f"program:{start.program}" if start.program else "")
    stage = start.stage
    if stage == TeamStage.FORMING:
        stage = tasks.brief(team).to_state
    publish(
        f"brief-{team}",
        f"Briefing of team {team}",
        [f"- started at `{start.stage}`", f"- now `{stage}`"],
    )
    return stage
