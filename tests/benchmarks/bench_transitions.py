"""Benchmark: stage transitions with their outbox rows, on the batch path and one at a time.

    .venv/bin/python -m tests.benchmarks.bench_transitions [--batch 5000] [--rounds 3]
                                                           [--calls 300]

Batch path: ``invite_advisors`` moves a cohort of identified advisors to ``invited`` in one
transaction (it reads them, checks each move against the lifecycle table, updates them
under the version check, appends the transitions with RETURNING and queues one invitation
per transition). Its floor is SQLAlchemy Core ``executemany`` of the same rows (the same
advisor UPDATEs, transition INSERTs and notification INSERTs, no reads, no checks) on a
second database seeded identically. The two take turns for a few rounds, each on its own
slice of the cohort; the figure is the median of the rounds' ratios. Target >= 0.2.

Interactive path: one advisor put on hold and resumed, alternately, through the service
layer (a unit of work per call, as the CLI does), in a pool of identified advisors.
The figure is the median time of one call. Target < 5 ms.

SQLite, and PostgreSQL too when PPFLOW_TEST_DATABASE_URL is set (each in a fresh schema).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, create_engine, func, insert, select, text, update

from ppflow.adapters.orm import AdvisorRow, ContactRow, NotificationRow, StaffRow, TransitionRow
from ppflow.bootstrap import App, bootstrap
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.ports import SYSTEM_CLOCK, FixedClock
from ppflow.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 5000


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
        for offset in range(0, count, BATCH):
            chunk = codes[offset : offset + BATCH]
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


def floor_rows(app: App, codes: list[str], meta: Meta) -> tuple[list, list, list]:
    """The rows the batch path writes, computed before the floor's clock starts."""
    with app.engine.connect() as connection:
        found = connection.execute(
            select(AdvisorRow.id, AdvisorRow.code, AdvisorRow.version, ContactRow.language)
            .join(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
            .where(AdvisorRow.code.in_(codes))
            .order_by(AdvisorRow.id)
        ).all()
        last = connection.scalar(select(TransitionRow.id).order_by(TransitionRow.id.desc())) or 0
    updates = [
        {"b_id": id_, "b_stage": "invited", "b_version": version + 1, "b_at": NOW}
        for id_, _, version, _ in found
    ]
    transitions = [
        {
            "entity": "advisor",
            "code": code,
            "from_state": "identified",
            "to_state": "invited",
            "at": NOW,
            "actor": meta.actor,
            "reason": meta.reason,
            "request_id": f"{meta.request_id}:{code}",
            "flow_run_id": meta.flow_run_id,
        }
        for _, code, _, _ in found
    ]
    notifications = [
        {
            "template": "invitation",
            "recipient_kind": "advisor",
            "recipient_code": code,
            "language": language,
            "context": {"advisor": code},
            "idempotency_key": f"invitation:{code}",
            "transition_id": last + 1 + i,
            "status": "pending",
            "next_attempt_at": NOW,
        }
        for i, (_, code, _, language) in enumerate(found)
    ]
    return updates, transitions, notifications


def floor_write(app: App, updates: list, transitions: list, notifications: list) -> None:
    table = AdvisorRow.__table__
    with app.engine.begin() as connection:
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                stage=bindparam("b_stage"),
                version=bindparam("b_version"),
                stage_changed_at=bindparam("b_at"),
            ),
            updates,
        )
        connection.execute(insert(TransitionRow), transitions)
        connection.execute(insert(NotificationRow), notifications)


def measure_batch(kind: str, batch: int = 5000, rounds: int = 3) -> dict:
    """Transitions per second of ``invite_advisors`` and of its Core floor, on two
    identically seeded databases, taking turns; the median of the rounds' ratios."""
    with tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch:
        scratch = Path(scratch)
        with (
            fresh_settings(kind, scratch, "ppflow") as s1,
            fresh_settings(kind, scratch, "floor") as s2,
        ):
            app, floor_app = new_app(s1), new_app(s2)
            codes = seed_identified(app, batch * rounds)
            assert seed_identified(floor_app, batch * rounds) == codes
            rates, floor_rates = [], []
            for r in range(rounds):
                cohort = codes[r * batch : (r + 1) * batch]
                meta = Meta("bench", None, f"bench-{r}", None)

                updates, transitions, notifications = floor_rows(floor_app, cohort, meta)
                started = time.perf_counter()
                floor_write(floor_app, updates, transitions, notifications)
                floor_rates.append(len(cohort) / (time.perf_counter() - started))

                started = time.perf_counter()
                result = advisors.invite_advisors(app.uow(), cohort, meta, app.clock)
                rates.append(len(cohort) / (time.perf_counter() - started))
                if len(result.moved) != len(cohort) or result.refused:
                    raise SystemExit(f"invite_advisors refused {len(result.refused)} advisors")
            counts = [_counts(a) for a in (app, floor_app)]
            if counts[0] != counts[1]:
                raise SystemExit(f"the two databases differ after the batches: {counts}")
            app.dispose()
            floor_app.dispose()
    ratios = [r / f for r, f in zip(rates, floor_rates, strict=True)]
    return {
        "backend": kind,
        "batch": batch,
        "rounds": rounds,
        "rate": statistics.median(rates),
        "floor_rate": statistics.median(floor_rates),
        "ratio": statistics.median(ratios),
    }


def _counts(app: App) -> tuple[int, int, int]:
    invited = select(func.count()).select_from(AdvisorRow).where(AdvisorRow.stage == "invited")
    with app.engine.connect() as connection:
        return (
            connection.scalar(invited),
            connection.scalar(select(func.count()).select_from(TransitionRow)),
            connection.scalar(select(func.count()).select_from(NotificationRow)),
        )


# ------------------------------------------------------------------ interactive path


def measure_interactive(kind: str, calls: int = 300, pool: int = 10_000) -> dict:
    """Median time of one put_on_hold / resume through the service layer, alternating,
    on one advisor in a pool of ``pool`` identified advisors, with the system clock."""
    with (
        tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch,
        fresh_settings(kind, Path(scratch)) as settings,
    ):
        app = new_app(settings, SYSTEM_CLOCK)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--pool", type=int, default=10_000)
    args = parser.parse_args()
    for kind in backends():
        b = measure_batch(kind, args.batch, args.rounds)
        print(
            f"{kind}: batch of {b['batch']}: invite_advisors {b['rate']:.0f} transitions/s, "
            f"Core executemany {b['floor_rate']:.0f}/s, ratio {b['ratio']:.2f} (target >= 0.2)"
        )
        i = measure_interactive(kind, args.calls, args.pool)
        print(
            f"{kind}: one transition through the service layer: median {i['median_ms']:.2f} ms, "
            f"p90 {i['p90_ms']:.2f} ms over {i['calls']} calls (target < 5 ms)"
        )


if __name__ == "__main__":
    main()
