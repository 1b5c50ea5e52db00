"""The recurring work the schedules do. Each sweep finds its due cases with one query per
kind of case, bounded in memory, and works in batches: its cost in Prefect task runs does
not grow with the number of advisors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from babel import Locale

from ppflow.domain.commands import Meta
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.model import StaffRole
from ppflow.services.feedback import DEFAULT_PORTAL_URL, open_feedback
from ppflow.services.notifications import queue_notification
from ppflow.services.ports import Case, Clock, Found, SweepQueries, UnitOfWork
from ppflow.services.wording import Wording, format_date, format_number, locale_of

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
DIGEST_ITEMS = 200  # the longest list one e-mail carries; the total is always given


# The kinds of stalled case a digest lists. A case carries its kind and plain values; the
# digest words it in the coordinator's language (wording/digest.yaml, translated in locale/).
ADVISOR_STAGE_KINDS = (AdvisorStage.IDENTIFIED, AdvisorStage.INVITED, AdvisorStage.PREPARING)
CASE_KINDS = (*ADVISOR_STAGE_KINDS, "survey", "consent", "training", "decision")
# The stages whose runs wait for a person's answer (a "decision" case's detail), and the
# purposes of consent (a "consent" case's detail): the digest has a text for each.
DECISION_STAGES = ("recruit", "prepare", "integrate")
CONSENT_PURPOSES = ("participation", "confidentiality")
# What ``detail`` holds for each kind that has one.
DETAIL = {
    "survey": "the engagement code of the questionnaire",
    "consent": "the consent's purpose (participation, confidentiality)",
    "training": "the module code",
    "decision": "the stage whose run waits (recruit, prepare, integrate)",
}


def digest_texts() -> list[str]:
    """The catalogue texts a digest may need, whatever its cases (for the templates
    check: every kind, decision stage and purpose must be worded in every language)."""
    return (
        [f"digest.kinds.{kind}" for kind in CASE_KINDS]
        + [f"digest.decisions.{stage}" for stage in DECISION_STAGES]
        + [f"digest.purposes.{purpose}" for purpose in CONSENT_PURPOSES]
        + ["digest.days.one", "digest.days.other"]
    )


def digest_line(item: Mapping[str, Any], language: str, wording: Wording) -> str:
    """One case of a digest as its reader reads it, from the values the outbox holds (a
    ``Case``'s fields): "invité·e, sans réponse depuis 12 jours", "invited, no answer for
    12 days"."""
    kind = item.get("kind")
    if kind is None and item.get("stage") in CASE_KINDS:
        kind = item["stage"]  # queued before cases had kinds: an advisor's stage
    if "days" not in item or (kind is None and "stage" not in item):
        raise ValueError(f"a digest case needs its days and its kind; got {sorted(item)}")
    days = int(item["days"])
    if kind is None:  # queued before cases had kinds: its English text, as it was
        return f"{item['stage']} ({format_number(days, language)})"
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown kind of case {kind!r}; known: {', '.join(CASE_KINDS)}")
    detail = str(item.get("detail") or "")
    plural = Locale.parse(locale_of(language)).plural_form(days)
    values = {
        "days": wording.text(
            f"digest.days.{'one' if plural == 'one' else 'other'}",
            language,
            n=format_number(days, language),
        ),
        "detail": detail,
        "stage": "",
        "purpose": "",
        "date": format_date(date.fromisoformat(item["on"]), language) if item.get("on") else "",
    }
    if kind in ADVISOR_STAGE_KINDS:
        values["stage"] = wording.stage("advisor", kind, language)
    elif kind == "decision":
        values["stage"] = wording.text(f"digest.decisions.{detail}", language)
    elif kind == "consent":
        values["purpose"] = wording.label(f"digest.purposes.{detail}", language, detail)
    return wording.text(f"digest.kinds.{kind}", language, **values)


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

    found: dict[str, Found] = {
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
    *,
    clock: Clock,
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
    items = [_plain(case) for f in found.values() for case in f.first][:DIGEST_ITEMS]
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


def _plain(case: Case) -> dict[str, Any]:
    """A case as the outbox keeps it: its fields, without the empty ones."""
    return {k: v for k, v in vars(case).items() if v not in ("", None)}


def open_due_surveys(
    uow_factory,
    queries: SweepQueries,
    clock: Clock,
    portal_url: str = DEFAULT_PORTAL_URL,
    meta: Meta = SURVEY_SCHEDULE,
) -> int:
    """Open the questionnaire round due for each active engagement (three months after its
    start, then every six months) and the final one of each completed engagement. Returns
    how many engagements got a new round."""
    opened = 0
    for engagement, round in queries.due_survey_rounds(clock.now()):
        open_feedback(uow_factory(), engagement, meta, round, clock=clock, portal_url=portal_url)
        opened += 1
    return opened
