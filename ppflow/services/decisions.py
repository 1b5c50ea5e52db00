"""Answers that people give to the questions flows wait on (screening outcome, match
confirmation, training completion). The first answer to a question wins; a second gets
a clear message saying who answered and when."""

from __future__ import annotations

from datetime import datetime

from ppflow.domain.errors import PPFlowError
from ppflow.domain.model import Decision
from ppflow.services.ports import SYSTEM_CLOCK, Clock, UnitOfWork


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
    clock: Clock = SYSTEM_CLOCK,
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
