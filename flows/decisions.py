"""The questions flows ask people, and how a flow waits for the answer.

Each wait builds its form for that run: it names the advisor or team, offers the real
choices (outcomes, the required modules still to complete, the proposed advisors with
their scores) and asks only for what applies. Prefect's server refuses an answer that does
not fit the form, on every path (the UI, ``ppflow answer``, the API). When the run reads an
answer it checks it again against the current state; one that no longer fits is logged with
the reason and the run waits again, under a new key. It never fails the run.

A run started by a deployment is *suspended*: it holds no process while it waits, and it
survives restarts of the server and the worker. A run started directly (scripts, tests,
the demo) is *paused* and its process polls (``PPFLOW_DECISION_POLL_SECONDS``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, cast

from prefect.client.schemas.responses import SetStateStatus
from prefect.exceptions import Abort, FlowPauseTimeout, PrefectHTTPStatusError
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput, keyset_from_base_key, keyset_from_paused_state
from prefect.states import Failed, Paused, State
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
    ValidationError,
    create_model,
)

from ppflow.domain.errors import PPFlowError
from ppflow.services import decisions
from ppflow.services.decisions import QuestionClosedError
from ppflow_flows.results import Proposal
from ppflow_flows.runtime import application, client, current_flow_run, deployed, logger

UI_ACTOR = "prefect-ui"
PRIVACY_NOTE = "Codes only here: no names, contact details or health details."


# The service's rule "a reason when not retained", said in the form's JSON schema, so that
# Prefect's server refuses an answer without one before it resumes the run.
REASON_WHEN_NOT_RETAINED = {
    "if": {
        "properties": {
            "outcome": {"const": decisions.SCREENING_WORDS[decisions.REASON_NEEDED_FOR]}
        },
        "required": ["outcome"],
    },
    "then": {"required": ["reason"], "properties": {"reason": {"pattern": "\\S"}}},
}


@dataclass
class Question:
    """One question about one subject (an advisor or a team), for one run."""

    name: str  # screening, training or match: the first part of the pause key
    subject: str
    description: str  # markdown shown above the form in the Prefect UI
    fields: dict[str, Any] = field(default_factory=dict)  # pydantic field definitions
    key: str = ""  # pause key of the first attempt; the name when empty
    rules: dict[str, Any] | None = None  # JSON schema rules across fields

    def pause_keys(self):
        """The pause key of each attempt: the first, then one more for each refusal."""
        base = self.key or self.name
        yield base
        attempt = 2
        while True:
            yield f"{base}-{attempt}"
            attempt += 1

    @cached_property
    def form(self) -> type[RunInput]:
        """The form for this question, built once: the schema the UI shows and the model
        every answer is read with."""
        base: type[RunInput] = RunInput
        if self.rules:
            base = cast(
                "type[RunInput]",
                type(
                    "RuledInput",
                    (RunInput,),
                    {"model_config": {**RunInput.model_config, "json_schema_extra": self.rules}},
                ),
            )
        model = create_model(
            f"{self.name.title()}Answer",
            __base__=base,
            __doc__=f"The {self.name} answer about {self.subject}.",
            **self.fields,
            # last: the form shows the choices first
            answered_by=(
                str,
                Field(
                    default="",
                    title="Answered by",
                    description="Your name or initials, recorded as the person who decided",
                ),
            ),
        )
        return model.with_initial_data(description=self.description)


@dataclass(frozen=True)
class Answer:
    key: str  # the pause key it was given under (screening, screening-2, ...)
    values: dict
    actor: str
    closed: str | None = None  # why the question no longer applies; then nothing is applied


# ----------------------------------------------------------------- the three questions


def _words(words: list[str], to_code: Callable[[str], str] | None = None):
    """A choice among ``words``: the form lists them as they are; the answer is read back
    as its code when ``to_code`` is given (which also takes the code itself)."""
    choice = Literal[tuple(words)]  # type: ignore[valid-type]
    if to_code is None:
        return choice
    words_of = {to_code(w): w for w in words}
    return Annotated[choice, BeforeValidator(lambda v: words_of.get(v, v)), AfterValidator(to_code)]


def stage_in_words(stage: str) -> str:
    """An advisor's stage as the forms' readers say it (the forms are in English)."""
    from ppflow.services.wording import shipped_wording

    return shipped_wording(application().settings.templates_dir).stage("advisor", stage, "en")


def screening(advisor: str, stage: str) -> Question:
    words = list(decisions.SCREENING_WORDS.values())
    return Question(
        "screening",
        advisor,
        f"## Screening outcome for advisor {advisor}\n\n"
        f"The advisor is {stage_in_words(stage).lower()}. Choose the outcome of the screening "
        "conversation. "
        f"{PRIVACY_NOTE}",
        {
            "outcome": (
                _words(words, decisions.outcome_code),
                Field(
                    title="Outcome",
                    description=". ".join(decisions.SCREENING_OUTCOMES.values()) + ".",
                ),
            ),
            "reason": (
                str,
                Field(
                    default="",
                    title="Reason for not retaining",
                    description="Needed only when the outcome is Not retained",
                    max_length=decisions.REASON_MAX_LENGTH,
                ),
            ),
            "consent_wording_version": (
                str,
                Field(
                    default=decisions.DEFAULT_CONSENT_WORDING,
                    title="Consent form version",
                    description="When retained: the version of the consent form signed",
                ),
            ),
        },
        rules=REASON_WHEN_NOT_RETAINED,
    )


def training(advisor: str, round: int = 1) -> Question:
    """The required modules still to complete, to tick. The form offers those only; the
    run reads any known module (an answer given in an earlier round is read again when a
    suspended run starts over, after its modules were completed)."""
    left = decisions.modules_to_complete(application().uow(), advisor)
    lines = "\n".join(f"- `{m.code}`: {m.title}" for m in left) or "- none"
    codes: list[JsonValue] = [m.code for m in left] or ["-"]
    return Question(
        "training",
        advisor,
        f"## Training completed by advisor {advisor}\n\n"
        f"Required modules still to complete:\n\n{lines}\n\n"
        "Tick those the advisor has completed, one or several: the run asks again for "
        "the others, and the advisor is ready once all are done.",
        key=f"training-{round}",
        fields={
            "modules": (
                list[str],
                Field(
                    title="Modules completed",
                    description="Still to complete: "
                    + ", ".join(f"{m.code} ({m.title})" for m in left),
                    min_length=decisions.MODULES_AT_LEAST,
                    json_schema_extra={"items": {"type": "string", "enum": codes}},
                ),
            )
        },
    )


def match(team: str, proposals: list[Proposal], wanted: str | None = None) -> Question:
    """Which advisor joins the team. A run started for an advisor asks about that advisor
    and pre-selects it; the others are alternatives, never pre-selected. Otherwise nothing
    is pre-selected. Turning every proposal down is one of the choices."""
    codes = [p.advisor for p in proposals]
    listed = ", ".join(f"`{p.advisor}` (score {p.score})" for p in proposals)
    if wanted and wanted not in codes:
        ask = (
            f"This onboarding was started for advisor {wanted}, who is not ready to join: "
            f"choose another, or turn every proposal down.\n\nProposed: {listed}."
        )
        wanted = None
    elif wanted:
        ask = (
            f"This onboarding was started for advisor **{wanted}**: place {wanted}, "
            f"choose another, or turn every proposal down.\n\nProposed: {listed}."
        )
    else:
        ask = f"Proposed, best first: {listed}.\n\nChoose one, or turn every proposal down."
    title, description = "Advisor to place", "An advisor joins, or nobody does"
    chosen = (
        Field(default=wanted, title=title, description=description)
        if wanted
        else Field(title=title, description=description)
    )
    return Question(
        "match",
        team,
        f"## Advisor to place in QI team {team}\n\n{ask} The artifact "
        f"`matches-{team.lower()}` explains each score.",
        {
            "advisor": (_words([*codes, decisions.NOBODY]), chosen),
            "role": (
                str,
                Field(
                    default=decisions.DEFAULT_ROLE,
                    title="Role in the team",
                    max_length=decisions.ROLE_MAX_LENGTH,
                ),
            ),
            "hourly_rate": (
                float,
                Field(
                    default=decisions.RATE_TIERS,
                    ge=decisions.RATE_TIERS,
                    le=decisions.HOURLY_RATE_CEILING,
                    title="Hourly rate ($ CAD)",
                    description="0 pays by the program's rate tiers",
                ),
            ),
        },
        # the advisor is asked for even when pre-selected: the form does not call it
        # optional, and an answer through the API names the advisor too
        rules={"required": ["advisor"]},
    )


# ------------------------------------------------------------------------- checking


def check_state(question: str, subject: str, values: dict) -> None:
    """Whether an answer fits its rules and the current state (the service's check, which
    ``ppflow answer`` calls too); raises PPFlowError saying why not."""
    decisions.check_answer(application().uow(), question, subject, values)


def plain(error: ValidationError) -> str:
    """Pydantic's errors, said plainly: 'field: message; ...'."""
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "answer"
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def problem_with(question: Question, values: dict) -> str | None:
    """Why an answer cannot be used now, or None when it can. Raises
    QuestionClosedError when no answer could be used any more."""
    try:
        parsed = question.form.model_validate(values)
    except ValidationError as error:
        return plain(error)
    checked = parsed.model_dump(mode="json", exclude={"answered_by"})
    try:
        check_state(question.name, question.subject, checked)
    except QuestionClosedError:
        raise
    except PPFlowError as error:
        return str(error)
    return None


# -------------------------------------------------------------------------- waiting
# In-process waits (the demo, tests) are woken at once when the answer is given from the
# same process, and otherwise look at the server every PPFLOW_DECISION_POLL_SECONDS. Code
# that plays the coordinator in-process (the demo) can be told when a run starts waiting,
# instead of asking the server again and again.

_wakers: dict[str, threading.Event] = {}
_wakers_lock = threading.Lock()
_listeners: list[Callable[[Any, str], None]] = []


def wake(flow_run_id: str) -> None:
    """An answer was delivered to ``flow_run_id``: a pause of this process stops waiting."""
    with _wakers_lock:
        event = _wakers.get(str(flow_run_id))
    if event is not None:
        event.set()


def on_wait(listener: Callable[[Any, str], None]) -> Callable[[], None]:
    """Call ``listener(flow_run, pause_key)`` whenever a run of this process starts
    waiting; returns the function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _pause_here(form: type[RunInput], timeout: int, poll: float, key: str) -> None:
    """Pause the current run (in-process) until it is resumed, like Prefect's
    ``pause_flow_run``, but woken as soon as this process delivers the answer."""
    run = current_flow_run()
    proposed: State[Any] = Paused(timeout_seconds=timeout, reschedule=False, pause_key=key)
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = cast("dict[str, str]", keyset)
    woken = threading.Event()
    with _wakers_lock:
        _wakers[str(run.id)] = woken
    try:
        state = _propose(proposed, run.id)
        if state.is_running():
            return  # answered in an earlier execution
        if not state.is_paused():
            raise RuntimeError(f"{run.name} cannot wait: it is {state.type.value}")
        form.save(keyset, flow_run_id=run.id)
        for listener in list(_listeners):
            listener(run, key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            woken.wait(poll)
            woken.clear()
            state = client().read_flow_run(run.id).state
            if state.is_running():
                return
            if state.is_final():  # cancelled while it waited (the advisor withdrew)
                raise Abort(f"{run.name} is {state.name}: {state.message}")
        raise FlowPauseTimeout("no answer in time")
    finally:
        with _wakers_lock:
            _wakers.pop(str(run.id), None)


def _propose(state: State, flow_run_id) -> State:
    """Propose ``state`` for a run through Prefect's orchestration (not forced): the state
    the run is in afterwards, the proposed one when accepted, the server's when refused
    (a run already resumed stays Running). Waits as long as the server asks to, and raises
    Abort when it aborts the proposal."""
    while True:
        result = client().set_flow_run_state(flow_run_id, state, force=False)
        if result.status == SetStateStatus.WAIT:
            time.sleep(getattr(result.details, "delay_seconds", 1))
            continue
        if result.status == SetStateStatus.ABORT:
            raise Abort(getattr(result.details, "reason", None) or "the server aborted the move")
        if result.state is None:
            raise RuntimeError(f"the server answered {result.status.value} without a state")
        return result.state


def _state_name() -> str:
    return "suspended" if deployed() else "paused"


def _input(key: str) -> str | None:
    run = current_flow_run()
    try:
        return client().read_flow_run_input(run.id, key)
    except PrefectHTTPStatusError as error:
        if error.response.status_code == 404:
            return None
        raise


REJECTED = "ppflow-rejected-"


def _rejected_keys() -> set[str]:
    """The pause keys whose answers this run refused, in any earlier execution."""
    run = current_flow_run()
    found = client().filter_flow_run_input(run.id, REJECTED, 1000, set())
    return {i.key.removeprefix(REJECTED) for i in found}


def ask(question: Question) -> Answer | None:
    """Wait until a person gives an answer that fits; None if nobody answers in time."""
    settings = application().settings
    timeout = int(settings.decision_timeout_hours * 3600)
    log = logger()
    run = current_flow_run()
    refused = _rejected_keys()
    for key in question.pause_keys():
        # A suspended run starts again from the top when resumed: answers it refused in an
        # earlier execution are skipped, so a refused answer never comes back to life.
        if key in refused:
            continue
        log.info("%s waits for the %s answer about %s", run.name, question.name, question.subject)
        form = question.form
        try:
            if deployed():
                suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
            else:
                _pause_here(form, timeout, settings.decision_poll_seconds, key)
        except ValidationError:
            pass  # read below as sent, and explained
        except FlowPauseTimeout:
            # Prefect refuses any move out of a timed-out pause except to a failure; the run
            # is failed here under the name a manager can filter on.
            client().set_flow_run_state(
                run.id,
                Failed(name="Expired", message=f"no {question.name} decision in time"),
                force=True,
            )
            return None
        sent = _input(keyset_from_base_key(f"{_state_name()}-{key}")["response"])
        values = json.loads(sent) if sent else {}
        actor = str(values.get("answered_by") or "").strip() or UI_ACTOR
        try:
            problem = problem_with(question, values)
        except QuestionClosedError as closed:
            log.info("%s: %s; the run ends without applying the answer", run.name, closed)
            return Answer(key, values, actor, closed=str(closed))
        if problem is None:
            log.info(
                "%s: the %s answer about %s was given by %s",
                run.name,
                question.name,
                question.subject,
                actor,
            )
            return Answer(key, values, actor)
        log.warning(
            "%s: the %s answer about %s was refused (%s); waiting for another",
            run.name,
            question.name,
            question.subject,
            problem,
        )
        client().create_flow_run_input(run.id, REJECTED + key, json.dumps(problem))
    raise AssertionError("pause_keys() never runs out")


# Answer fields a person types freely. They may name someone, so once the run has recorded
# the answer in ppflow's database (where erasure reaches it), Prefect keeps none of it.
FREE_TEXT = ("reason",)
KEPT_IN_PPFLOW = "(recorded in ppflow)"


def forget_typed_text(answer: Answer | None) -> None:
    """Replace the free text of an answer, in the run input Prefect keeps, by a note that
    ppflow has it. Call it once the answer is recorded and applied: should the run execute
    again, the note still passes the form, and the replayed request changes nothing."""
    if answer is None or not any(answer.values.get(k) for k in FREE_TEXT):
        return
    run = current_flow_run()
    key = keyset_from_base_key(f"{_state_name()}-{answer.key}")["response"]
    kept = {**answer.values, **{k: KEPT_IN_PPFLOW for k in FREE_TEXT if answer.values.get(k)}}
    client().delete_flow_run_input(run.id, key)
    client().create_flow_run_input(run.id, key, json.dumps(kept))


def accepted(answer: Answer, question: Question) -> dict:
    """The answer's values as the form reads them (enums as their codes)."""
    return question.form.model_validate(answer.values).model_dump(mode="json")
