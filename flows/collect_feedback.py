"""collect-feedback: ask the advisor and the team about their partnership experience,
and remind those who have not answered."""

from __future__ import annotations

from dataclasses import replace

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.results import FeedbackResult
from ppflow_flows.runtime import publish, tag_run


@flow(name="collect-feedback", flow_run_name="feedback/{engagement}")
def collect_feedback(
    engagement: str, round: int = 1, remind_after_days: int = 14
) -> FeedbackResult:
    tag_run("stage:feedback", f"engagement:{engagement}")
    status = tasks.open_feedback(engagement, round)
    reminded = tasks.remind_feedback(engagement, remind_after_days)
    publish(
        f"feedback-{engagement}",
        f"Feedback on {engagement}",
        [
            f"- questionnaires open: {status.opened}",
            f"- answered: {status.answered}",
            f"- reminded now: {reminded}",
        ],
    )
    return replace(status, reminded_now=reminded)
