"""The questions flows ask people, as Prefect RunInput forms, and how a flow waits.

A run started by a deployment is *suspended*: it holds no process while it waits, and it
survives restarts of the server and the worker. A run started directly (scripts, tests,
the demo) is *paused* and its process polls. Either way the answer can come from the form
in the Prefect UI or from ``ppflow answer``."""

from __future__ import annotations

from typing import Literal

from prefect import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.states import Failed
from pydantic import Field, model_validator

from ppflow_flows.runtime import application


class ScreeningOutcome(RunInput):
    """The coordinator's decision after the screening conversation."""

    outcome: Literal["retained", "not_retained", "declined"] = Field(
        description="retained: consent and confidentiality agreement signed; "
        "not_retained: a reason is required; declined: the person said no"
    )
    reason: str = Field(default="", description="Why (required when not retained)")
    consent_wording_version: str = Field(default="v1", description="Consent form version")

    @model_validator(mode="after")
    def _reason_when_not_retained(self):
        if self.outcome == "not_retained" and not self.reason.strip():
            raise ValueError("a reason is required when the person is not retained")
        return self


class TrainingCompletion(RunInput):
    modules: list[str] = Field(description="Codes of the modules the advisor has completed")


class MatchConfirmation(RunInput):
    advisor: str = Field(description="Code of the advisor to place, e.g. PA-7K3M9Q")
    confirm: bool = Field(default=True, description="False turns every proposal down")
    role: str = Field(default="member")
    hourly_rate: float | None = Field(default=None, description="CAD per hour, if paid")


QUESTIONS: dict[str, type[RunInput]] = {
    "screening": ScreeningOutcome,
    "training": TrainingCompletion,
    "match": MatchConfirmation,
}


def wait_for(question: str, key: str | None = None):
    """Wait for a person's answer to ``question``; returns the validated form."""
    settings = application().settings
    timeout = int(settings.decision_timeout_hours * 3600)
    form = QUESTIONS[question]
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    if flow_run is not None and flow_run.deployment_id and flow_run.parent_task_run_id is None:
        return suspend_flow_run(wait_for_input=form, timeout=timeout, key=key or question)
    try:
        return pause_flow_run(
            wait_for_input=form,
            timeout=timeout,
            poll_interval=settings.decision_poll_seconds,
            key=key or question,
        )
    except FlowPauseTimeout:
        # Prefect refuses any move out of a timed-out pause except to a failure; the run
        # is failed here under the name a manager can filter on.
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(
                flow_run.id,
                Failed(name="Expired", message=f"no {question} decision in time"),
                force=True,
            )
        return None
