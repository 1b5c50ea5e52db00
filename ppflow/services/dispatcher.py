"""The dispatcher: one pass over the notifications that are due, as a small pipeline.

    feeder ──messages──▶ mailer (its connections) ──answers──▶ writer ──▶ outbox

- The **feeder** claims rows a batch at a time under a lease; the next batch is claimed,
  and everyone it names looked up, in a worker thread while the current one goes out.
  Each message is rendered on the event loop just before it needs a connection, while
  the connections are busy with the messages before it.
- The **mailer** sends over its connections and reports each server answer.
- The **writer** is the only task that records outcomes: it writes, in one short
  transaction, every answer that arrived since its last write (at most
  ``WRITE_AT_MOST`` of them), then starts again at once. The answers of all the
  connections that arrive while one write runs go together in the next.

At most once: a message is handed to the mailer only while fewer than ``concurrency``
messages are sent-or-in-flight but not yet recorded (a semaphore, released by the writer
once an answer is written). So if the process is killed at any moment, at most one
message per connection went out without the outbox knowing: those are the only ones a
later pass can send twice.

The claim is held under a short lease that the pass renews every third of it, so the
rows of a dispatcher that died come back within one lease. A message whose lease may be
running out (the outbox could not be reached to renew it) is not sent: another dispatcher
may take the row. Rows retried during the pass wait for a later pass.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from ppflow.domain.model import valid_email
from ppflow.services.notifications import (
    DELIVERY_FAILED,
    LEASE_RUNNING_OUT,
    DispatchPolicy,
    DispatchPorts,
    DispatchReport,
    person_codes,
    redact_addresses,
    template_context,
)
from ppflow.services.ports import (
    Clock,
    Delivery,
    Mailer,
    NewNotification,
    OutboxEntry,
    Outcome,
    OutgoingEmail,
    Person,
)

log = logging.getLogger(__name__)
WRITE_AT_MOST = 100  # answers in one write


def retry_delay(attempts: int, policy: DispatchPolicy, rng: random.Random) -> float:
    """Exponential backoff (base, 2 base, 4 base, ... capped), shortened by up to
    ``jitter`` at random so that rows failed together do not come back together."""
    delay = min(policy.retry_max_seconds, policy.retry_base_seconds * 2 ** max(0, attempts - 1))
    return delay * (1 - policy.jitter * rng.random())


@functools.cache
def _domain(sender: str) -> str:
    address = parseaddr(sender)[1] or sender  # the sender may carry a name
    return address.rpartition("@")[2].strip(" >") or "ppflow.invalid"


def message_id_for(entry: OutboxEntry, sender: str) -> str:
    """The same row always gets the same Message-ID, so a message sent twice after an
    ambiguous failure can be recognised as one by the receiving side."""
    domain = _domain(sender)
    digest = hashlib.sha256(entry.idempotency_key.encode()).hexdigest()[:24]
    return f"<{digest}.{entry.id}@{domain}>"


# ------------------------------------------------------------------ preparing a batch


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
    """Render a batch: the outcomes of rows that get no message, and the messages."""
    people = _people(entries, ports)
    outcomes: list[Outcome] = []
    emails: list[OutgoingEmail] = []
    for entry in entries:
        prepared = _prepare_one(entry, people, ports, policy)
        if isinstance(prepared, OutgoingEmail):
            emails.append(prepared)
        else:
            outcomes.append(prepared)
    return outcomes, emails


# ------------------------------------------------------------------ judging answers


def judge(
    delivery: Delivery,
    entry: OutboxEntry,
    message_id: str | None,
    now: datetime,
    policy: DispatchPolicy,
    rng: random.Random,
) -> Outcome:
    """What the server's answer means for the row: sent, failed for good, retried later
    with backoff, or given up on after the last attempt."""
    reply = redact_addresses(delivery.reply or "")
    if delivery.ok:
        return Outcome(entry.id, "sent", message_id=message_id)
    if delivery.permanent:
        return Outcome(entry.id, "failed", reply or "rejected", notify=True)
    if entry.attempts >= policy.max_attempts:
        error = f"gave up after {entry.attempts} attempts: {reply}".strip()
        return Outcome(entry.id, "dead", error, notify=True)
    wait = retry_delay(entry.attempts, policy, rng)
    return Outcome(entry.id, "pending", reply, next_attempt_at=now + timedelta(seconds=wait))


def notices_for(
    outcomes: Sequence[Outcome],
    entries: Mapping[int, OutboxEntry],
    coordinators: Sequence[Person],
    policy: DispatchPolicy,
) -> list[NewNotification]:
    """A delivery_failed notice to each coordinator for each row the server refused or
    that was given up on. A notice that fails never causes another notice."""
    notices = []
    for outcome in outcomes:
        entry = entries[outcome.id]
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


# ------------------------------------------------------------------------- the pass


@dataclass
class _Claimed:
    """A claimed batch: its rows, everyone they name, and until when it is held."""

    entries: list[OutboxEntry]
    people: dict[str, Person]
    lease_until: datetime


@dataclass
class Dispatcher:
    """One pass (see the module's docstring). ``await Dispatcher(...).run()`` once."""

    ports: DispatchPorts
    clock: Clock
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    max_rows: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.report = DispatchReport()
        self.start = self.clock.now()
        self.entries: dict[int, OutboxEntry] = {}  # claimed, not yet recorded
        self.message_ids: dict[int, str] = {}
        self.held_until: dict[int, datetime] = {}  # each row's lease, as claimed
        self.renewed_until: datetime | None = None  # every row's lease, as last renewed
        self.unwritten: list[Outcome | Delivery] = []  # the writer's queue
        self.coordinators: list[Person] | None = None
        self.arrived = asyncio.Event()  # something for the writer, or the sending ended
        self.sending_ended = False
        self.finished = asyncio.Event()
        self.margin = timedelta(seconds=self.policy.lease_seconds / 4)

    async def run(self) -> DispatchReport:
        async with self.ports.mailer() as mailer:
            # a message goes out only while it keeps one unrecorded per connection at most
            self.slots = asyncio.Semaphore(max(1, mailer.concurrency))
            outgoing: asyncio.Queue[OutgoingEmail | None] = asyncio.Queue()
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self.write())
                    tasks.create_task(self.renew())
                    tasks.create_task(self.send(mailer, outgoing))
                    tasks.create_task(self.feed(tasks, outgoing))
            except BaseExceptionGroup as failed:
                # What broke the pass, as itself, so that callers can tell what happened.
                raise _first_error(failed) from None
            finally:
                # When the pass breaks off, still record what is known: a message that
                # went out must be marked sent. Rows still claimed come back when their
                # lease ends.
                if self.unwritten:
                    self._count(self.record(self.unwritten))
        return self.report

    # --------------------------------------------------------------------- feeder

    def _claim_next(self, tasks: asyncio.TaskGroup) -> asyncio.Task[_Claimed | None] | None:
        limit = self.policy.batch_size
        if self.max_rows is not None:
            limit = min(limit, self.max_rows - self.report.claimed)
        if limit <= 0:
            return None
        return tasks.create_task(asyncio.to_thread(self.claim, limit))

    def claim(self, limit: int) -> _Claimed | None:
        """Claim a batch and look up everyone it names (in a worker thread: the database
        calls wait on the disk or the network)."""
        lease_until = self.clock.now() + timedelta(seconds=self.policy.lease_seconds)
        entries = self.ports.outbox.claim(self.start, limit, lease_until, self.token)
        if not entries:
            return None
        return _Claimed(entries, _people(entries, self.ports), lease_until)

    async def feed(
        self, tasks: asyncio.TaskGroup, outgoing: asyncio.Queue[OutgoingEmail | None]
    ) -> None:
        upcoming = self._claim_next(tasks)
        while upcoming is not None and (batch := await upcoming) is not None:
            self.report.claimed += len(batch.entries)
            for entry in batch.entries:
                self.entries[entry.id] = entry
                self.held_until[entry.id] = batch.lease_until
            upcoming = self._claim_next(tasks)  # claimed while this one goes out
            for entry in batch.entries:
                # Rendered here, on the event loop, while the connections are busy with
                # the messages before it: a worker thread would hold the interpreter's
                # lock for milliseconds whenever the loop gives it up for a socket call.
                email = _prepare_one(entry, batch.people, self.ports, self.policy)
                if isinstance(email, Outcome):
                    self._put_one(email)
                    continue
                self.message_ids[email.key] = email.message_id
                await self.slots.acquire()
                if self._still_held(email.key):
                    outgoing.put_nowait(email)
                    continue
                self.slots.release()
                self._forget(email.key)
                self.report.problems.append((email.key, "sending", LEASE_RUNNING_OUT))
        outgoing.put_nowait(None)  # the end; on an error the task group stops the mailer

    def _still_held(self, key: int) -> bool:
        held = self.held_until[key]
        if self.renewed_until is not None and self.renewed_until > held:
            held = self.renewed_until
        return self.clock.now() + self.margin < held

    # --------------------------------------------------------------------- mailer

    async def send(self, mailer: Mailer, outgoing: asyncio.Queue[OutgoingEmail | None]) -> None:
        await mailer.stream(outgoing, self._put_one)
        self.sending_ended = True
        self.arrived.set()

    def _put_one(self, item: Outcome | Delivery) -> None:
        self.unwritten.append(item)
        self.arrived.set()

    def _put(self, items: Sequence[Outcome | Delivery]) -> None:
        self.unwritten.extend(items)
        self.arrived.set()

    # --------------------------------------------------------------------- writer

    async def write(self) -> None:
        """Write what has arrived, in one transaction, as soon as the last write ended;
        each written answer frees its connection for the next message."""
        try:
            while True:
                if not self.unwritten:
                    if self.sending_ended:
                        return
                    self.arrived.clear()
                    await self.arrived.wait()
                    continue
                group = self.unwritten[:WRITE_AT_MOST]
                del self.unwritten[:WRITE_AT_MOST]
                try:
                    outcomes = await asyncio.to_thread(self.record, group)
                except BaseException:
                    self.unwritten[:0] = group  # for the last attempt, as the pass breaks off
                    raise
                self._count(outcomes)
                for item in group:
                    if isinstance(item, Delivery):
                        self.slots.release()
        finally:
            self.finished.set()

    def record(self, group: Sequence[Outcome | Delivery]) -> list[Outcome]:
        """Judge the answers and write the outcomes with the notices they cause."""
        now = self.clock.now()
        outcomes = [
            item
            if isinstance(item, Outcome)
            else judge(
                item,
                self.entries[item.key],
                self.message_ids.get(item.key),
                now,
                self.policy,
                self.rng,
            )
            for item in group
        ]
        notices: list[NewNotification] = []
        if any(o.notify for o in outcomes):
            if self.coordinators is None:
                self.coordinators = self.ports.directory.coordinators()
            notices = notices_for(outcomes, self.entries, self.coordinators, self.policy)
        self.report.notices += self.ports.outbox.settle(self.token, now, outcomes, notices)
        return outcomes

    def _count(self, outcomes: Sequence[Outcome]) -> None:
        report = self.report
        for outcome in outcomes:
            self._forget(outcome.id)
            if outcome.status == "sent":
                report.sent += 1
                continue
            if outcome.status == "pending":
                report.retried += 1
            else:
                setattr(report, outcome.status, getattr(report, outcome.status) + 1)
            report.problems.append((outcome.id, outcome.status, outcome.error or ""))

    def _forget(self, key: int) -> None:
        self.entries.pop(key, None)
        self.message_ids.pop(key, None)
        self.held_until.pop(key, None)

    # ---------------------------------------------------------------------- lease

    async def renew(self) -> None:
        every = self.policy.lease_seconds / 3
        while True:
            try:
                await asyncio.wait_for(self.finished.wait(), every)
                return
            except TimeoutError:
                pass
            until = self.clock.now() + timedelta(seconds=self.policy.lease_seconds)
            try:
                await asyncio.to_thread(self.ports.outbox.renew, self.token, until)
            except Exception as exc:  # the pass goes on; _still_held stops it in time
                log.warning("could not renew the dispatcher's lease: %s", type(exc).__name__)
                continue
            self.renewed_until = until


def _first_error(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


async def dispatch_once_async(
    ports: DispatchPorts,
    *,
    clock: Clock,
    policy: DispatchPolicy | None = None,
    max_rows: int | None = None,
    rng: random.Random | None = None,
) -> DispatchReport:
    """One dispatcher pass over the rows due when it starts (see the module)."""
    dispatcher = Dispatcher(
        ports, clock, policy or DispatchPolicy(), max_rows, rng or random.Random()
    )
    return await dispatcher.run()


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
