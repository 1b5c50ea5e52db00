"""Answering a waiting flow from outside the Prefect UI (``ppflow answer``): find the run
that waits, validate the answer with the same form the UI shows, store it (first answer
wins), and resume the run."""

from __future__ import annotations

from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from pydantic import ValidationError

from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.services.decisions import record_decision
from ppflow_flows.decisions import QUESTIONS
from ppflow_flows.runtime import application

RUN_NAMES = {"screening": "recruit/{}", "training": "prepare/{}", "match": "integrate/{}"}


def waiting_run(question: str, subject: str, flow_run_id: str | None = None):
    """The paused (or suspended) run that asks ``question`` about ``subject`` (the newest,
    or the one named by ``flow_run_id`` when several wait on the same team)."""
    name = RUN_NAMES[question].format(subject)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[name]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
            ),
        )
    runs = [
        r
        for r in runs
        if (r.state.state_details.pause_key or "").startswith(question)
        and (flow_run_id is None or str(r.id) == flow_run_id)
    ]
    if not runs:
        raise NotFoundError(f"run waiting for a {question} answer", name)
    return max(runs, key=lambda r: r.expected_start_time or r.created)


def answer(
    question: str, subject: str, values: dict, actor: str, flow_run_id: str | None = None
) -> str:
    """Validate, store and deliver one answer; returns the resumed flow run id."""
    form = QUESTIONS[question]
    try:
        validated = form(**values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidInputError(f"invalid {question} answer: {problems}") from None
    run = waiting_run(question, subject, flow_run_id)
    payload = validated.model_dump()
    app = application()
    record_decision(
        app.uow(),
        str(run.id),
        run.state.state_details.pause_key,
        subject,
        payload,
        actor,
        app.clock,
    )
    resume_flow_run(run.id, run_input=payload)
    return str(run.id)
