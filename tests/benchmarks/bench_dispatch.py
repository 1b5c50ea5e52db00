"""Benchmark: the dispatcher against a bare aiosmtplib loop, same messages, same number of
connections, each to its own mail sink (aiosmtpd + Maildir) in a separate process; and a
dispatcher killed with SIGKILL mid-pass, counting the messages sent twice.

    .venv/bin/python -m tests.benchmarks.bench_dispatch [--quick] [--messages 2000]
        [--rounds 3] [--connections 1 4] [--no-crash]

prints, for each number of connections, the two rates and their ratio (the median of the
rounds' ratios: in each round the bare loop and the dispatcher run one after the other,
so a busy moment of a shared machine falls on both), the CPU each spends per message, the
duplicates after a crash, what the standard library's EmailMessage would cost per message,
and the machine's load; it exits 1 when a target is not met:
- dispatcher / bare >= 0.8 at 4 connections (at 1 connection the ratio is shown only);
- after a SIGKILL mid-pass, messages received twice <= connections, none missing.

The dispatcher's time includes everything a real pass does: claiming rows under a lease,
looking up recipients, rendering both parts from the templates, building and sending each
message, and recording every outcome. The bare loop only sends the same message bytes,
built before its clock starts, with ``sendmail`` on the same number of connections.

    .venv/bin/python -m tests.benchmarks.bench_dispatch --crash [--messages 5000]
        [--kill-after 400] [--lease 30]

runs only the crash: ``ppflow mail dispatch`` is killed once the sink has received
``--kill-after`` messages, then passes run until the outbox is empty; on SQLite and, when
PPFLOW_TEST_DATABASE_URL is set, on PostgreSQL.

From another script (``bench_all``): :func:`run` returns a :class:`DispatchBench`, whose
``checks`` are the rows of the results table and ``passed`` says whether every target was
met; :func:`measure` is one connection count's rates.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path

import aiosmtplib
from sqlalchemy import update

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ppflow.adapters.email.maildir import count_messages  # noqa: E402
from ppflow.adapters.email.sending import build_message  # noqa: E402
from ppflow.adapters.orm import NotificationRow  # noqa: E402
from ppflow.adapters.outbox import SqlOutbox  # noqa: E402
from ppflow.bootstrap import bootstrap  # noqa: E402
from ppflow.domain.commands import AddStaff, RegisterReferral  # noqa: E402
from ppflow.services import advisors, organization  # noqa: E402
from ppflow.services.dispatcher import prepare_emails  # noqa: E402
from ppflow.services.notifications import DispatchPolicy, queue_notification  # noqa: E402
from ppflow.services.ports import FixedClock  # noqa: E402
from ppflow.settings import Settings, SmtpSettings  # noqa: E402
from tests.integration.conftest import free_port  # noqa: E402

TEMPLATES = [
    ("invitation", {}),
    ("welcome", {"modules": [{"code": "PP-101", "title": "Le partenariat patient"}]}),
    (
        "survey_request",
        {"survey": "SV-3QJ7TN", "survey_url": "http://127.0.0.1/s/1", "due_date": "2026-12-01"},
    ),  # noqa: E501
    ("engagement_thank_you", {"engagement": "EN-8DKR4M", "team_name": "Urgence", "hours": 12}),
]


def run_sink(maildir: str, port: int, ready) -> None:
    from ppflow.adapters.email.sink import MailSink

    sink = MailSink(Path(maildir), port=port)
    sink.start()
    ready.set()
    sink.serve_forever()


class Sink:
    """A mail sink in its own process, with a fresh Maildir."""

    def __init__(self, folder: Path):
        context = multiprocessing.get_context("spawn")
        self.maildir = folder
        self.port = free_port()
        ready = context.Event()
        self.process = context.Process(
            target=run_sink, args=(str(folder), self.port, ready), daemon=True
        )
        self.process.start()
        if not ready.wait(30):
            raise RuntimeError("the mail sink did not start")

    def count(self) -> int:
        return count_messages(self.maildir)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def seed(app, messages: int, advisors_count: int, dispatch_first: bool = True) -> None:
    organization.add_staff(
        app.uow(), AddStaff("Coordination", "coord@hopital.example", "coordinator")
    )
    referrer = organization.add_staff(
        app.uow(), AddStaff("Référente", "ref@hopital.example", "provider")
    ).code
    codes = []
    for n in range(advisors_count):
        cmd = RegisterReferral(
            first_name=f"Prénom{n}",
            last_name=f"Nom{n}",
            email=f"patient{n}@courriel.example",
            referred_by=referrer,
            language="fr" if n % 3 else "en",
        )
        codes.append(advisors.register_referral(app.uow(), cmd, app.clock).code)
    # the referrals queued acknowledgements and notices: send those out of the way first
    if dispatch_first:
        app.dispatch_pending()
    with app.uow() as uow:
        for n in range(messages):
            template, extra = TEMPLATES[n % len(TEMPLATES)]
            code = codes[n % len(codes)]
            queue_notification(
                uow,
                template=template,
                recipient_kind="advisor",
                recipient_code=code,
                context={"advisor": code, **extra},
                idempotency_key=f"bench:{n}",
                at=app.clock.now(),
            )
        uow.commit()


def prebuilt_messages(app) -> list:
    """The same messages, rendered and built before the clock starts, for the bare loop."""
    outbox = SqlOutbox(app.session_factory)  # read only: nothing is claimed
    entries = outbox.list(status="pending", limit=10**9)
    _, emails = prepare_emails(entries, app.mail_ports(), DispatchPolicy())
    sender = app.settings.smtp.sender
    date = formatdate(app.clock.now().timestamp())
    return [(sender, e.to_address, build_message(e, sender, date)) for e in emails]


def requeue(app) -> None:
    """Make every benchmark row due again, as if it had never been sent."""
    with app.engine.begin() as connection:
        connection.execute(
            update(NotificationRow)
            .where(NotificationRow.idempotency_key.like("bench:%"))
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=app.clock.now(),
                sent_at=None,
                message_id=None,
            )
        )


async def bare_loop(messages: list, port: int, connections: int) -> None:
    queue = deque(messages)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while queue:
            sender, recipient, message = queue.popleft()
            await client.sendmail(sender, [recipient], message)
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(connections)))


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes) and its cores."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@dataclass
class Side:
    """One side's runs at one number of connections."""

    rates: list[float] = field(default_factory=list)  # messages per second, per round
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU per message

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


@dataclass
class Ratio:
    connections: int
    bare: Side = field(default_factory=Side)
    dispatcher: Side = field(default_factory=Side)

    @property
    def ratios(self) -> list[float]:
        return [d / b for d, b in zip(self.dispatcher.rates, self.bare.rates, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def _timed(call) -> tuple[float, float]:
    """Wall and CPU seconds of a call (CPU of this whole process, its threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure_rounds(
    messages: int = 2000,
    connections: tuple[int, ...] = (1, 4),
    advisors_count: int = 200,
    rounds: int = 3,
    log=print,
) -> tuple[dict[int, Ratio], list]:
    """Each round runs, for each number of connections, the bare loop then the dispatcher,
    each on a fresh sink. Returns the figures by connections and the prebuilt messages
    (sender, recipient, bytes), which other peers may send in their turn."""
    results = {c: Ratio(c) for c in connections}
    with tempfile.TemporaryDirectory(prefix="ppflow-bench-") as tmp:
        tmp = Path(tmp)
        clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        warmup = Sink(tmp / "warmup")
        smtp = SmtpSettings(port=warmup.port, sender="partenariat@hopital.example")
        settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp, smtp=smtp)
        app = bootstrap(settings, clock=clock)
        app.upgrade()
        log(f"seeding {messages} notifications for {advisors_count} advisors ...")
        seed(app, messages, advisors_count)
        warmup.stop()
        prebuilt = prebuilt_messages(app)
        assert len(prebuilt) == messages

        for round_number in range(1, rounds + 1):
            for count in connections:
                figures = results[count]
                bare_sink = Sink(tmp / f"bare-{round_number}-{count}")
                wall, cpu = _timed(
                    lambda port=bare_sink.port, n=count: asyncio.run(bare_loop(prebuilt, port, n))
                )
                bare_count = bare_sink.count()
                bare_sink.stop()
                figures.bare.rates.append(bare_count / wall)
                figures.bare.cpu_ms.append(cpu * 1000 / bare_count)

                sink = Sink(tmp / f"dispatch-{round_number}-{count}")
                app.settings = settings.model_copy(
                    update={
                        "smtp": smtp.model_copy(update={"port": sink.port, "concurrency": count})
                    }
                )
                requeue(app)
                reports: list = []
                wall, cpu = _timed(lambda done=reports: done.append(app.dispatch_pending()))
                received = sink.count()
                sink.stop()
                if received != messages or bare_count != messages or reports[0].sent != received:
                    raise SystemExit("a sink did not receive every message exactly once")
                figures.dispatcher.rates.append(received / wall)
                figures.dispatcher.cpu_ms.append(cpu * 1000 / received)
                log(
                    f"round {round_number}, {count} connection(s): "
                    f"bare {figures.bare.rates[-1]:.0f} msg/s "
                    f"({figures.bare.cpu_ms[-1]:.2f} ms CPU/msg), dispatcher "
                    f"{figures.dispatcher.rates[-1]:.0f} msg/s "
                    f"({figures.dispatcher.cpu_ms[-1]:.2f} ms CPU/msg), "
                    f"ratio {figures.ratios[-1]:.2f}; load {load()}"
                )
        app.dispose()
    return results, prebuilt


def measure(
    messages: int = 2000,
    connections: int = 4,
    advisors_count: int = 200,
    rounds: int = 3,
    log=print,
) -> dict:
    """One number of connections: the median rates, the median ratio, and the prebuilt
    messages (sender, recipient, bytes)."""
    results, prebuilt = measure_rounds(messages, (connections,), advisors_count, rounds, log)
    figures = results[connections]
    return {
        "messages": messages,
        "connections": connections,
        "rounds": rounds,
        "bare_rate": figures.bare.rate,
        "rate": figures.dispatcher.rate,
        "rates": figures.dispatcher.rates,
        "ratio": figures.ratio,
        "prebuilt": prebuilt,
    }


# ------------------------------------------------------------------------- MIME cost


def _with_email_message(outgoing, sender: str, date: str) -> bytes:
    """The same message built with the standard library's EmailMessage."""
    email = outgoing
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = Address(email.to_name, addr_spec=email.to_address)
    message["Subject"] = email.subject
    message["Date"] = date
    message["Message-ID"] = email.message_id
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text, cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    return message.as_bytes()


def mime_cost(emails: list, sender: str, repeat: int = 200) -> dict[str, float]:
    """CPU milliseconds per message: built by hand (as sent) and with EmailMessage."""
    date = formatdate(0)
    sample = (emails * (repeat // max(1, len(emails)) + 1))[:repeat]
    costs = {}
    for name, build in (("hand", build_message), ("email_message", _with_email_message)):
        started = time.process_time()
        for one in sample:
            build(one, sender, date)
        costs[name] = (time.process_time() - started) * 1000 / len(sample)
    return costs


# ------------------------------------------------------------------------- the crash


def crash_figures(kind: str, messages: int, connections: int, kill_after: int, lease: float):
    """One crash (see the module), on a fresh database of ``kind``; None when that
    database is not available."""
    from ppflow.bootstrap import SystemClock
    from tests.conftest import POSTGRES_URL, make_app
    from tests.integration.test_dispatch_crash import crash_and_recover

    if kind == "postgres" and not POSTGRES_URL:
        return None
    with tempfile.TemporaryDirectory(prefix="ppflow-crash-") as tmp:
        tmp = Path(tmp)
        sink = Sink(tmp / "maildir")
        app, cleanup = make_app(kind, tmp, SystemClock())
        try:
            return crash_and_recover(
                app, sink.port, sink.maildir, messages, concurrency=connections,
                lease_seconds=lease, kill_after=kill_after,
            )  # fmt: skip
        finally:
            sink.stop()
            app.dispose()
            if cleanup:
                cleanup()


# ------------------------------------------------------------------------- together


@dataclass(frozen=True)
class Check:
    """One row of a results table."""

    measure: str
    figure: str
    floor: str  # what the figure is compared with, measured in the same run
    target: str  # "" when the figure is only shown
    met: bool | None  # None when only shown


@dataclass
class DispatchBench:
    messages: int
    rounds: int
    load_before: str
    load_after: str
    ratios: dict[int, Ratio]
    crash: object | None  # tests.integration.test_dispatch_crash.CrashFigures
    mime: dict[str, float]
    prebuilt: list  # (sender, recipient, bytes) of each message, for the naive peer
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.met is not False for check in self.checks)

    @property
    def rate(self) -> float:
        """The dispatcher's median rate at the most connections measured."""
        return self.ratios[max(self.ratios)].dispatcher.rate


RATIO_FLOOR = 0.8
RATIO_CONNECTIONS = 4  # the ratio must be met there; elsewhere it is shown


def run(
    *,
    quick: bool = False,
    messages: int | None = None,
    rounds: int | None = None,
    connections: tuple[int, ...] = (1, 4),
    crash: bool = True,
    log=print,
) -> DispatchBench:
    """Every dispatch figure beside its floor. Full: 2,000 messages, 3 rounds, a crash of
    1,000 rows; quick: 300 messages, 1 round, a crash of 400 rows."""
    messages = messages or (300 if quick else 2000)
    rounds = rounds or (1 if quick else 3)
    before = load()
    log(f"== dispatch: {messages} messages, {rounds} round(s); load {before}")
    ratios, prebuilt = measure_rounds(messages, connections, 200, rounds, log)
    checks = []
    for count, figures in ratios.items():
        checked = count == RATIO_CONNECTIONS
        checks.append(
            Check(
                f"notification dispatch, {messages} e-mails, {count} connection(s), to an "
                f"aiosmtpd sink in another process (median of {rounds}; CPU per message "
                f"{figures.dispatcher.cpu:.2f} ms against {figures.bare.cpu:.2f} ms)",
                f"{figures.dispatcher.rate:.0f} msg/s",
                f"bare aiosmtplib loop {figures.bare.rate:.0f} msg/s",
                f"ratio ≥ {RATIO_FLOOR}" if checked else "",
                figures.ratio >= RATIO_FLOOR if checked else None,
            )
        )
        log(
            f"{count} connection(s): ratio {figures.ratio:.2f} "
            f"(rounds {', '.join(f'{r:.2f}' for r in figures.ratios)})"
        )

    sample = prebuilt_emails(messages=40)
    mime = mime_cost(sample, "Équipe partenariat <partenariat@hopital.example>")
    per_message = 1000 / ratios[max(ratios)].bare.rate  # the bare loop's ms per message
    share = mime["email_message"] / per_message
    checks.append(
        Check(
            "building a message: by hand (as sent) against the standard library's "
            "EmailMessage, CPU per message, as a share of the bare loop's time per message",
            f"hand {mime['hand']:.2f} ms ({mime['hand'] / per_message:.0%})",
            f"EmailMessage {mime['email_message']:.2f} ms ({share:.0%})",
            "",
            None,
        )
    )
    log(
        f"MIME per message: hand {mime['hand']:.3f} ms, EmailMessage {mime['email_message']:.3f} ms"
    )

    figures = None
    if crash:
        rows, kill_after = (400, 120) if quick else (1000, 300)
        figures = crash_figures("sqlite", rows, RATIO_CONNECTIONS, kill_after, lease=2.0)
        log(f"crash: {figures.summary()}")
        checks.append(
            Check(
                f"a dispatcher killed with SIGKILL mid-batch ({rows} rows, "
                f"{figures.connections} connections, its outcome writes held back for "
                f"0.5 s, killed after {figures.received_before_the_kill} received, "
                f"{figures.sent_while_writes_held} of them while held, "
                f"{figures.held_by_the_dead} rows held), then passes until the outbox is "
                "empty, SQLite: messages received twice",
                f"{figures.sent_twice} sent twice, {figures.missing} missing",
                f"{figures.connections} connections",
                "sent twice ≤ connections, none missing",
                figures.sent_twice <= figures.connections
                and figures.sent_while_writes_held <= figures.connections
                and figures.missing == 0,
            )
        )
    after = load()
    log(f"load after: {after}")
    return DispatchBench(messages, rounds, before, after, ratios, figures, mime, prebuilt, checks)


def prebuilt_emails(messages: int) -> list:
    """A few rendered messages (OutgoingEmail), for the MIME measure."""
    with tempfile.TemporaryDirectory(prefix="ppflow-mime-") as tmp:
        tmp = Path(tmp)
        clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        settings = Settings(
            database_url=f"sqlite:///{tmp / 'mime.db'}",
            data_dir=tmp,
            smtp=SmtpSettings(port=free_port(), sender="partenariat@hopital.example"),
        )
        app = bootstrap(settings, clock=clock)
        app.upgrade()
        seed(app, messages, 10, dispatch_first=False)
        entries = SqlOutbox(app.session_factory).list(status="pending", limit=10**9)
        entries = [e for e in entries if e.idempotency_key.startswith("bench:")]
        _, emails = prepare_emails(entries, app.mail_ports(), DispatchPolicy())
        app.dispose()
    return emails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small: about a minute")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--no-crash", action="store_true", help="leave the crash out")
    parser.add_argument("--crash", action="store_true", help="only the crash, both databases")
    parser.add_argument("--kill-after", type=int, default=400)
    parser.add_argument("--lease", type=float, default=None, help="seconds (default: setting)")
    args = parser.parse_args()
    if args.crash:
        for kind in ("sqlite", "postgres"):
            figures = crash_figures(
                kind, args.messages or 5000, args.connections[-1], args.kill_after, args.lease
            )
            print(f"{kind}: {figures.summary() if figures else 'skipped (no PostgreSQL)'}")
        return
    result = run(
        quick=args.quick,
        messages=args.messages,
        rounds=args.rounds,
        connections=tuple(args.connections),
        crash=not args.no_crash,
        log=print,
    )
    print()
    for check in result.checks:
        verdict = {True: "met", False: "NOT MET", None: "shown"}[check.met]
        target = f"; target {check.target}" if check.target else ""
        print(f"- {check.measure}:\n    {check.figure} against {check.floor}{target}: {verdict}")
    print(f"load before: {result.load_before}; after: {result.load_after}")
    sys.exit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
