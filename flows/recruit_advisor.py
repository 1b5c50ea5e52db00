"""recruit-advisor: invitation, then the screening outcome decided by a person."""

from __future__ import annotations

from prefect import flow
from prefect.states import Failed

from ppflow_flows import tasks
from ppflow_flows.decisions import wait_for
from ppflow_flows.runtime import publish, tag_run

WAITING = ("invited", "screening")


@flow(name="recruit-advisor", flow_run_name="recruit/{advisor}")
def recruit_advisor(advisor: str):
    start = tasks.describe_advisor(advisor)
    tag_run("stage:recruit", f"program:{start['program']}" if start["program"] else "")
    stage = start["stage"]
    if stage == "identified":
        stage = tasks.invite(advisor)["to"]
    if stage in WAITING:
        answer = wait_for("screening")
        if answer is None:
            return expired(advisor, stage)
        tasks.record_answer("screening", advisor, answer.model_dump())
        stage = tasks.describe_advisor(advisor)["stage"]
        if stage in WAITING:  # not if the person withdrew or was put on hold meanwhile
            stage = tasks.record_screening(
                advisor, answer.outcome, answer.reason, answer.consent_wording_version
            )["to"]
    publish(
        f"recruit-{advisor}",
        f"Recruitment of {advisor}",
        [f"- started at `{start['stage']}`", f"- now `{stage}`"],
    )
    return stage


def expired(subject: str, stage: str):
    """A decision nobody gave in time ends the run in a named state; the case stays where
    it was and shows in the reminders."""
    publish(
        f"expired-{subject}",
        f"No decision for {subject}",
        [f"- the wait ran out with {subject} at `{stage}`"],
    )
    return Failed(name="Expired", message=f"no decision for {subject} in time; still {stage}")
