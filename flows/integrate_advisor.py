"""integrate-advisor: propose the best-matching ready advisors for a team, wait for the
coordinator's confirmation, then start the engagement."""

from __future__ import annotations

from prefect import flow

from ppflow.domain.lifecycle import TeamStage
from ppflow.services.decisions import placement
from ppflow_flows import decisions, tasks
from ppflow_flows.brief_team import brief_team
from ppflow_flows.recruit_advisor import decided, duplicate, expired
from ppflow_flows.runtime import (
    earlier_run_in_progress,
    logger,
    publish,
    publish_table,
    tag_run,
)


@flow(name="integrate-advisor", flow_run_name="integrate/{team}")
def integrate_advisor(team: str, advisor: str | None = None, limit: int = 5):
    advisor = advisor or None  # a trigger passes "" for "any ready advisor"
    first = earlier_run_in_progress(team=team, advisor=advisor)
    if first:
        return duplicate(f"integrate/{team}", first)
    start = tasks.describe_team(team)
    tag_run("stage:integrate", f"team:{team}", f"program:{start.program}" if start.program else "")
    if start.stage == TeamStage.FORMING:
        brief_team(team)
    proposals = tasks.propose(team, limit, advisor)
    # one row per part of each score, so that every cell is short and reads as a sentence
    publish_table(
        f"matches-{team}",
        [
            {"advisor": p.advisor, "score": p.score, "points": points, "why": why}
            for p in proposals
            for points, why in p.explained()
        ],
        f"Advisors proposed for team {team}, best first, with what makes up each score",
    )
    if not proposals:
        logger().info("integrate/%s: no ready advisor to propose", team)
        publish(f"integrate-{team}", f"Integration into {team}", ["- no ready advisor"])
        return None
    logger().info("integrate/%s: proposed %s", team, ", ".join(p.advisor for p in proposals))
    question = decisions.match(team, proposals, advisor)
    answer = decisions.ask(question)
    if answer is None:
        return expired(team, start.stage)
    if answer.closed:
        publish(f"integrate-{team}", f"Integration into {team}", decided(answer))
        return None
    values = decisions.accepted(answer, question)
    tasks.record_answer(answer.key, team, answer.values, answer.actor)
    chosen = placement(values)
    if chosen is None:
        logger().info("integrate/%s: proposals turned down by %s", team, answer.actor)
        publish(
            f"integrate-{team}",
            f"Integration into {team}",
            ["- proposals turned down", *decided(answer)],
        )
        return None
    result = tasks.confirm(team, chosen.advisor, chosen.role, chosen.hourly_rate, answer.actor)
    logger().info(
        "integrate/%s: %s joins as engagement %s", team, result.advisor, result.engagement
    )
    lines = [
        f"- engagement `{result.engagement}`: `{result.advisor}` joins `{team}`",
        f"- advisor now `{result.advisor_stage}`",
        *decided(answer),
    ]
    lines += [f"- warning: {w}" for w in result.warnings]
    publish(f"integrate-{team}", f"Integration into {team}", lines)
    return result.engagement
