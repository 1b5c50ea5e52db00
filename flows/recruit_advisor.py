"""recruit-advisor: invitation, then the screening outcome decided by a person."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, Failed

from ppflow.domain.lifecycle import AdvisorStage
from ppflow_flows import decisions, tasks
from ppflow_flows.runtime import earlier_run_in_progress, logger, publish, tag_run

WAITING = (AdvisorStage.INVITED, AdvisorStage.SCREENING)


@flow(name="recruit-advisor", flow_run_name="recruit/{advisor}")
def recruit_advisor(advisor: str, team: str | None = None):
    """``team``, when given, is the QI team this onboarding aims at: it travels with the
    chain to the integration stage."""
    first = earlier_run_in_progress(advisor=advisor)
    if first:
        return duplicate(f"recruit/{advisor}", first)
    start = tasks.describe_advisor(advisor)
    tag_run("stage:recruit", f"program:{start.program}" if start.program else "")
    stage = start.stage
    if stage == AdvisorStage.IDENTIFIED:
        stage = tasks.invite(advisor, team).to_state
        logger().info("recruit/%s: invitation queued", advisor)
    answer = None
    if stage in WAITING:
        question = decisions.screening(advisor, stage)
        answer = decisions.ask(question)
        if answer is None:
            return expired(advisor, stage)
        stage = tasks.describe_advisor(advisor).stage
        if not answer.closed and stage in WAITING:  # not if the person withdrew meanwhile
            values = decisions.accepted(answer, question)
            tasks.record_answer(answer.key, advisor, answer.values, answer.actor)
            stage = tasks.record_screening(
                advisor,
                values["outcome"],
                values["reason"],
                values["consent_wording_version"],
                answer.actor,
                team,
            ).to_state
        logger().info("recruit/%s: now %s", advisor, stage)
        decisions.forget_typed_text(answer)
    publish(
        f"recruit-{advisor}",
        f"Recruitment of {advisor}",
        [f"- started at `{start.stage}`", f"- now `{stage}`", *decided(answer)],
    )
    return stage


def decided(answer: decisions.Answer | None) -> list[str]:
    """Artifact lines: the decision, its reason and who gave it."""
    if answer is None:
        return []
    if answer.closed:
        return [f"- no decision applied: {answer.closed}"]
    shown = {
        k: v
        for k, v in answer.values.items()
        if k not in ("answered_by", *decisions.FREE_TEXT) and v not in ("", None)
    }
    lines = [f"- decision: {', '.join(f'{k} `{v}`' for k, v in shown.items())}"]
    if any(answer.values.get(k) for k in decisions.FREE_TEXT):  # ppflow keeps it
        lines.append("- reason: recorded in ppflow (`ppflow advisor history`)")
    return [*lines, f"- decided by: {answer.actor}"]


def duplicate(name: str, first: str):
    """A second run of a stage for the same subject stops here: the first does the work."""
    logger().info("%s is already in progress in flow run %s; this run does nothing", name, first)
    return Completed(name="Duplicate", message=f"{name} already runs as flow run {first}")


def expired(subject: str, stage: str):
    """A decision nobody gave in time ends the run in a named state; the case stays where
    it was and shows in the reminders."""
    publish(
        f"expired-{subject}",
        f"No decision for {subject}",
        [f"- the wait ran out with {subject} at `{stage}`"],
    )
    return Failed(name="Expired", message=f"no decision for {subject} in time; still {stage}")
