"""prepare-advisor: enrol the required modules, record completions, then 'ready'."""

from __future__ import annotations

from prefect import flow

from ppflow.domain.lifecycle import AdvisorStage
from ppflow_flows import decisions, tasks
from ppflow_flows.recruit_advisor import decided, duplicate, expired
from ppflow_flows.runtime import earlier_run_in_progress, logger, publish, tag_run

MAX_ROUNDS = 12  # completions can be reported module by module


@flow(name="prepare-advisor", flow_run_name="prepare/{advisor}")
def prepare_advisor(advisor: str, team: str | None = None):
    first = earlier_run_in_progress(advisor=advisor)
    if first:
        return duplicate(f"prepare/{advisor}", first)
    team = team or None  # a trigger passes "" when the onboarding aims at no team
    start = tasks.describe_advisor(advisor)
    tag_run("stage:prepare", f"program:{start.program}" if start.program else "")
    stage = start.stage
    if stage == AdvisorStage.RECRUITED:
        stage = tasks.enrol(advisor).to_state
        logger().info("prepare/%s: required modules enrolled", advisor)
    round, answers = 0, []
    while stage == AdvisorStage.PREPARING and round < MAX_ROUNDS:
        round += 1
        question = decisions.training(advisor, round)
        answer = decisions.ask(question)
        if answer is None:
            return expired(advisor, stage)
        answers.append(answer)
        if answer.closed:
            stage = tasks.describe_advisor(advisor).stage
            break
        modules = decisions.accepted(answer, question)["modules"]
        tasks.record_answer(answer.key, advisor, answer.values, answer.actor)
        done = tasks.complete_modules(advisor, modules, round, answer.actor, team)
        stage = done.stage
        logger().info(
            "prepare/%s: %d module(s) completed (%s), still to complete: %s; now %s",
            advisor,
            len(done.completed),
            ", ".join(done.completed) or "none new",
            ", ".join(done.left) or "none",
            stage,
        )
    publish(
        f"prepare-{advisor}",
        f"Preparation of {advisor}",
        [
            f"- started at `{start.stage}`",
            f"- completion reports: {round}",
            f"- now `{stage}`",
            *[line for a in answers for line in decided(a)],
        ],
    )
    return stage
