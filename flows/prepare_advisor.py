"""prepare-advisor: enrol the required modules, record completions, then 'ready'."""

from __future__ import annotations

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.decisions import wait_for
from ppflow_flows.recruit_advisor import expired
from ppflow_flows.runtime import publish, tag_run

MAX_ROUNDS = 12  # completions can be reported module by module


@flow(name="prepare-advisor", flow_run_name="prepare/{advisor}")
def prepare_advisor(advisor: str):
    start = tasks.describe_advisor(advisor)
    tag_run("stage:prepare", f"program:{start['program']}" if start["program"] else "")
    stage = start["stage"]
    if stage == "recruited":
        stage = tasks.enrol(advisor)["to"]
    round = 0
    while stage == "preparing" and round < MAX_ROUNDS:
        round += 1
        answer = wait_for("training", key=f"training-{round}")
        if answer is None:
            return expired(advisor, stage)
        tasks.record_answer(f"training-{round}", advisor, answer.model_dump())
        stage = tasks.complete_modules(advisor, answer.modules, round)
    publish(
        f"prepare-{advisor}",
        f"Preparation of {advisor}",
        [f"- started at `{start['stage']}`", f"- completion reports: {round}", f"- now `{stage}`"],
    )
    return stage
