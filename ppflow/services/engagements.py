"""Moving one engagement along its lifecycle, inside an open unit of work."""

from __future__ import annotations

from datetime import datetime

from ppflow.domain import lifecycle
from ppflow.domain.commands import Meta
from ppflow.domain.model import Engagement, Transition
from ppflow.services.ports import UnitOfWork


def move_engagement(
    uow: UnitOfWork,
    engagement: Engagement,
    target: str,
    meta: Meta,
    now: datetime,
    facts: lifecycle.EngagementFacts | None = None,
) -> int:
    """Check the move against the table, save it under the optimistic lock, and log it.
    Returns the id of the Transition row."""
    facts = facts or lifecycle.EngagementFacts(reason=meta.reason)
    lifecycle.ENGAGEMENT.check(
        engagement.stage, target, facts, label=f"engagement {engagement.code}"
    )
    before, version = engagement.stage, engagement.version
    engagement.stage = target
    if target in ("completed", "ended_early", "cancelled"):
        engagement.end_date = now.date()
        engagement.reason = meta.reason
    uow.engagements.save(engagement, expected_version=version)
    return uow.transitions.add(
        Transition(
            "engagement",
            engagement.code,
            before,
            target,
            now,
            meta.actor,
            meta.reason,
            meta.request_id,
            meta.flow_run_id,
        )
    )
