"""Notifications: the catalogue of messages, queueing them in the outbox, and one pass of
the dispatcher.

A notification row holds codes and plain values only. The recipient's name and address
are looked up when the message is rendered, so a person whose data was erased gets no mail.

The dispatcher works through small ports (outbox, directory, renderer, mailer) so that it
does not know about SQL, Jinja or SMTP; ``ppflow.bootstrap`` builds the real
ones. Both ``ppflow mail dispatch`` and the scheduled flow call :func:`dispatch_once`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.model import CODE_ALPHABET, LANGUAGES, valid_email
from ppflow.services.ports import (
    Clock,
    Delivery,
    Directory,
    Mailer,
    NewNotification,
    Outbox,
    OutboxEntry,
    Outcome,
    OutgoingEmail,
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


def retry_delay(attempts: int, policy: DispatchPolicy, rng: random.Random) -> float:
    """Exponential backoff (base, 2 base, 4 base, ... capped), shortened by up to
    ``jitter`` at random so that rows failed together do not come back together."""
    delay = min(policy.retry_max_seconds, policy.retry_base_seconds * 2 ** max(0, attempts - 1))
    return delay * (1 - policy.jitter * rng.random())


def message_id_for(entry: OutboxEntry, sender: str) -> str:
    """The same row always gets the same Message-ID, so a message sent twice after an
    ambiguous failure can be recognised as one by the receiving side."""
    domain = sender.rpartition("@")[2] or "ppflow.invalid"
    digest = hashlib.sha256(entry.idempotency_key.encode()).hexdigest()[:24]
    return f"<{digest}.{entry.id}@{domain}>"


# ---------------------------------------------------------------------- dispatch


def _people(entries: Sequence[OutboxEntry], ports: DispatchPorts) -> dict[str, Person]:
    """Everyone a batch needs, in one look-up: recipients and the people messages mention."""
    codes = {e.recipient_code for e in entries}
    for entry in entries:
        codes |= person_codes(entry.context)
    return ports.directory.people(
        [c for c in codes if c.startswith("PA-")], [c for c in codes if c.startswith("ST-")]
    )


def _prepare_one(
    entry: OutboxEntry,
    people: Mapping[str, Person],
    ports: DispatchPorts,
    policy: DispatchPolicy,
) -> Outcome | OutgoingEmail:
    """The message for one row, or why there is none."""
    if entry.attempts > policy.max_attempts:
        error = f"gave up after {entry.attempts - 1} attempts that never finished"
        return Outcome(entry.id, "dead", error, notify=True)
    recipient = people.get(entry.recipient_code)
    if recipient is None:
        return Outcome(entry.id, "failed", "recipient unknown; not sent")
    if recipient.erased:
        return Outcome(entry.id, "failed", "recipient's personal data was erased; not sent")
    if not valid_email(recipient.email):
        return Outcome(entry.id, "failed", "recipient has no valid e-mail address; not sent")
    try:
        context = template_context(entry.context, recipient, entry.language, people)
        rendered = ports.renderer.render(entry.template, entry.language, context)
    except Exception as exc:  # a broken template fails its own row only
        error = (
            f"template {entry.template}/{entry.language} failed: "
            f"{type(exc).__name__}: {redact_addresses(str(exc))}"
        )
        return Outcome(entry.id, "failed", error)
    return OutgoingEmail(
        key=entry.id,
        to_address=recipient.email.strip(),
        to_name=recipient.name,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id_for(entry, ports.sender),
        headers=(
            ("X-Ppflow-Notification", str(entry.id)),
            ("X-Ppflow-Template", entry.template),
            ("X-Ppflow-Recipient", entry.recipient_code),
            ("Auto-Submitted", "auto-generated"),
        ),
    )


def prepare_emails(
    entries: Sequence[OutboxEntry], ports: DispatchPorts, policy: DispatchPolicy
) -> tuple[list[Outcome], list[OutgoingEmail]]:
    """Render a batch: the messages to send, and the outcomes of rows that get none."""
    people = _people(entries, ports)
    outcomes: list[Outcome] = []
    emails: list[OutgoingEmail] = []
    for entry in entries:
        prepared = _prepare_one(entry, people, ports, policy)
        (emails if isinstance(prepared, OutgoingEmail) else outcomes).append(prepared)
    return outcomes, emails


@dataclass
class _Batch:
    entries: list[OutboxEntry]
    outcomes: list[Outcome]
    emails: list[OutgoingEmail]
    lease_until: datetime


async def _claim_and_prepare(
    ports: DispatchPorts,
    policy: DispatchPolicy,
    clock: Clock,
    start: datetime,
    limit: int,
    token: str,
) -> _Batch | None:
    """Claim the next batch and render it while the previous one is being sent: database
    calls run in a worker thread (they wait on the disk or the network), rendering runs a
    few messages at a time, giving the event loop back in between."""
    lease_until = clock.now() + timedelta(seconds=policy.lease_seconds)
    entries = await asyncio.to_thread(ports.outbox.claim, start, limit, lease_until, token)
    if not entries:
        return None
    people = await asyncio.to_thread(_people, entries, ports)
    batch = _Batch(entries, [], [], lease_until)
    for n, entry in enumerate(entries, start=1):
        prepared = _prepare_one(entry, people, ports, policy)
        (batch.emails if isinstance(prepared, OutgoingEmail) else batch.outcomes).append(prepared)
        if n % 8 == 0:
            await asyncio.sleep(0)
    return batch


def _judge(
    deliveries: Sequence[Delivery],
    by_id: Mapping[int, OutboxEntry],
    emails: Mapping[int, OutgoingEmail],
    now: datetime,
    policy: DispatchPolicy,
    rng: random.Random,
) -> list[Outcome]:
    outcomes = []
    for delivery in deliveries:
        entry = by_id[delivery.key]
        reply = redact_addresses(delivery.reply or "")
        if delivery.ok:
            outcomes.append(Outcome(entry.id, "sent", message_id=emails[entry.id].message_id))
        elif delivery.permanent:
            outcomes.append(Outcome(entry.id, "failed", reply or "rejected", notify=True))
        elif entry.attempts >= policy.max_attempts:
            error = f"gave up after {entry.attempts} attempts: {reply}".strip()
            outcomes.append(Outcome(entry.id, "dead", error, notify=True))
        else:
            wait = retry_delay(entry.attempts, policy, rng)
            outcomes.append(
                Outcome(entry.id, "pending", reply, next_attempt_at=now + timedelta(seconds=wait))
            )
    return outcomes


def _notices(
    outcomes: Sequence[Outcome],
    by_id: Mapping[int, OutboxEntry],
    coordinators: Sequence[Person],
    policy: DispatchPolicy,
) -> list[NewNotification]:
    """A delivery_failed notice to each coordinator for each row the server refused or
    that was given up on. A notice that fails never causes another notice."""
    notices = []
    for outcome in outcomes:
        entry = by_id[outcome.id]
        if not outcome.notify or entry.template == DELIVERY_FAILED:
            continue
        for coordinator in coordinators:
            notices.append(
                NewNotification(
                    template=DELIVERY_FAILED,
                    recipient_kind="staff",
                    recipient_code=coordinator.code,
                    language=coordinator.language or policy.default_language,
                    context={
                        "notification": entry.id,
                        "template": entry.template,
                        "failed_recipient": entry.recipient_code,
                        "status": outcome.status,
                        "reply": outcome.error or "",
                    },
                    idempotency_key=(
                        f"{DELIVERY_FAILED}:{entry.id}:{entry.attempts}:{coordinator.code}"
                    ),
                )
            )
    return notices


async def dispatch_once_async(
    ports: DispatchPorts,
    *,
    clock: Clock,
    policy: DispatchPolicy | None = None,
    max_rows: int | None = None,
    rng: random.Random | None = None,
) -> DispatchReport:
    """One dispatcher pass over the rows due when it starts.

    Rows are claimed and rendered a batch ahead of the connections. Each answer of the
    server is recorded at once, in a short transaction of its own (answers that come in
    while one is being written go together in the next), and a connection is given its
    next message only once its last answer is written. So at any moment at most one
    message per connection has gone out without ppflow knowing: if the dispatcher dies,
    those are the only ones that can be sent again.

    The claim is held under a short lease that is renewed while the pass runs, so the
    rows of a dispatcher that died come back within one lease. A message whose lease is
    running out (the outbox could not be reached to renew it) is not sent: another
    dispatcher may take the row. Rows retried during the pass wait for a later pass."""
    policy = policy or DispatchPolicy()
    rng = rng or random.Random()
    token = uuid.uuid4().hex
    report = DispatchReport()
    start = clock.now()
    entries: dict[int, OutboxEntry] = {}
    emails: dict[int, OutgoingEmail] = {}
    claimed_until: dict[int, datetime] = {}
    renewed: list[datetime] = []  # the end of the last renewed lease
    known: list[Outcome] = []  # outcomes known without sending, not yet written
    delivered: list[Delivery] = []  # the server's answers, not yet written
    coordinators: list[Person] = []
    arrived = asyncio.Event()  # something waits to be written, or the sending ended
    sending_ended = asyncio.Event()
    pass_ended = asyncio.Event()
    margin = timedelta(seconds=policy.lease_seconds / 4)

    def record(group: tuple[list[Outcome], list[Delivery]]) -> list[Outcome]:
        """Write one group of outcomes and the notices they cause (in a worker thread)."""
        done, deliveries = group
        now = clock.now()
        outcomes = done + _judge(deliveries, entries, emails, now, policy, rng)
        notices: list[NewNotification] = []
        if any(o.notify for o in outcomes):
            if not coordinators:
                coordinators.extend(ports.directory.coordinators())
            notices = _notices(outcomes, entries, coordinators, policy)
        report.notices += ports.outbox.settle(token, now, outcomes, notices)
        _count(report, outcomes)
        return outcomes

    def take() -> tuple[list[Outcome], list[Delivery]]:
        group = (known.copy(), delivered.copy())
        known.clear()
        delivered.clear()
        return group

    def on_delivery(delivery: Delivery) -> None:
        delivered.append(delivery)
        arrived.set()

    def still_held(key: int) -> bool:
        held = max([claimed_until[key], *renewed])
        return clock.now() + margin < held

    async def recorder(slots: asyncio.Semaphore) -> None:
        try:
            while True:
                if not (known or delivered):
                    if sending_ended.is_set():
                        return
                    arrived.clear()
                    await arrived.wait()
                    continue
                group = take()
                try:
                    outcomes = await asyncio.to_thread(record, group)
                except Exception:
                    # keep them for the last attempt below, as the pass breaks off
                    known.extend(group[0])
                    delivered.extend(group[1])
                    raise
                for outcome in outcomes:
                    entries.pop(outcome.id, None)
                    emails.pop(outcome.id, None)
                    claimed_until.pop(outcome.id, None)
                for _ in group[1]:
                    slots.release()  # that connection may have its next message
        finally:
            pass_ended.set()

    async def renew_leases() -> None:
        while not pass_ended.is_set():
            try:
                await asyncio.wait_for(pass_ended.wait(), policy.lease_seconds / 3)
                return
            except TimeoutError:
                pass
            until = clock.now() + timedelta(seconds=policy.lease_seconds)
            try:
                await asyncio.to_thread(ports.outbox.renew, token, until)
            except Exception as exc:  # the pass goes on; still_held stops it in time
                log.warning("could not renew the dispatcher's lease: %s", type(exc).__name__)
                continue
            renewed[:] = [until]

    async def produce(
        group: asyncio.TaskGroup, queue: asyncio.Queue, slots: asyncio.Semaphore
    ) -> None:
        def claim_next() -> asyncio.Task | None:
            limit = policy.batch_size
            if max_rows is not None:
                limit = min(limit, max_rows - report.claimed)
            if limit <= 0:
                return None
            return group.create_task(_claim_and_prepare(ports, policy, clock, start, limit, token))

        upcoming = claim_next()
        while upcoming is not None and (batch := await upcoming) is not None:
            report.claimed += len(batch.entries)
            entries.update((e.id, e) for e in batch.entries)
            claimed_until.update((e.id, batch.lease_until) for e in batch.entries)
            emails.update((e.key, e) for e in batch.emails)
            if batch.outcomes:
                known.extend(batch.outcomes)
                arrived.set()
            upcoming = claim_next()  # the next batch is claimed while this one goes out
            for email in batch.emails:
                await slots.acquire()
                if still_held(email.key):
                    await queue.put(email)
                    continue
                slots.release()
                entries.pop(email.key)
                emails.pop(email.key)
                report.problems.append((email.key, "sending", LEASE_RUNNING_OUT))
        await queue.put(None)  # the end; on an error the task group stops the mailer

    async def send(mailer: Mailer, queue: asyncio.Queue) -> None:
        await mailer.stream(queue, on_delivery)
        sending_ended.set()
        arrived.set()

    async with ports.mailer() as mailer:
        # As many messages out at once as the mailer has connections, and no more.
        slots = asyncio.Semaphore(max(1, mailer.concurrency))
        queue: asyncio.Queue[OutgoingEmail | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(renew_leases())
                group.create_task(produce(group, queue, slots))
                group.create_task(send(mailer, queue))
                group.create_task(recorder(slots))
        except BaseExceptionGroup as failed:
            # What broke the pass, as itself, so that callers can tell what happened.
            raise _first_error(failed) from None
        finally:
            # When the pass breaks off, still record what is known: a message that went
            # out must be marked sent. Rows still claimed come back when their lease ends.
            if known or delivered:
                record(take())
    return report


def _first_error(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


def _count(report: DispatchReport, outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.status == "sent":
            report.sent += 1
            continue
        if outcome.status == "pending":
            report.retried += 1
        else:
            setattr(report, outcome.status, getattr(report, outcome.status) + 1)
        report.problems.append((outcome.id, outcome.status, outcome.error or ""))


def dispatch_once(
    ports: DispatchPorts,
    *,
    clock: Clock,
    policy: DispatchPolicy | None = None,
    max_rows: int | None = None,
    rng: random.Random | None = None,
) -> DispatchReport:
    """The same pass, for callers without an event loop (CLI, synchronous flows)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(
            dispatch_once_async(ports, clock=clock, policy=policy, max_rows=max_rows, rng=rng)
        )
    raise RuntimeError("an event loop is running here: await dispatch_once_async instead")
