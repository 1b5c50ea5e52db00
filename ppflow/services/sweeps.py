"""The recurring work the schedules do. Each sweep finds its due cases with one query per
kind of case, bounded in memory, and works in batches: its cost in Prefect task runs does
not grow with the number of advisors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ppflow.domain.commands import Meta
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.model import StaffRole
from ppflow.services.feedback import DEFAULT_PORTAL_URL, open_feedback
from ppflow.services.notifications import queue_notification
from ppflow.services.ports import SYSTEM_CLOCK, Clock, SweepQueries, UnitOfWork

# Days a case may stay at a stage before it counts as stalled (configurable).
DEFAULT_SERVICE_LEVELS = {
    AdvisorStage.IDENTIFIED: 7,  # no invitation yet
    AdvisorStage.INVITED: 14,  # no answer
    AdvisorStage.PREPARING: 30,
    "decision": 14,  # a flow waits on a person
    "survey": 14,  # a questionnaire without a response
    "consent": 30,  # a consent expires within this many days
    "training": 30,  # a required module enrolled and not complete
}
SURVEY_SCHEDULE = Meta(actor="schedule:open-due-surveys")
FINAL_ROUND = 100  # the questionnaire at the end of an engagement
DIGEST_ITEMS = 200  # the longest list one e-mail carries; the total is always given


@dataclass(frozen=True)
class Case:
    advisor: str  # the code the coordinator acts on (advisor, or staff for a survey)
    stage: str  # what is waiting, in a few words
    days: int


@dataclass(frozen=True)
class Found:
    total: int
    first: list[Case]


@dataclass
class ReminderReport:
    cases: dict[str, int] = field(default_factory=dict)  # kind -> total found
    digests: int = 0

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def find_stalled_cases(
    queries: SweepQueries, now: datetime, levels: dict[str, int], limit: int = DIGEST_ITEMS
) -> dict[str, Found]:
    """Every kind of case that waits longer than its service level."""

    def ago(kind: str) -> datetime:
        return now - timedelta(days=levels[kind])

    found = {
        stage: queries.stalled(stage, ago(stage), now, limit)
        for stage in (AdvisorStage.IDENTIFIED, AdvisorStage.INVITED, AdvisorStage.PREPARING)
    }
    found["survey"] = queries.unanswered_surveys(ago("survey"), now, limit)
    found["consent"] = queries.expiring_consents(
        now, now + timedelta(days=levels["consent"]), limit
    )
    found["training"] = queries.overdue_training(ago("training"), now, limit)
    return found


def send_reminders(
    uow: UnitOfWork,
    queries: SweepQueries,
    levels: dict[str, int] | None = None,
    waiting_decisions: list[Case] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> ReminderReport:
    """One digest per coordinator listing the stalled cases; at most one a day each."""
    levels = {**DEFAULT_SERVICE_LEVELS, **(levels or {})}
    now = clock.now()
    found = find_stalled_cases(queries, now, levels)
    decisions = [c for c in (waiting_decisions or []) if c.days >= levels["decision"]]
    found["decision"] = Found(len(decisions), decisions[:DIGEST_ITEMS])
    report = ReminderReport(cases={kind: f.total for kind, f in found.items()})
    if report.total == 0:
        return report
    items = [vars(case) for f in found.values() for case in f.first][:DIGEST_ITEMS]
    day = now.date().isoformat()
    with uow:
        for coordinator in uow.staff.list(role=StaffRole.COORDINATOR):
            queued = queue_notification(
                uow,
                template="reminder_digest",
                recipient_kind="staff",
                recipient_code=coordinator.code,
                context={"date": day, "items": items, "total": report.total},
                idempotency_key=f"reminder_digest:{coordinator.code}:{day}",
                at=now,
            )
            report.digests += int(queued)
        uow.commit()
    return report


def open_due_surveys(
    uow_factory,
    queries: SweepQueries,
    clock: Clock = SYSTEM_CLOCK,
    portal_url: str = DEFAULT_PORTAL_URL,
    meta: Meta = SURVEY_SCHEDULE,
) -> int:
    """Open the questionnaire round due for each active engagement (three months after its
    start, then every six months) and the final one of each completed engagement. Returns
    how many engagements got a new round."""
    opened = 0
    for engagement, round in queries.due_survey_rounds(clock.now()):
        open_feedback(uow_factory(), engagement, meta, round, clock, portal_url)
        opened += 1
    return opened


def due_round(months_since_start: int) -> int:
    """The survey round due after this many whole months (0 when none is due yet)."""
    if months_since_start < 3:
        return 0
    return 1 + (months_since_start - 3) // 6
