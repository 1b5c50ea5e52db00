"""Benchmark: stage transitions with their outbox rows, on the batch path and one at a time.

    .venv/bin/python -m tests.benchmarks.bench_transitions [--batch 1000] [--rounds 3]
                                                           [--calls 300] [--pool 10000]
                                                           [--growth 500,1000,2000]

Batch path: the referral import (``import_referrals``, what the ``identify-advisors`` flow
and ``ppflow advisor import`` run) reads a CSV of ``--batch`` referrals, validates every
row, checks the referrers and the duplicates against the database, then writes in one
transaction, per row, an advisor, its contact, its referral, its first transition
(None -> identified), an acknowledgement to the referrer and a notice to each of the two
coordinators. Its floor is SQLAlchemy Core ``executemany`` of the same rows (same codes,
same values; no CSV, no reads, no checks) on a second database seeded with the same staff.
The two take turns for a few rounds, each round a new file (so the pool grows by one
batch a round on both); the figure is the median of the rounds' ratios. Target >= 0.2.
Afterwards both databases must hold the same rows. ``--growth`` also times one import of
each size on fresh databases, to see how the import's time grows with the file.

Interactive path: one advisor put on hold and resumed, alternately, through the service
layer (a unit of work per call, as the CLI does), in a pool of identified advisors.
The figure is the median time of one call. Target < 5 ms.

SQLite, and PostgreSQL too when PPFLOW_TEST_DATABASE_URL is set (each in a fresh schema).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from ppflow.adapters.orm import (
    AdvisorRow,
    ContactRow,
    NotificationRow,
    ReferralRow,
    StaffRow,
    TransitionReasonRow,
    TransitionRow,
)
from ppflow.bootstrap import App, SystemClock, bootstrap
from ppflow.domain.commands import Meta
from ppflow.domain.model import normalise_phone
from ppflow.services import advisors
from ppflow.services.ports import FixedClock
from ppflow.services.queries import search_text
from ppflow.services.referral_import import import_referrals
from ppflow.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 1000  # referrals in one file
SEED_CHUNK = 5000


# ------------------------------------------------------------------ databases


def backends() -> list[str]:
    """SQLite always; PostgreSQL when a test server is named."""
    return ["sqlite", "postgresql"] if os.environ.get("PPFLOW_TEST_DATABASE_URL") else ["sqlite"]


@contextmanager
def fresh_settings(kind: str, scratch: Path, name: str = "bench") -> Iterator[Settings]:
    """Settings for an empty database: a SQLite file in ``scratch``, or a fresh schema on
    the PostgreSQL test server, dropped afterwards."""
    if kind == "sqlite":
        yield Settings(database_url=f"sqlite:///{scratch / f'{name}.db'}", data_dir=scratch)
        return
    url = os.environ["PPFLOW_TEST_DATABASE_URL"]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Settings(database_url=url, database_schema=schema, data_dir=scratch)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def new_app(settings: Settings, clock=None) -> App:
    app = bootstrap(settings, clock=clock or FixedClock(NOW))
    app.upgrade()
    return app


def seed_identified(app: App, count: int, prefix: str = "T") -> list[str]:
    """``count`` identified advisors, each with a contact and a valid e-mail address and
    their first transition, written with Core executemany; returns their codes in order."""
    codes = [f"PA-{prefix}{n:07d}" for n in range(count)]
    with app.engine.begin() as connection:
        if connection.scalar(select(StaffRow.id).where(StaffRow.role == "coordinator")) is None:
            connection.execute(
                insert(StaffRow),
                [
                    {
                        "code": f"ST-{prefix}COORD",
                        "name": "Coordinator",
                        "role": "coordinator",
                        "email": f"coordinator-{prefix.lower()}@example.org",
                        "department": "PP",
                    }
                ],
            )
        start = connection.scalar(select(AdvisorRow.id).order_by(AdvisorRow.id.desc())) or 0
        for offset in range(0, count, SEED_CHUNK):
            chunk = codes[offset : offset + SEED_CHUNK]
            connection.execute(
                insert(AdvisorRow),
                [
                    {
                        "code": code,
                        "stage": "identified",
                        "stage_changed_at": NOW,
                        "languages": ["fr"],
                        "tags": ["cancer"],
                        "skills": [],
                        "availability_hours": 4,
                        "version": 1,
                    }
                    for code in chunk
                ],
            )
            first = start + offset + 1
            connection.execute(
                insert(ContactRow),
                [
                    {
                        "advisor_id": first + i,
                        "first_name": "Test",
                        "last_name": code,
                        "language": "fr" if i % 3 else "en",
                        "email": f"{code.lower()}@example.org",
                        "phone": "",
                        "context": "",
                    }
                    for i, code in enumerate(chunk)
                ],
            )
            connection.execute(
                insert(TransitionRow),
                [
                    {
                        "entity": "advisor",
                        "code": code,
                        "from_state": None,
                        "to_state": "identified",
                        "at": NOW,
                        "actor": "seed",
                    }
                    for code in chunk
                ],
            )
    if app.engine.dialect.name == "postgresql":
        with app.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return codes


# ------------------------------------------------------------------ batch path

REFERRER = {
    "code": "ST-BREF",
    "name": "Referring Provider",
    "role": "provider",
    "email": "referrer@example.org",
    "department": "Oncology",
}
COORDINATORS = [
    {
        "code": f"ST-BCO{n}",
        "name": f"Coordinator {n}",
        "role": "coordinator",
        "email": f"coordinator{n}@example.org",
        "department": "PP",
    }
    for n in (1, 2)
]
FIRST_NAMES = ("Anne", "Louis", "Marie", "Karim", "Sophie", "Jean", "Amina", "Paul", "Lea", "Omar")
LAST_NAMES = ("Tremblay", "Gagnon", "Roy", "Cote", "Bouchard", "Gauthier", "Morin", "Lavoie")
HEADER = ("first_name", "last_name", "email", "language", "referred_by", "phone")


def _letters(n: int) -> str:
    """A distinct run of letters for every n (0 -> 'Aa', 1 -> 'Ab', ...)."""
    out = ""
    for _ in range(4):
        n, digit = divmod(n, 26)
        out = chr(ord("a") + digit) + out
    return out.capitalize()


def referral_rows(start: int, count: int) -> list[dict[str, str]]:
    """``count`` referrals, numbered from ``start``: distinct names, e-mails and phones,
    all referred by the seeded provider."""
    rows = []
    for n in range(start, start + count):
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        last = f"{LAST_NAMES[n // len(FIRST_NAMES) % len(LAST_NAMES)]}-{_letters(n)}"
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{n}@example.org".lower(),
                "language": "en" if n % 3 == 0 else "fr",
                "referred_by": REFERRER["code"],
                "phone": f"(514) {n // 10_000:03d}-{n % 10_000:04d}",
            }
        )
    return rows


def referral_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def seed_staff(app: App) -> None:
    """The referrer and the coordinators, in the same order (so with the same ids)."""
    with app.engine.begin() as connection:
        connection.execute(insert(StaffRow), [REFERRER, *COORDINATORS])


def floor_rows(app: App, rows: list[dict[str, str]], codes: list[str], meta: Meta) -> dict:
    """The rows ``import_referrals`` writes for ``rows`` (whose advisors it coded
    ``codes``), table by table, computed before the floor's clock starts: the advisor,
    its contact, its referral, its first transition, the acknowledgement to the referrer
    and one notice per coordinator."""
    with app.engine.connect() as connection:
        staff = dict(connection.execute(select(StaffRow.code, StaffRow.id)).all())
        advisor_id = connection.scalar(select(func.max(AdvisorRow.id))) or 0
        transition_id = connection.scalar(select(func.max(TransitionRow.id))) or 0
    referrer = REFERRER["code"]
    tables: dict[str, list[dict]] = {
        "advisors": [],
        "contacts": [],
        "referrals": [],
        "transitions": [],
        "transition_reasons": [],
        "notifications": [],
    }
    for line, (row, code) in enumerate(zip(rows, codes, strict=True), start=2):
        advisor_id += 1
        transition_id += 1
        tables["advisors"].append(
            {
                "code": code,
                "stage": "identified",
                "held_from": None,
                "program_id": None,
                "languages": [row["language"]],
                "tags": [],
                "skills": [],
                "availability_hours": 0,
                "version": 1,
                "stage_changed_at": NOW,
            }
        )
        tables["contacts"].append(
            {
                "advisor_id": advisor_id,
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "email": row["email"],
                "phone": normalise_phone(row["phone"]),
                "language": row["language"],
                "context": "",
                "email_key": row["email"].strip().lower(),
                "phone_key": normalise_phone(row["phone"]) or None,
                "search_text": search_text(row["first_name"], row["last_name"], row["email"]),
            }
        )
        tables["referrals"].append(
            {
                "advisor_id": advisor_id,
                "referred_by_id": staff[referrer],
                "referred_at": NOW,
                "source": "csv",
            }
        )
        tables["transitions"].append(
            {
                "entity": "advisor",
                "code": code,
                "from_state": None,
                "to_state": "identified",
                "at": NOW,
                "actor": meta.actor,
                "request_id": f"{meta.request_id}:{line}",
                "flow_run_id": meta.flow_run_id,
            }
        )
        tables["transition_reasons"].append(
            {"transition_id": transition_id, "reason": f"referred by {referrer}"}
        )
        context = {"advisor": code, "referrer": referrer}
        notices = [("referral_acknowledgement", referrer, f"referral_acknowledgement:{code}")]
        tables["notifications"] += [
            {
                "template": template,
                "recipient_kind": "staff",
                "recipient_code": recipient,
                "language": "fr",
                "context": context,
                "idempotency_key": key,
                "transition_id": transition_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": NOW,
            }
            for template, recipient, key in notices
        ]
    # the coordinators hear once for the whole file
    for c in COORDINATORS:
        tables["notifications"].append(
            {
                "template": "referrals_imported",
                "recipient_kind": "staff",
                "recipient_code": c["code"],
                "language": "fr",
                "context": {
                    "count": len(codes),
                    "advisors": codes[:50],
                    "more": max(0, len(codes) - 50),
                },
                "idempotency_key": f"referrals_imported:{meta.request_id or codes[0]}:{c['code']}",
                "transition_id": None,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": NOW,
            }
        )
    return tables


FLOOR_TABLES = {
    "advisors": AdvisorRow,
    "contacts": ContactRow,
    "referrals": ReferralRow,
    "transitions": TransitionRow,
    "transition_reasons": TransitionReasonRow,
    "notifications": NotificationRow,
}


def floor_write(app: App, tables: dict) -> None:
    """One transaction, one executemany per table, in the order of the foreign keys."""
    with app.engine.begin() as connection:
        for name, row in FLOOR_TABLES.items():
            connection.execute(insert(row), tables[name])


def measure_batch(kind: str, batch: int = BATCH, rounds: int = 3) -> dict:
    """Referrals per second of ``import_referrals`` on a CSV of ``batch`` referrals, and of
    its Core floor writing the same rows, on two databases seeded with the same staff,
    taking turns; every round imports a new file. The median of the rounds' ratios."""
    with tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch:
        scratch = Path(scratch)
        with (
            fresh_settings(kind, scratch, "ppflow") as s1,
            fresh_settings(kind, scratch, "floor") as s2,
        ):
            app, floor_app = new_app(s1), new_app(s2)
            seed_staff(app)
            seed_staff(floor_app)
            seconds, floor_seconds = [], []
            # Round 0 warms both paths up (the adapters are imported when first used, and
            # the first statements are compiled) and is not counted.
            for r in range(rounds + 1):
                rows = referral_rows(r * batch, batch)
                data = referral_csv(rows)
                run = str(uuid.uuid4())
                meta = Meta("bench", None, f"{run}:import", run)

                started = time.perf_counter()
                report = import_referrals(app.uow(), data, meta, clock=app.clock)
                took = time.perf_counter() - started
                if report.problems or len(report.imported) != batch:
                    raise SystemExit(
                        f"import_referrals imported {len(report.imported)} of {batch}: "
                        f"{report.problems[:3]}"
                    )

                tables = floor_rows(floor_app, rows, report.imported, meta)
                started = time.perf_counter()
                floor_write(floor_app, tables)
                if r:
                    seconds.append(took)
                    floor_seconds.append(time.perf_counter() - started)
            written = [_snapshot(a) for a in (app, floor_app)]
            if written[0] != written[1]:
                counts = [{t: len(v) for t, v in w.items()} for w in written]
                differ = [t for t in FLOOR_TABLES if written[0][t] != written[1][t]]
                raise SystemExit(
                    f"the two databases differ after the imports (tables {differ}): {counts}"
                )
            counts = {t: len(v) for t, v in written[0].items()}
            app.dispose()
            floor_app.dispose()
    rates = [batch / s for s in seconds]
    floor_rates = [batch / s for s in floor_seconds]
    ratios = [r / f for r, f in zip(rates, floor_rates, strict=True)]
    return {
        "backend": kind,
        "batch": batch,
        "rounds": rounds,
        "seconds": seconds,
        "floor_seconds": floor_seconds,
        "rate": statistics.median(rates),
        "floor_rate": statistics.median(floor_rates),
        "ratio": statistics.median(ratios),
        "counts": counts,
    }


def _snapshot(app: App) -> dict[str, list[tuple]]:
    """What the batch path wrote, table by table, in id order, without the server's
    timestamps (the two databases must hold the same rows, ids included)."""
    found = {}
    with app.engine.connect() as connection:
        for name, row in FLOOR_TABLES.items():
            table = row.__table__
            columns = [c for c in table.c if c.name != "created_at"]
            found[name] = [
                tuple(r) for r in connection.execute(select(*columns).order_by(*table.primary_key))
            ]
    return found


# ------------------------------------------------------------------ interactive path


def measure_interactive(kind: str, calls: int = 300, pool: int = 10_000) -> dict:
    """Median time of one put_on_hold / resume through the service layer, alternating,
    on one advisor in a pool of ``pool`` identified advisors, with the system clock."""
    with (
        tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch,
        fresh_settings(kind, Path(scratch)) as settings,
    ):
        app = new_app(settings, SystemClock())
        codes = seed_identified(app, pool)
        code = codes[len(codes) // 2]
        hold = Meta("bench", "benchmark pause")
        back = Meta("bench")
        for _ in range(10):  # warm the connection pool and the statement caches
            advisors.put_on_hold(app.uow(), code, hold, app.clock)
            advisors.resume(app.uow(), code, back, app.clock)
        times = []
        for n in range(calls):
            started = time.perf_counter()
            if n % 2 == 0:
                change = advisors.put_on_hold(app.uow(), code, hold, app.clock)
            else:
                change = advisors.resume(app.uow(), code, back, app.clock)
            times.append(time.perf_counter() - started)
            assert change.to_state == ("on_hold" if n % 2 == 0 else "identified")
        app.dispose()
    times.sort()
    return {
        "backend": kind,
        "calls": calls,
        "pool": pool,
        "median_ms": statistics.median(times) * 1000,
        "p90_ms": times[int(len(times) * 0.9)] * 1000,
    }


def measure_growth(kind: str, sizes: list[int]) -> list[dict]:
    """One import (and its floor) of each size, on fresh databases."""
    return [measure_batch(kind, size, 1) for size in sizes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=BATCH, help="referrals in one file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument(
        "--growth", default="", help="also time one import of each size, e.g. 500,1000,2000"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.growth.split(",") if s.strip()]
    for kind in backends():
        b = measure_batch(kind, args.batch, args.rounds)
        verdict = "met" if b["ratio"] >= 0.2 else "NOT MET"
        print(
            f"{kind}: import of {b['batch']} referrals, {b['rounds']} rounds: "
            f"import_referrals {b['rate']:.0f} referrals/s "
            f"(rounds {', '.join(f'{s:.2f}' for s in b['seconds'])} s), "
            f"Core executemany {b['floor_rate']:.0f}/s "
            f"(rounds {', '.join(f'{s:.3f}' for s in b['floor_seconds'])} s), "
            f"ratio {b['ratio']:.3f} (target >= 0.2: {verdict}); "
            f"both databases hold {b['counts']['advisors']} advisors, "
            f"{b['counts']['notifications']} notifications"
        )
        previous = None
        for g in measure_growth(kind, sizes):
            took = g["seconds"][0]
            grew = ""
            if previous:
                grew = (
                    f", x{took / previous['seconds'][0]:.2f} the time for "
                    f"x{g['batch'] / previous['batch']:.2f} the rows"
                )
            print(
                f"{kind}: growth: {g['batch']} referrals in {took:.2f} s "
                f"({g['rate']:.0f}/s; floor {g['floor_seconds'][0]:.3f} s){grew}"
            )
            previous = g
        i = measure_interactive(kind, args.calls, args.pool)
        print(
            f"{kind}: one transition through the service layer: median {i['median_ms']:.2f} ms, "
            f"p90 {i['p90_ms']:.2f} ms over {i['calls']} calls (target < 5 ms)"
        )


if __name__ == "__main__":
    main()
