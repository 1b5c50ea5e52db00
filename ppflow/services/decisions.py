"""Answers that people give to the questions flows wait on (screening outcome, match
confirmation, training completion). The first answer to a question wins; a second gets
a clear message saying who answered and when."""

from __future__ import annotations

from datetime import datetime

from ppflow.domain.commands import ScreeningOutcome
from ppflow.domain.errors import InvalidInputError, PPFlowError
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.model import Decision, TrainingModule
from ppflow.services.ports import Clock, UnitOfWork


class DecisionTakenError(PPFlowError):
    def __init__(self, decision: Decision):
        self.decision = decision
        super().__init__(
            f"the {decision.question} question for {decision.subject} was already answered "
            f"by {decision.actor} at {decision.at:%Y-%m-%d %H:%M} UTC: {decision.answer}"
        )


def record_decision(
    uow: UnitOfWork,
    flow_run_id: str,
    question: str,
    subject: str,
    answer: dict,
    actor: str,
    clock: Clock,
) -> Decision:
    """Store an answer. The same answer again is accepted (a resumed run records what the
    CLI already stored); a different one raises :class:`DecisionTakenError`."""
    now: datetime = clock.now()
    decision = Decision(flow_run_id, question, subject, dict(answer), actor, now)
    try:
        with uow:
            existing = uow.decisions.get(flow_run_id, question)
            if existing is None:
                uow.decisions.add(decision)
                uow.commit()
                return decision
    except PPFlowError:
        raise
    except Exception:  # lost a race on the unique (flow run, question) index
        with uow:
            existing = uow.decisions.get(flow_run_id, question)
        if existing is None:
            raise
    if existing.answer == decision.answer:
        return existing
    raise DecisionTakenError(existing)


def latest_decision(uow: UnitOfWork, subject: str, question: str) -> Decision | None:
    """The newest answer to ``question`` (any of its rounds) about ``subject``."""
    with uow:
        return uow.decisions.latest(subject, question)


# ------------------------------------------------- what a question offers, and its checks
# Each check looks at the current state and raises InvalidInputError saying what does not
# fit. ``ppflow answer`` calls it before it resumes a run; the run calls it again when it
# reads the answer, because the state may have changed in between.


class QuestionClosedError(InvalidInputError):
    """The subject has moved on (withdrawn, put on hold, decided elsewhere): the question
    no longer applies, whatever the answer. The run that asked it can end."""


SCREENING_OUTCOMES = {
    ScreeningOutcome.RETAINED: "Retained: consent and confidentiality agreement signed",
    ScreeningOutcome.NOT_RETAINED: "Not retained: give the reason",
    ScreeningOutcome.DECLINED: "Declined: the person said no",
}
SCREENING_STAGES = (AdvisorStage.INVITED, AdvisorStage.SCREENING)

# A form offers words, which a coordinator reads; ppflow keeps codes. Every path turns the
# words into codes when it reads an answer, and the CLI turns the codes it is given into
# the words the form offers before it sends an answer.
SCREENING_WORDS = {
    ScreeningOutcome.RETAINED: "Retained",
    ScreeningOutcome.NOT_RETAINED: "Not retained",
    ScreeningOutcome.DECLINED: "Declined",
}
NOBODY = "Nobody: turn every proposal down"  # the match form's choice of no advisor


def outcome_code(value: str) -> str:
    """The screening outcome's code, from its word ("Not retained") or its code."""
    for code, word in SCREENING_WORDS.items():
        if value in (word, code.value):
            return code.value
    return value  # left for the form to refuse, naming the choices


def in_words(question: str, values: dict) -> dict:
    """An answer given with codes (the CLI's), as the form offers it."""
    if question == "screening" and "outcome" in values:
        code = outcome_code(str(values["outcome"]))
        words = {c.value: w for c, w in SCREENING_WORDS.items()}
        return {**values, "outcome": words.get(code, values["outcome"])}
    if question == "training" and "modules" in values:
        return {**values, "modules": distinct(values["modules"])}
    return values


def distinct(codes) -> list[str]:
    """Each code once, in the order first given: a module named twice counts once."""
    return list(dict.fromkeys(str(c) for c in codes))


def what_it_does(question: str, subject: str, values: dict) -> str:
    """What an answer will do, said plainly (``ppflow answer`` prints it)."""
    if question == "screening":
        outcome = outcome_code(str(values.get("outcome", "")))
        return {
            "retained": f"{subject} is retained (consent and agreement recorded)",
            "not_retained": f"{subject} is not retained, with the reason given",
            "declined": f"{subject} declined",
        }.get(outcome, outcome)
    if question == "training":
        return f"{subject} completed {', '.join(distinct(values.get('modules', [])))}"
    if values.get("advisor") == NOBODY:
        return f"every advisor proposed for {subject} is turned down; nobody joins now"
    rate = values.get("hourly_rate") or 0
    pay = f"${rate:g} an hour" if rate else "the program's rate tiers"
    return (
        f"{values.get('advisor')} joins {subject} as {values.get('role') or 'member'}, "
        f"paid at {pay}"
    )


def check_screening(uow: UnitOfWork, advisor: str, outcome: str, reason: str) -> None:
    if ScreeningOutcome.parse(outcome) == ScreeningOutcome.NOT_RETAINED and not reason.strip():
        raise InvalidInputError("a reason is required when the person is not retained")
    with uow:
        stage = uow.advisors.get(advisor).stage
    if stage not in SCREENING_STAGES:
        raise QuestionClosedError(
            f"advisor {advisor} is '{stage}': the screening question no longer applies"
        )


def modules_to_complete(uow: UnitOfWork, advisor: str) -> list[TrainingModule]:
    """The required modules ``advisor`` has not completed yet, in catalogue order."""
    with uow:
        done = {r.module for r in uow.advisors.training(advisor) if r.completed_at}
        return [m for m in uow.training.list(required_only=True) if m.code not in done]


def check_training(uow: UnitOfWork, advisor: str, modules: list[str]) -> None:
    """The modules are known ones. A module completed already is no error: an answer is
    read again when a suspended run starts over, and completing a module twice changes
    nothing; the run asks again for what remains."""
    if not modules:
        raise InvalidInputError("name at least one completed module")
    with uow:
        stage = uow.advisors.get(advisor).stage
        known = {m.code for m in uow.training.list()}
    if stage != AdvisorStage.PREPARING:
        raise QuestionClosedError(
            f"advisor {advisor} is '{stage}': the training question no longer applies"
        )
    unknown = [m for m in modules if m not in known]
    if unknown:
        left = ", ".join(m.code for m in modules_to_complete(uow, advisor)) or "none"
        raise InvalidInputError(
            f"unknown module(s) {', '.join(unknown)}; required modules still to complete: {left}"
        )
