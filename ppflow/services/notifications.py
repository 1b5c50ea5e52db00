"""Notifications: the catalogue of messages, queueing them in the outbox, and the values
the dispatcher (``ppflow.services.dispatcher``) works with.

A notification row holds codes and plain values only. The recipient's name and address
are looked up when the message is rendered, so a person whose data was erased gets no mail.

The dispatcher works through small ports (outbox, directory, renderer, mailer) so that it
does not know about SQL, Jinja or SMTP; ``ppflow.bootstrap`` builds the real
ones. Both ``ppflow mail dispatch`` and the scheduled flow call ``dispatch_once``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.model import CODE_ALPHABET, LANGUAGES, valid_email
from ppflow.services.ports import (
    Directory,
    Mailer,
    Outbox,
    Person,
    Renderer,
    UnitOfWork,
)

log = logging.getLogger(__name__)
PERSON_CODE = re.compile(rf"^(PA|ST)-[{CODE_ALPHABET}]{{6}}$")
ANY_ADDRESS = re.compile(r"<[^\s<>@\"']+@[^\s<>@\"']+>|[^\s<>@\"']+@[^\s<>@\"']+")
ADDRESS_REMOVED = "(address)"  # no angle brackets: it is not an address, nor a tag
RECIPIENT_KINDS = ("advisor", "staff")
STATUSES = ("pending", "sending", "sent", "failed", "dead")
# Names the renderer adds to every template's context; a notification may not use them.
RESERVED = frozenset({"recipient", "lang", "audience", "subject"})


class InvalidRecipientError(InvalidInputError):
    """The recipient of a notification cannot receive mail (no valid address)."""


# ------------------------------------------------------------------------ catalogue


@dataclass(frozen=True)
class NotificationKind:
    """One kind of message: who may receive it, what its context must hold, and a sample
    context (codes and plain values, as a service would queue it) for ``templates check``."""

    name: str
    audience: str  # "advisor", "staff" or "any"
    needs: tuple[str, ...]
    sample: Mapping[str, Any]


SAMPLE_ADVISOR = "PA-7K3M9Q"
SAMPLE_STAFF = "ST-4HWX2B"
SAMPLE_LEAD = "ST-9RTC5D"

_KINDS = (
    NotificationKind("invitation", "advisor", ("advisor",), {"advisor": SAMPLE_ADVISOR}),
    NotificationKind(
        "welcome",
        "advisor",
        ("advisor",),
        {
            "advisor": SAMPLE_ADVISOR,
            "modules": [
                {"code": "PP-101", "title": "Le partenariat patient / Patient partnership"},
                {"code": "CONF-1", "title": "Confidentialité / Confidentiality"},
            ],
        },
    ),
    NotificationKind(
        "referral_acknowledgement",
        "staff",
        ("advisor", "referrer"),
        {"advisor": SAMPLE_ADVISOR, "referrer": SAMPLE_STAFF},
    ),
    NotificationKind(
        "referral_received",
        "staff",
        ("advisor", "referrer"),
        {"advisor": SAMPLE_ADVISOR, "referrer": SAMPLE_STAFF},
    ),
    NotificationKind(
        "referrals_imported",
        "staff",
        ("count", "advisors"),
        {"count": 3, "advisors": [SAMPLE_ADVISOR, "PA-7K3M9Q", "PA-4TQ8ZP"], "more": 0},
    ),
    NotificationKind(
        "introduction_advisor",
        "advisor",
        ("advisor", "team", "team_name", "lead"),
        {
            "advisor": SAMPLE_ADVISOR,
            "team": "QT-5MPX8R",
            "team_name": "Urgence - temps d'attente",
            "lead": SAMPLE_LEAD,
        },
    ),
    NotificationKind(
        "introduction_lead",
        "staff",
        ("advisor", "team", "team_name", "lead"),
        {
            "advisor": SAMPLE_ADVISOR,
            "team": "QT-5MPX8R",
            "team_name": "Urgence - temps d'attente",
            "lead": SAMPLE_LEAD,
        },
    ),
    NotificationKind(
        "team_briefing",
        "staff",
        ("team", "team_name", "lead"),
        {"team": "QT-5MPX8R", "team_name": "Urgence - temps d'attente", "lead": SAMPLE_LEAD},
    ),
    NotificationKind(
        "advisor_withdrawn",
        "staff",
        ("advisor", "stage"),
        {"advisor": SAMPLE_ADVISOR, "stage": "preparing"},
    ),
    NotificationKind(
        "survey_request",
        "any",
        ("survey", "survey_url", "due_date"),
        {
            "survey": "SV-3QJ7TN",
            "survey_url": "http://127.0.0.1:8000/s/3QJ7TN",
            "due_date": "2026-12-15",
            "team_name": "Urgence - temps d'attente",
        },
    ),
    NotificationKind(
        "reminder_digest",
        "staff",
        ("date", "items"),
        {
            "date": "2026-11-23",
            # One case of every kind (services.sweeps.CASE_KINDS), as the sweep queues them.
            "items": [
                {"advisor": "PA-4TQ8ZP", "kind": "identified", "days": 9},
                {"advisor": SAMPLE_ADVISOR, "kind": "invited", "days": 12},
                {"advisor": "PA-2B8NQW", "kind": "preparing", "days": 31},
                {"advisor": SAMPLE_STAFF, "kind": "survey", "days": 15, "detail": "EN-8DKR4M"},
                {
                    "advisor": "PA-9JW3XH",
                    "kind": "consent",
                    "days": 1,
                    "detail": "participation",
                    "on": "2026-11-24",
                },
                {"advisor": "PA-5NVB7C", "kind": "training", "days": 34, "detail": "PP-101"},
                {"advisor": "PA-6HCK2M", "kind": "decision", "days": 16, "detail": "recruit"},
                {"advisor": "QT-5MPX8R", "kind": "decision", "days": 21, "detail": "integrate"},
            ],
            "total": 9,
        },
    ),
    NotificationKind(
        "engagement_thank_you",
        "advisor",
        ("advisor", "engagement", "team_name"),
        {
            "advisor": SAMPLE_ADVISOR,
            "engagement": "EN-8DKR4M",
            "team_name": "Urgence - temps d'attente",
            "hours": 14.5,
        },
    ),
    NotificationKind(
        "program_thank_you",
        "advisor",
        ("advisor",),
        {"advisor": SAMPLE_ADVISOR},
    ),
    NotificationKind(
        "delivery_failed",
        "staff",
        ("notification", "template", "failed_recipient", "status", "reply"),
        {
            "notification": 42,
            "template": "invitation",
            "failed_recipient": SAMPLE_ADVISOR,
            "status": "failed",
            "reply": f"550 5.1.1 {ADDRESS_REMOVED}: mailbox unavailable",
        },
    ),
    NotificationKind(
        "budget_alert",
        "staff",
        ("program", "fiscal_year", "budget", "committed", "percent", "currency"),
        {
            "program": "PP-CHU",
            "fiscal_year": "2026-27",
            "budget": "10000.00",
            "committed": "8012.50",
            "percent": 80,
            "currency": "CAD",
        },
    ),
    NotificationKind(
        "t4a_threshold",
        "staff",
        ("advisor", "year", "total", "threshold", "currency"),
        {
            "advisor": SAMPLE_ADVISOR,
            "year": "2026",
            "total": "512.50",
            "threshold": "500.00",
            "currency": "CAD",
        },
    ),
)
NOTIFICATIONS: dict[str, NotificationKind] = {k.name: k for k in _KINDS}
DELIVERY_FAILED = "delivery_failed"
LEASE_RUNNING_OUT = "not sent: the claim's lease was running out; it comes back when it ends"


def sample_people() -> dict[str, Person]:
    """Fictional people for ``templates check``; their names must never reach a subject."""
    return {
        SAMPLE_ADVISOR: Person(SAMPLE_ADVISOR, "advisor", "Camille", "Bélanger", "c@ex.org", "fr"),
        "PA-2B8NQW": Person("PA-2B8NQW", "advisor", "Jordan", "Okafor", "j@ex.org", "en"),
        SAMPLE_STAFF: Person(SAMPLE_STAFF, "staff", "Dre Nadia Haddad", "", "n@ex.org"),
        SAMPLE_LEAD: Person(SAMPLE_LEAD, "staff", "Marc Tremblay", "", "m@ex.org"),
    }


def person_codes(context: Mapping[str, Any]) -> set[str]:
    """The advisor and staff codes a context names at its top level."""
    return {v for v in context.values() if isinstance(v, str) and PERSON_CODE.match(v)}


def template_context(
    context: Mapping[str, Any],
    recipient: Person,
    language: str,
    people: Mapping[str, Person],
) -> dict[str, Any]:
    """What a template sees: the queued context, with each person code replaced by the
    person (or a code-only stand-in when unknown or erased), and the recipient."""
    result: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, str) and PERSON_CODE.match(value):
            person = people.get(value)
            if person is None or person.erased:
                kind = "advisor" if value.startswith("PA-") else "staff"
                person = Person(value, kind)
            result[key] = person
        else:
            result[key] = value
    result["recipient"] = recipient
    result["lang"] = language
    result["audience"] = recipient.kind
    return result


def redact_addresses(text: str) -> str:
    """Server replies often quote the address, mostly in angle brackets; keep it out of the
    outbox and of notices: "550 5.1.1 <ana@example.org>: ..." is stored as
    "550 5.1.1 (address): ...", brackets and all replaced."""
    return ANY_ADDRESS.sub(ADDRESS_REMOVED, text)


# ---------------------------------------------------------------------- queueing


def queue_notification(
    uow: UnitOfWork,
    *,
    template: str,
    recipient_kind: str,
    recipient_code: str,
    context: Mapping[str, Any],
    idempotency_key: str,
    at: datetime,
    transition_id: int | None = None,
    language: str | None = None,
    default_language: str = "fr",
) -> bool:
    """Queue one notification inside an open unit of work, in the same transaction as the
    change that causes it. Checks the template, the context and that the recipient has a
    valid address now, so that a bad address is refused here and not at 3 a.m. Returns
    False when the idempotency key was already queued (nothing changes)."""
    kind = NOTIFICATIONS.get(template)
    if kind is None:
        raise InvalidInputError(
            f"unknown notification '{template}'; known: {', '.join(sorted(NOTIFICATIONS))}"
        )
    if recipient_kind not in RECIPIENT_KINDS:
        raise InvalidInputError(
            f"recipient kind '{recipient_kind}' is not one of {', '.join(RECIPIENT_KINDS)}"
        )
    if kind.audience != "any" and kind.audience != recipient_kind:
        raise InvalidInputError(f"'{template}' goes to {kind.audience}, not to {recipient_kind}")
    missing = [key for key in kind.needs if key not in context]
    if missing:
        raise InvalidInputError(f"'{template}' needs {', '.join(missing)} in its context")
    clashing = sorted(RESERVED & context.keys())
    if clashing:
        raise InvalidInputError(f"context keys {', '.join(clashing)} are reserved")
    try:
        json.dumps(dict(context))
    except TypeError as exc:
        raise InvalidInputError(f"the context of '{template}' is not plain data: {exc}") from exc

    if recipient_kind == "advisor":
        contact = uow.advisors.contact(recipient_code)
        address, preferred = contact.email, contact.language
    else:
        address, preferred = uow.staff.get(recipient_code).email, None
    if not valid_email(address):
        # The address itself stays out of the message: errors end up in logs.
        raise InvalidRecipientError(
            f"{recipient_kind} {recipient_code} has no valid e-mail address; "
            f"the '{template}' notification was not queued. Correct the address first."
        )
    chosen = language or preferred or default_language
    if chosen not in LANGUAGES:
        chosen = default_language
    return uow.notifications.queue(
        template=template,
        recipient_kind=recipient_kind,
        recipient_code=recipient_code,
        language=chosen,
        context=dict(context),
        idempotency_key=idempotency_key,
        at=at,
        transition_id=transition_id,
    )


# ------------------------------------------------------------------------- ports


@dataclass
class DispatchPorts:
    outbox: Outbox
    directory: Directory
    renderer: Renderer
    mailer: Callable[[], Mailer]  # a fresh mailer (and its connections) for each pass
    sender: str


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 200
    # A claim holds this long and is renewed every third of it while the pass runs, so
    # the rows of a dispatcher that died are claimed again at most this long after.
    lease_seconds: float = 30.0
    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    jitter: float = 0.5  # a retry waits between (1 - jitter) and 1 times the backoff
    default_language: str = "fr"


@dataclass
class DispatchReport:
    """What one pass did, in counts and codes (no personal data)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    notices: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # id, status, error


# The dispatcher itself lives in ppflow.services.dispatcher; these names stay importable
# from here for the callers that knew them here.
