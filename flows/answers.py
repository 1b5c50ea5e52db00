"""Answering a waiting flow from outside the Prefect UI (``ppflow answer``): find the run
that waits, put the answer in the words its form offers (codes are accepted: "not_retained"
is the form's "Not retained"), check it against that form and against the current state,
store it (the first answer wins), and resume the run. A refused answer leaves the run
waiting and says why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from jsonschema import Draft202012Validator
from prefect.client.schemas.responses import SetStateStatus

from ppflow.domain.errors import InvalidInputError, NotFoundError, PPFlowError
from ppflow.services.decisions import (
    REASON_REQUIRED,
    QuestionClosedError,
    in_words,
    latest_decision,
    record_decision,
)
from ppflow_flows.decisions import check_state, wake
from ppflow_flows.runtime import application, client, paused_runs

RUN_NAMES = {"screening": "recruit/{}", "training": "prepare/{}", "match": "integrate/{}"}


class NoRunWaitingError(PPFlowError):
    pass


@dataclass(frozen=True)
class OpenQuestion:
    """A decision a run waits for: the question, the advisor or team it is about, since
    when, and the run that asks it."""

    question: str  # screening, training or match
    subject: str
    since: datetime
    flow_run_id: str
    run_name: str


# the parameter of each asking stage's run that names what the question is about
SUBJECT_PARAMETER = {"screening": "advisor", "training": "advisor", "match": "team"}


def open_questions() -> list[OpenQuestion]:
    """Every decision a run is waiting for, oldest first (one paged read of the waiting
    runs); the question comes from the pause key, its subject from the run's parameters."""
    found = []
    for run in paused_runs():
        key = (run.state.state_details.pause_key or "") if run.state else ""
        question = key.split("-")[0]
        subject = (run.parameters or {}).get(SUBJECT_PARAMETER.get(question, ""), "")
        if question in SUBJECT_PARAMETER and subject:
            since = run.state.timestamp if run.state else run.created
            found.append(OpenQuestion(question, subject, since, str(run.id), run.name))
    return sorted(found, key=lambda q: q.since)


def waiting_run(question: str, subject: str, flow_run_id: str | None = None):
    """The paused (or suspended) run that asks ``question`` about ``subject`` (the newest,
    or the one named by ``flow_run_id`` when several wait on the same team)."""
    name = RUN_NAMES[question].format(subject)
    runs = [
        r
        for r in paused_runs([name])
        if (r.state.state_details.pause_key or "").startswith(question)
        and (flow_run_id is None or str(r.id) == flow_run_id)
    ]
    if runs:
        return max(runs, key=lambda r: r.expected_start_time or r.created)
    earlier = latest_decision(application().uow(), subject, question)
    if earlier is not None:
        raise NoRunWaitingError(
            f"no run of {name} waits for a {question} answer now: it was answered by "
            f"{earlier.actor} at {earlier.at:%Y-%m-%d %H:%M} UTC"
        )
    raise NotFoundError(f"run waiting for a {question} answer", name)


def form_problems(run, values: dict) -> list[str]:
    """What does not fit the form this run shows in the Prefect UI: its stored JSON schema,
    read with the JSON Schema validator Prefect's server checks answers with."""
    keyset = run.state.state_details.run_input_keyset or {}
    if "schema" not in keyset:
        return []
    schema = json.loads(client().read_flow_run_input(run.id, keyset["schema"]))
    problems = []
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(values):
        where = ".".join(str(p) for p in error.path if not isinstance(p, int)) or "answer"
        if error.validator == "enum":
            offered = ", ".join(map(str, error.validator_value))
            problems.append(f"{where}: {error.instance} is not one of those offered ({offered})")
        elif error.validator in ("pattern", "required") and "reason" in (where + error.message):
            problems.append(REASON_REQUIRED)
        else:
            problems.append(f"{where}: {error.message}")
    return problems


def answer(
    question: str, subject: str, values: dict, actor: str, flow_run_id: str | None = None
) -> str:
    """Check, store and deliver one answer; returns the resumed flow run id. Raises
    InvalidInputError, saying why, when the answer does not fit: the run still waits."""
    run = waiting_run(question, subject, flow_run_id)
    payload = {**in_words(question, values), "answered_by": actor}
    problems = []
    try:
        check_state(question, subject, payload)
    except QuestionClosedError as closed:
        # nothing to decide any more: the run is resumed so that it ends, and it applies
        # nothing (it finds the question closed too)
        _resume(run, payload)
        raise QuestionClosedError(f"{closed}; {run.name} was ended") from None
    except PPFlowError as error:
        problems.append(str(error))
    problems = problems or form_problems(run, payload)
    if problems:
        raise InvalidInputError(
            f"the {question} answer for {subject} was not sent: {'; '.join(problems)}. "
            f"{run.name} still waits."
        )
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
    _resume(run, payload)
    return str(run.id)


def _resume(run, payload: dict) -> None:
    response = client().resume_flow_run(run.id, run_input=payload)
    if response.status != SetStateStatus.ACCEPT:
        reason = getattr(response.details, "reason", None) or response.status.value
        raise InvalidInputError(f"{run.name} was not resumed: {reason}")
    wake(run.id)  # a run waiting in this process goes on at once
