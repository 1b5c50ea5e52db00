"""Benchmark: the daily reminder sweep and the indicators over pools of growing size.

Prints wall time and peak Python memory of each at 1k, 10k and 100k advisors, on SQLite
(and on PostgreSQL when PPFLOW_TEST_DATABASE_URL is set). A script, not a test:

    .venv/bin/python -m tests.benchmarks.bench_sweeps [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from ppflow.bootstrap import bootstrap
from ppflow.services.indicators import compute_indicators
from ppflow.services.ports import FixedClock
from ppflow.services.sweeps import send_reminders
from ppflow.settings import Settings
from tests.seeding import seed_pool


def measure(fn):
    tracemalloc.start()
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak / 2**20


def run(settings: Settings, size: int, now: datetime) -> tuple:
    app = bootstrap(settings, clock=FixedClock(now))
    app.upgrade()
    seed_pool(app, size, now)
    report, sweep_s, sweep_mb = measure(
        lambda: send_reminders(app.uow(), app.sweeps(), clock=app.clock)
    )
    _, ind_s, ind_mb = measure(
        lambda: compute_indicators(app.indicators(), now - timedelta(days=91), now)
    )
    app.dispose()
    return report.total, sweep_s, sweep_mb, ind_s, ind_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    now = datetime.now(UTC)
    backends = [("sqlite", None)]
    if os.environ.get("PPFLOW_TEST_DATABASE_URL"):
        backends.append(("postgresql", os.environ["PPFLOW_TEST_DATABASE_URL"]))
    print(
        f"{'backend':<11}{'advisors':>10}{'stalled':>9}{'sweep s':>9}{'sweep MB':>10}"
        f"{'indic. s':>10}{'indic. MB':>10}"
    )
    for backend, url in backends:
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as scratch:
                if url is None:
                    settings = Settings(
                        database_url=f"sqlite:///{Path(scratch) / 'b.db'}", data_dir=Path(scratch)
                    )
                    row = run(settings, size, now)
                else:
                    schema = f"bench_{uuid.uuid4().hex[:8]}"
                    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
                    with admin.begin() as c:
                        c.execute(text(f'CREATE SCHEMA "{schema}"'))
                    try:
                        row = run(
                            Settings(
                                database_url=url, database_schema=schema, data_dir=Path(scratch)
                            ),
                            size,
                            now,
                        )
                    finally:
                        with admin.begin() as c:
                            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                        admin.dispose()
            total, sweep_s, sweep_mb, ind_s, ind_mb = row
            print(
                f"{backend:<11}{size:>10}{total:>9}{sweep_s:>9.3f}{sweep_mb:>10.1f}"
                f"{ind_s:>10.3f}{ind_mb:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
