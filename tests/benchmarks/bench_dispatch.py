"""Benchmark: the dispatcher against a bare aiosmtplib loop, same messages, same number of
connections, each to its own mail sink (aiosmtpd + Maildir) in a separate process.

    .venv/bin/python tests/benchmarks/bench_dispatch.py [--messages 5000] [--connections 4]
                                                        [--rounds 5]

The dispatcher's time includes everything a real pass does: claiming rows under a lease,
looking up recipients, rendering both parts from the templates, building and sending each
message, and recording every outcome. The bare loop only sends the same message bytes,
built before its clock starts, with ``sendmail`` on the same number of connections.
The two take turns for several rounds, each on a fresh sink; the figure is the median of
the rounds' ratios, since a shared machine's load shifts from one round to the next.
Target: dispatcher / bare >= 0.8.

    .venv/bin/python tests/benchmarks/bench_dispatch.py --crash [--messages 5000]
                                                        [--kill-after 400]

instead kills ``ppflow mail dispatch`` with SIGKILL once the sink (in its own process) has
received ``--kill-after`` messages, runs passes until the outbox is empty, and prints how
many messages were received twice (target: at most the number of connections) and how
long the rows the dead dispatcher held took to go out again (target: under 60 s), with
the default lease, on SQLite and, when PPFLOW_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
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
from ppflow.services.notifications import (  # noqa: E402
    DispatchPolicy,
    prepare_emails,
    queue_notification,
)
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


def seed(app, messages: int, advisors_count: int) -> None:
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


def measure(
    messages: int = 5000,
    connections: int = 4,
    advisors_count: int = 200,
    rounds: int = 5,
    log=print,
) -> dict:
    """Run the rounds; returns the median rates, the median ratio and the prebuilt
    messages (sender, recipient, bytes), which other peers may send in their turn."""
    with tempfile.TemporaryDirectory(prefix="ppflow-bench-") as tmp:
        tmp = Path(tmp)
        clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        warmup = Sink(tmp / "warmup")
        smtp = SmtpSettings(
            port=warmup.port, concurrency=connections, sender="partenariat@hopital.example"
        )
        settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp, smtp=smtp)
        app = bootstrap(settings, clock=clock)
        app.upgrade()
        log(f"seeding {messages} notifications for {advisors_count} advisors ...")
        seed(app, messages, advisors_count)
        warmup.stop()
        prebuilt = prebuilt_messages(app)
        assert len(prebuilt) == messages

        bare_rates, rates = [], []
        for round_number in range(1, rounds + 1):
            # the two take turns, each on a fresh sink, so that a busy moment of the
            # machine does not fall on one side only
            bare_sink = Sink(tmp / f"bare-{round_number}")
            started = time.perf_counter()
            asyncio.run(bare_loop(prebuilt, bare_sink.port, connections))
            bare_seconds = time.perf_counter() - started
            bare_count = bare_sink.count()
            bare_sink.stop()

            sink = Sink(tmp / f"dispatch-{round_number}")
            app.settings = settings.model_copy(
                update={"smtp": smtp.model_copy(update={"port": sink.port})}
            )
            requeue(app)
            started = time.perf_counter()
            report = app.dispatch_pending()
            seconds = time.perf_counter() - started
            count = sink.count()
            sink.stop()
            if count != messages or bare_count != messages or report.sent != count:
                raise SystemExit("a sink did not receive every message exactly once")
            bare_rates.append(bare_count / bare_seconds)
            rates.append(count / seconds)
            log(
                f"round {round_number}: bare {bare_rates[-1]:.0f} msg/s, "
                f"dispatcher {rates[-1]:.0f} msg/s, ratio {rates[-1] / bare_rates[-1]:.2f}"
            )
        app.dispose()

    ratios = [r / b for r, b in zip(rates, bare_rates, strict=True)]
    return {
        "messages": messages,
        "connections": connections,
        "rounds": rounds,
        "bare_rate": statistics.median(bare_rates),
        "rate": statistics.median(rates),
        "rates": rates,
        "ratio": statistics.median(ratios),
        "prebuilt": prebuilt,
    }


def crash(messages: int, connections: int, kill_after: int) -> None:
    """The crash test's run, at full size, with the default lease (see its module)."""
    from ppflow.bootstrap import SystemClock
    from tests.conftest import POSTGRES_URL, make_app
    from tests.integration.test_dispatch_crash import crash_and_recover

    for kind in ("sqlite", "postgres"):
        if kind == "postgres" and not POSTGRES_URL:
            print("postgres: skipped (PPFLOW_TEST_DATABASE_URL is not set)")
            continue
        with tempfile.TemporaryDirectory(prefix="ppflow-crash-") as tmp:
            tmp = Path(tmp)
            sink = Sink(tmp / "maildir")
            app, cleanup = make_app(kind, tmp, SystemClock())
            try:
                figures = crash_and_recover(
                    app, sink.port, sink.maildir, messages, concurrency=connections,
                    kill_after=kill_after,
                )  # fmt: skip
            finally:
                sink.stop()
                app.dispose()
                if cleanup:
                    cleanup()
        print(f"{kind}: lease {app.settings.smtp.lease_seconds:.0f} s; {figures.summary()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--advisors", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--crash", action="store_true", help="kill a dispatcher mid-pass")
    parser.add_argument("--kill-after", type=int, default=400)
    args = parser.parse_args()
    if args.crash:
        crash(args.messages, args.connections, args.kill_after)
        return
    result = measure(args.messages, args.connections, args.advisors, args.rounds)
    ratio = result["ratio"]
    print(f"messages: {args.messages}, connections: {args.connections}, rounds: {args.rounds}")
    print(f"bare aiosmtplib loop: {result['bare_rate']:.0f} msg/s (median)")
    print(f"ppflow dispatcher:    {result['rate']:.0f} msg/s (median)")
    verdict = "met" if ratio >= 0.8 else "NOT met"
    print(f"ratio dispatcher / bare: {ratio:.2f} (median of the rounds; target >= 0.8: {verdict})")


if __name__ == "__main__":
    main()
