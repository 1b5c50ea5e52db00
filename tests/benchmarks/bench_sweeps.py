"""Benchmark: the daily reminder sweep and the indicators over pools of growing size.

Prints wall time, Python heap peak and the process's peak resident memory (measured in a
fresh process, after start-up and imports) at 1k, 10k and 100k advisors, on SQLite
(and on PostgreSQL when PPFLOW_TEST_DATABASE_URL is set). A script, not a test:

    .venv/bin/python -m tests.benchmarks.bench_sweeps [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
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


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image since its
    exec; ru_maxrss would also count the parent's memory at the fork, which a spawned
    child inherits on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure_in_child(settings: Settings, now: datetime, queue) -> None:
    """Run in a fresh process, so that its peak resident memory is the sweep's own."""
    app = bootstrap(settings, clock=FixedClock(now))
    report, sweep_s, sweep_mb = measure(
        lambda: send_reminders(app.uow(), app.sweeps(), clock=app.clock)
    )
    after_sweep = peak_rss_mb()
    _, ind_s, ind_mb = measure(
        lambda: compute_indicators(app.indicators(), now - timedelta(days=91), now)
    )
    queue.put((report.total, sweep_s, sweep_mb, after_sweep, ind_s, ind_mb))


def run(settings: Settings, size: int, now: datetime) -> tuple:
    app = bootstrap(settings, clock=FixedClock(now))
    app.upgrade()
    seed_pool(app, size, now)
    app.dispose()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_measure_in_child, args=(settings, now, queue))
    child.start()
    row = queue.get(timeout=600)
    child.join()
    return row


def _settings(scratch: Path, url: str | None, schema: str | None) -> Settings:
    if url is None:
        return Settings(database_url=f"sqlite:///{scratch / 'b.db'}", data_dir=scratch)
    return Settings(database_url=url, database_schema=schema, data_dir=scratch)


def measure_size(backend: str, url: str | None, size: int, now: datetime) -> dict:
    """One size on one backend (url None: SQLite), on a fresh database."""
    with tempfile.TemporaryDirectory() as scratch:
        if url is None:
            row = run(_settings(Path(scratch), None, None), size, now)
        else:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                row = run(_settings(Path(scratch), url, schema), size, now)
            finally:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    total, sweep_s, sweep_mb, rss, ind_s, ind_mb = row
    return {
        "backend": backend,
        "advisors": size,
        "stalled": total,
        "sweep_s": sweep_s,
        "sweep_heap_mb": sweep_mb,
        "peak_rss_mb": rss,
        "indicators_s": ind_s,
        "indicators_heap_mb": ind_mb,
    }


def backends() -> list[tuple[str, str | None]]:
    found = [("sqlite", None)]
    if os.environ.get("PPFLOW_TEST_DATABASE_URL"):
        found.append(("postgresql", os.environ["PPFLOW_TEST_DATABASE_URL"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    now = datetime.now(UTC)
    print(
        f"{'backend':<11}{'advisors':>10}{'stalled':>9}{'sweep s':>9}{'heap MB':>9}"
        f"{'peak RSS MB':>13}{'indic. s':>10}{'heap MB':>9}"
    )
    for backend, url in backends():
        for size in args.sizes:
            r = measure_size(backend, url, size, now)
            print(
                f"{backend:<11}{size:>10}{r['stalled']:>9}{r['sweep_s']:>9.3f}"
                f"{r['sweep_heap_mb']:>9.1f}{r['peak_rss_mb']:>13.0f}{r['indicators_s']:>10.3f}"
                f"{r['indicators_heap_mb']:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
