"""Benchmark: the referral import (``ppflow advisor import``) at 1k, 10k and 100k rows.

For each size, on a fresh database (SQLite, and PostgreSQL when PPFLOW_TEST_DATABASE_URL
is set), a CSV of new referrals goes through ``import_referrals`` in a fresh process, and
the script prints:

- the import's wall time, and its rows per second;
- the process's peak resident memory (VmHWM, the process image's own since its exec);
- the write transaction: from its first INSERT into a real table to its COMMIT, as the
  engine's events see it (on SQLite that is when the file's write lock is held; the
  staging tables before it are temporary, the connection's own, and lock nothing);
- on SQLite, a second connection's longest wait: it tries ``BEGIN IMMEDIATE`` every
  100 ms throughout the import, as another writer (``ppflow advisor add``) would;
- the growth ratio: how much longer each size takes than the one before, per tenfold rows.

A script, not a test:

    .venv/bin/python -m tests.benchmarks.bench_import [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, func, select, text

from ppflow.adapters.orm import AdvisorRow
from ppflow.bootstrap import bootstrap
from ppflow.domain.commands import AddStaff, Meta
from ppflow.services import organization
from ppflow.services.ports import FixedClock
from ppflow.services.referral_import import import_referrals
from ppflow.settings import Settings
from tests.benchmarks.bench_sweeps import peak_rss_mb

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def referrals_csv(path: Path, size: int, referrer: str) -> None:
    """``size`` distinct people, in the shape coordinators send them (semicolons, as Excel
    in French writes them, with a phone, tags and some context)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("First_Name;Last Name;EMAIL;language;referred_by;phone;tags;context\n")
        for n in range(size):
            phone = f"514{n:07d}"
            f.write(
                f"Prénom{n};Nom{n};person.{n}@example.org;{'fr' if n % 3 else 'en'};"
                f"{referrer};{phone};cancer,caregiver;referred at the clinic\n"
            )


def _settings(scratch: Path, url: str | None, schema: str | None) -> Settings:
    if url is None:
        return Settings(database_url=f"sqlite:///{scratch / 'b.db'}", data_dir=scratch)
    return Settings(database_url=url, database_schema=schema, data_dir=scratch)


def _import_in_child(settings: Settings, csv_path: str, queue) -> None:
    """In a fresh process, so that its peak memory is the import's own."""
    app = bootstrap(settings, clock=FixedClock(NOW))
    writes: dict[str, float] = {}

    @event.listens_for(app.engine, "before_cursor_execute")
    def _first_write(conn, cursor, statement, *args):  # pragma: no cover - measurement
        # the staging tables (TEMPORARY, the connection's own) take no lock on the file
        statement = statement.lstrip().upper()
        staging = statement.startswith(("INSERT INTO PPFLOW_REFERRAL", "INSERT INTO PPFLOW_NOTICE"))
        if "first" not in writes and statement.startswith("INSERT") and not staging:
            writes["first"] = time.perf_counter()

    @event.listens_for(app.engine, "commit")
    def _commit(conn):  # pragma: no cover - measurement
        if "first" in writes and "commit" not in writes:
            writes["commit"] = time.perf_counter()

    data = Path(csv_path).read_bytes()
    with app.uow():  # connect once, so that start-up is not timed
        pass
    started = time.perf_counter()
    report = import_referrals(app.uow(), data, Meta("bench", request_id="bench"), clock=app.clock)
    elapsed = time.perf_counter() - started
    finished = time.perf_counter()
    hold = writes.get("commit", finished) - writes.get("first", finished)
    queue.put((len(report.imported), len(report.problems), elapsed, peak_rss_mb(), hold))
    app.dispose()


class Prober(threading.Thread):
    """Another writer: every 100 ms it takes SQLite's write lock and lets it go, and
    records how long it had to wait for it."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.longest, self.tries = path, 0.0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        while not self.stop.is_set():
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("COMMIT")
            self.longest = max(self.longest, time.perf_counter() - started)
            self.tries += 1
            self.stop.wait(0.1)
        connection.close()


def run(settings: Settings, size: int, scratch: Path) -> dict:
    app = bootstrap(settings, clock=FixedClock(NOW))
    app.upgrade()
    referrer = organization.add_staff(
        app.uow(), AddStaff("Referrer", "referrer@example.org", "provider", "Quality")
    ).code
    for n in range(2):
        organization.add_staff(
            app.uow(), AddStaff(f"Coordinator {n}", f"coord{n}@example.org", "coordinator")
        )
    csv_path = scratch / "referrals.csv"
    referrals_csv(csv_path, size, referrer)
    prober = None
    if settings.database_url.startswith("sqlite"):
        prober = Prober(Path(settings.database_url.split("///", 1)[1]))
        prober.start()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_import_in_child, args=(settings, str(csv_path), queue))
    child.start()
    imported, problems, elapsed, rss, hold = queue.get(timeout=1800)
    child.join()
    if prober:
        prober.stop.set()
        prober.join()
    with app.session_factory() as session:
        advisors = session.scalar(select(func.count()).select_from(AdvisorRow))
    app.dispose()
    if imported != size or advisors != size or problems:
        raise SystemExit(f"imported {imported} of {size} ({problems} bad rows, {advisors} in db)")
    return {
        "seconds": elapsed,
        "rss": rss,
        "hold": hold,
        "wait": prober.longest if prober else None,
        "probes": prober.tries if prober else 0,
    }


def measure_size(url: str | None, size: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        if url is None:
            return run(_settings(scratch, None, None), size, scratch)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            return run(_settings(scratch, url, schema), size, scratch)
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    found = [("sqlite", None)]
    if os.environ.get("PPFLOW_TEST_DATABASE_URL"):
        found.append(("postgresql", os.environ["PPFLOW_TEST_DATABASE_URL"]))
    print(
        f"{'backend':<11}{'rows':>8}{'import s':>10}{'rows/s':>9}{'peak RSS MB':>13}"
        f"{'write tx s':>12}{'longest wait s':>16}{'growth':>9}"
    )
    for backend, url in found:
        before: tuple[int, float] | None = None
        for size in args.sizes:
            r = measure_size(url, size)
            growth = ""
            if before:  # time ratio, scaled to a tenfold step: 10.0 is linear
                rows, seconds = before
                ratio = (r["seconds"] / seconds) * (10 / (size / rows))
                growth = f"x{ratio:.1f}"
            wait = "-" if r["wait"] is None else f"{r['wait']:.2f} ({r['probes']})"
            print(
                f"{backend:<11}{size:>8}{r['seconds']:>10.2f}{size / r['seconds']:>9.0f}"
                f"{r['rss']:>13.0f}{r['hold']:>12.2f}{wait:>16}{growth:>9}",
                flush=True,
            )
            before = (size, r["seconds"])


if __name__ == "__main__":
    main()
