"""integrate-advisor: propose the best-matching ready advisors for a team, wait for the
coordinator's confirmation, then start the engagement."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_table_artifact

from ppflow_flows import tasks
from ppflow_flows.brief_team import brief_team
from ppflow_flows.decisions import wait_for
from ppflow_flows.recruit_advisor import expired
from ppflow_flows.runtime import publish, tag_run


@flow(name="integrate-advisor", flow_run_name="integrate/{team}")
def integrate_advisor(team: str, advisor: str | None = None, limit: int = 5):
    start = tasks.describe_team(team)
    tag_run(
        "stage:integrate", f"team:{team}", f"program:{start['program']}" if start["program"] else ""
    )
    if start["stage"] == "forming":
        brief_team(team)
    proposals = tasks.propose(team, limit)
    if advisor and advisor not in [p["advisor"] for p in proposals]:
        proposals = [p for p in tasks.propose(team, 1000) if p["advisor"] == advisor] or proposals
    create_table_artifact(
        key=f"matches-{team}".lower(),
        table=[
            {"advisor": p["advisor"], "score": p["score"], "why": "; ".join(p["reasons"])}
            for p in proposals
        ],
        description=f"Advisors proposed for team {team}",
    )
    if not proposals:
        publish(f"integrate-{team}", f"Integration into {team}", ["- no ready advisor"])
        return None
    answer = wait_for("match")
    if answer is None:
        return expired(team, start["stage"])
    tasks.record_answer("match", team, answer.model_dump())
    if not answer.confirm:
        publish(f"integrate-{team}", f"Integration into {team}", ["- proposals turned down"])
        return None
    result = tasks.confirm(team, answer.advisor, answer.role, answer.hourly_rate)
    lines = [
        f"- engagement `{result['engagement']}`: `{result['advisor']}` joins `{team}`",
        f"- advisor now `{result['advisor_stage']}`",
    ]
    lines += [f"- warning: {w}" for w in result["warnings"]]
    publish(f"integrate-{team}", f"Integration into {team}", lines)
    return result["engagement"]
