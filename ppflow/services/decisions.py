"""Answers that people give to the questions flows wait on (screening outcome, match
confirmation, training completion). The first answer to a question wins; a second gets
a clear message saying who answered and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ppflow.domain.commands import ScreeningOutcome
from ppflow.domain.errors import InvalidInputError, PPFlowError
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.model import Decision, TrainingModule
from ppflow.services import words
from ppflow.services.integration import check_match
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
    """The screening outcome's code, from its word ("Not retained") or its code, or its
    name in French or English in any case, accents optional ("non retenue")."""
    for code, word in SCREENING_WORDS.items():
        if value in (word, code.value):
            return code.value
    try:
        return words.choice("outcome", value, "fr")  # French, English and the codes
    except InvalidInputError:
        return value  # left for the form to refuse, naming the choices


def rate_given(rate: float | str | None) -> float | None:
    """An hourly rate as a number: one typed as text may have a decimal comma ("25,50")."""
    if isinstance(rate, str):
        if not rate.strip():
            return None
        try:
            return float(words.amount(rate, "en"))
        except InvalidInputError as error:
            raise InvalidInputError(f"hourly_rate: {error}") from None
    return rate


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
    rate = hourly_rate_paid(values.get("hourly_rate"))
    pay = f"${rate:g} an hour" if rate else "the program's rate tiers"
    return (
        f"{values.get('advisor')} joins {subject} as {values.get('role') or DEFAULT_ROLE}, "
        f"paid at {pay}"
    )


# ------------------------------------------------------------ the rules of each answer
# Plain values in, InvalidInputError out. The forms in the Prefect UI state the same limits
# in their schema (built from these constants), so the UI and Prefect's server refuse early
# what these checks would refuse; these checks are what every path calls.

REASON_NEEDED_FOR = ScreeningOutcome.NOT_RETAINED  # the outcome that must say why
REASON_REQUIRED = "a reason is required when the person is not retained"
REASON_MAX_LENGTH = 500
DEFAULT_CONSENT_WORDING = "v1"
DEFAULT_ROLE = "member"
ROLE_MAX_LENGTH = 40
HOURLY_RATE_CEILING = 500  # dollars an hour
RATE_TIERS = 0  # the hourly rate that means "pay by the program's rate tiers"; the lowest
MODULES_AT_LEAST = 1  # a training answer names at least this many completed modules


def reason_needed(outcome: str) -> bool:
    """Whether this screening outcome (its word or its code) must give a reason."""
    return outcome_code(str(outcome)) == REASON_NEEDED_FOR.value


def check_reason(outcome: str, reason: str) -> None:
    """A reason, not blank, when not retained; never longer than the form allows."""
    if reason_needed(outcome) and not str(reason or "").strip():
        raise InvalidInputError(REASON_REQUIRED)
    if len(str(reason or "")) > REASON_MAX_LENGTH:
        raise InvalidInputError(f"reason: at most {REASON_MAX_LENGTH} characters")


def check_role(role: str) -> None:
    """The advisor's role in the team: up to ``ROLE_MAX_LENGTH`` characters."""
    if len(str(role)) > ROLE_MAX_LENGTH:
        raise InvalidInputError(f"role: at most {ROLE_MAX_LENGTH} characters")


def check_hourly_rate(rate: float | None) -> None:
    """An hourly rate from 0 (the rate tiers) up to the ceiling."""
    rate = rate_given(rate)
    if rate is None:
        return
    if not RATE_TIERS <= float(rate) <= HOURLY_RATE_CEILING:
        raise InvalidInputError(
            f"hourly_rate: from 0 (the program's rate tiers) to {HOURLY_RATE_CEILING} dollars"
        )


def hourly_rate_paid(rate: float | None) -> float | None:
    """The rate an engagement records: None, the program's rate tiers, for 0 (or none)."""
    rate = rate_given(rate)
    if rate is None or float(rate) == RATE_TIERS:
        return None
    return float(rate)


@dataclass(frozen=True)
class MatchPlacement:
    """What a match answer places: the advisor, their role in the team, and the hourly
    rate the engagement records (None: the program's rate tiers)."""

    advisor: str
    role: str
    hourly_rate: float | None


def placement(values: dict) -> MatchPlacement | None:
    """The placement a checked match answer asks for, or None when it turns every
    proposal down. A rate of 0 (or none) pays by the program's rate tiers."""
    if values["advisor"] == NOBODY:
        return None
    return MatchPlacement(
        values["advisor"],
        values.get("role", DEFAULT_ROLE),
        hourly_rate_paid(values.get("hourly_rate")),
    )


def unknown_modules(modules: list[str], known: set[str]) -> list[str]:
    """The modules of an answer that the catalogue does not hold, in the order given."""
    return [m for m in modules if m not in known]


def check_match_answer(values: dict) -> None:
    """A match answer names an advisor (or nobody); a placement's role and rate fit."""
    if not values.get("advisor"):
        raise InvalidInputError("name the advisor to place, or turn every proposal down")
    if values["advisor"] == NOBODY:
        return
    check_role(values.get("role", DEFAULT_ROLE))
    check_hourly_rate(values.get("hourly_rate"))


def check_answer(uow: UnitOfWork, question: str, subject: str, values: dict) -> None:
    """Whether an answer fits its question's rules and the current state; raises
    InvalidInputError (QuestionClosedError when no answer applies any more) saying why.
    ``ppflow answer`` calls it before it resumes a run, and the run when it reads one."""
    if question == "screening":
        outcome = outcome_code(str(values["outcome"]))
        check_screening(uow, subject, outcome, values.get("reason", ""))
    elif question == "training":
        check_training(uow, subject, distinct(values["modules"]))
    elif question == "match":
        check_match_answer(values)
        if values["advisor"] != NOBODY:
            check_match(uow, subject, values["advisor"])


def check_screening(uow: UnitOfWork, advisor: str, outcome: str, reason: str) -> None:
    ScreeningOutcome.parse(outcome)
    check_reason(outcome, reason)
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
    if len(modules) < MODULES_AT_LEAST:
        raise InvalidInputError("name at least one completed module")
    with uow:
        stage = uow.advisors.get(advisor).stage
        known = {m.code for m in uow.training.list()}
    if stage != AdvisorStage.PREPARING:
        raise QuestionClosedError(
            f"advisor {advisor} is '{stage}': the training question no longer applies"
        )
    unknown = unknown_modules(modules, known)
    if unknown:
        left = ", ".join(m.code for m in modules_to_complete(uow, advisor)) or "none"
        raise InvalidInputError(
            f"unknown module(s) {', '.join(unknown)}; required modules still to complete: {left}"
        )
