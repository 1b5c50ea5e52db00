"""Every ppflow benchmark in one process tree, each figure beside the floor measured in the
same run, then one table (printed, and kept with the machine's description in
tests/benchmarks/results/DATE.md, beside the growth plot growth-DATE.svg).

    .venv/bin/python -m tests.benchmarks.bench_all [--quick] [--out DIR]

--quick runs every measure small (about two minutes), to try it out; its files are named
DATE-quick. The database measures run on SQLite, and on PostgreSQL too when
PPFLOW_TEST_DATABASE_URL is set (each in a fresh schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

RESULTS = Path(__file__).resolve().parent / "results"

FULL = {
    "dispatch_messages": 2000,
    "dispatch_rounds": 3,
    "naive_messages": 300,
    "lifecycle_rounds": 3,
    "batch": 1000,  # referrals in one imported file
    "batch_rounds": 3,
    "calls": 300,
    "pool": 10_000,
    "sizes": [1000, 10_000, 100_000],
    "indicator_advisors": 100_000,
}
QUICK = {
    "dispatch_messages": 300,
    "dispatch_rounds": 1,
    "naive_messages": 40,
    "lifecycle_rounds": 1,
    "batch": 200,
    "batch_rounds": 1,
    "calls": 100,
    "pool": 1000,
    "sizes": [1000, 3000, 10_000],
    "indicator_advisors": 5000,
}


@dataclass
class Row:
    measure: str
    backend: str
    figure: str
    floor: str
    ratio: str
    target: str
    met: bool

    def cells(self) -> list[str]:
        verdict = "met" if self.met else "**not met**"
        return [
            self.measure,
            self.backend,
            self.figure,
            self.floor,
            self.ratio,
            self.target,
            verdict,
        ]


HEADER = ["measure", "backend", "figure", "floor (same run)", "ratio", "target", "verdict"]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


class Log:
    """Prints as it goes and keeps every line for the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.perf_counter()

    def __call__(self, line: str) -> None:
        stamp = f"[{time.perf_counter() - self.started:6.0f} s] "
        print(stamp + line, flush=True)
        self.lines.append(line)


# ------------------------------------------------------------------ machine


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    import prefect
    import sqlalchemy

    described = [
        f"- CPU: {os.cpu_count()} × {model}",
        f"- memory: {memory}",
        f"- system: {platform.platform()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, Prefect {prefect.__version__}",
        f"- PostgreSQL: {postgres_version() or 'not measured (PPFLOW_TEST_DATABASE_URL unset)'}",
    ]
    return described


def postgres_version() -> str | None:
    url = os.environ.get("PPFLOW_TEST_DATABASE_URL")
    if not url:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SHOW server_version"))
    finally:
        engine.dispose()


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ------------------------------------------------------------------ measures


def dispatch_and_prefect(cfg: dict, log: Log) -> list[Row]:
    from tests.benchmarks import bench_dispatch, bench_prefect

    log("== notification dispatch: ppflow dispatcher against a bare aiosmtplib loop")
    d = bench_dispatch.measure(cfg["dispatch_messages"], 4, 200, cfg["dispatch_rounds"], log=log)
    rows = [
        Row(
            f"notification dispatch, {d['messages']} e-mails, 4 connections, to an aiosmtpd "
            "sink in another process (median of rounds)",
            "SQLite",
            f"{d['rate']:.0f} msg/s",
            f"bare aiosmtplib loop {d['bare_rate']:.0f} msg/s",
            f"{d['ratio']:.2f}",
            "ratio ≥ 0.8",
            d["ratio"] >= 0.8,
        )
    ]
    log("== Prefect measures, on one temporary Prefect server")
    with bench_prefect.prefect_server(), tempfile.TemporaryDirectory() as scratch:
        naive = bench_prefect.measure_naive(
            d["prebuilt"], cfg["naive_messages"], Path(scratch) / "naive"
        )
        speedup = d["rate"] / naive["rate"]
        log(
            f"naive Prefect flow, one task per e-mail (smtplib): {naive['messages']} e-mails "
            f"in {naive['seconds']:.1f} s, {naive['rate']:.0f} msg/s"
        )
        rows.append(
            Row(
                "same, against a naive Prefect flow with one task per e-mail (stdlib smtplib)",
                "SQLite",
                f"{d['rate']:.0f} msg/s",
                f"naive flow {naive['rate']:.1f} msg/s ({naive['messages']} e-mails)",
                f"{speedup:.1f}×",
                "≥ 8× faster",
                speedup >= 8,
            )
        )
        life = bench_prefect.measure_lifecycle(cfg["lifecycle_rounds"], log=log)
    rows.append(
        Row(
            f"one advisor's whole lifecycle through Prefect, answers scripted, ephemeral "
            f"server ({life['flows']} flow runs, {life['tasks']} task runs, {life['waits']} "
            f"waits); wall time less the Paused time (median of {life['rounds']})",
            "SQLite",
            f"{life['seconds']:.2f} s (wall {life['wall']:.1f} s, Paused {life['paused']:.1f} s)",
            f"same shape, empty tasks {life['floor']:.2f} s",
            f"{life['ratio']:.2f}",
            "< 2× the floor",
            life["ratio"] < 2,
        )
    )
    return rows


def transitions(cfg: dict, log: Log, kind: str) -> list[Row]:
    from tests.benchmarks import bench_transitions

    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    log(f"== stage transitions, {label}")
    b = bench_transitions.measure_batch(kind, cfg["batch"], cfg["batch_rounds"])
    log(
        f"import of {b['batch']} referrals: import_referrals {b['rate']:.0f}/s (rounds "
        f"{', '.join(f'{s:.2f}' for s in b['seconds'])} s), Core executemany "
        f"{b['floor_rate']:.0f}/s, ratio {b['ratio']:.3f}"
    )
    i = bench_transitions.measure_interactive(kind, cfg["calls"], cfg["pool"])
    log(f"one transition: median {i['median_ms']:.2f} ms, p90 {i['p90_ms']:.2f} ms")
    return [
        Row(
            f"stage transitions with their outbox rows, batch path (referral import, "
            f"import_referrals of a CSV of {b['batch']:,}, median of {b['rounds']})",
            label,
            f"{b['rate']:.0f} referrals/s",
            f"Core executemany of the same rows {b['floor_rate']:.0f} /s",
            f"{b['ratio']:.3f}",
            "ratio ≥ 0.2",
            b["ratio"] >= 0.2,
        ),
        Row(
            f"one transition through the service layer (put_on_hold / resume, "
            f"{i['calls']} calls, pool of {i['pool']:,})",
            label,
            f"{i['median_ms']:.2f} ms median (p90 {i['p90_ms']:.1f})",
            "—",
            "—",
            "< 5 ms median",
            i["median_ms"] < 5,
        ),
    ]


def sweeps(cfg: dict, log: Log) -> tuple[list[Row], list[dict]]:
    from tests.benchmarks import bench_sweeps

    rows, growth = [], []
    now = datetime.now(UTC)
    for backend, url in bench_sweeps.backends():
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        log(f"== reminder sweep and indicators by pool size, {label}")
        mine = []
        for size in cfg["sizes"]:
            r = bench_sweeps.measure_size(backend, url, size, now)
            log(
                f"{size:>7} advisors: sweep {r['sweep_s']:.3f} s ({r['stalled']} stalled), "
                f"heap {r['sweep_heap_mb']:.1f} MB, peak RSS {r['peak_rss_mb']:.0f} MB; "
                f"indicators {r['indicators_s']:.3f} s"
            )
            mine.append(r)
        growth += mine
        big, before = mine[-1], mine[-2]
        size_ratio = big["advisors"] / before["advisors"]
        sweep_growth = big["sweep_s"] / before["sweep_s"]
        ind_growth = big["indicators_s"] / before["indicators_s"]
        rows.append(
            Row(
                f"daily reminder sweep over {big['advisors']:,} advisors (fresh process; peak "
                "RSS includes start-up and imports)",
                label,
                f"{big['sweep_s']:.2f} s, peak RSS {big['peak_rss_mb']:.0f} MB",
                "—",
                "—",
                "< 3 s; peak < 300 MB",
                big["sweep_s"] < 3 and big["peak_rss_mb"] < 300,
            )
        )
        rows.append(
            Row(
                f"growth of the sweep and the indicators, {before['advisors']:,} → "
                f"{big['advisors']:,} advisors (time ratio against size ratio)",
                label,
                f"sweep ×{sweep_growth:.1f}, indicators ×{ind_growth:.1f}",
                f"size ×{size_ratio:.3g}",
                f"{max(sweep_growth, ind_growth) / size_ratio:.2f}",
                "at most linear (ratio ≤ 1)",
                max(sweep_growth, ind_growth) <= size_ratio,
            )
        )
    return rows, growth


def indicators(cfg: dict, log: Log, kind: str) -> list[Row]:
    from sqlalchemy import text

    from ppflow.services.indicators import compute_indicators, parse_period
    from ppflow.services.ports import FixedClock
    from tests.benchmarks import bench_indicators
    from tests.benchmarks.bench_transitions import fresh_settings, new_app

    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    log(f"== indicators over {cfg['indicator_advisors']:,} advisors, {label}")
    with (
        tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch,
        fresh_settings(kind, Path(scratch), "indicators") as settings,
    ):
        app = new_app(settings, FixedClock(bench_indicators.NOW))
        started = time.perf_counter()
        counts = bench_indicators.seed(app, cfg["indicator_advisors"])
        if app.engine.dialect.name == "postgresql":
            with app.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        log(
            f"seeded {counts.get('advisors', 0):,} advisors, {counts.get('transitions', 0):,} "
            f"transitions in {time.perf_counter() - started:.0f} s"
        )
        period = parse_period("2026Q3")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            compute_indicators(app.indicators(), period.start, period.end, period.label)
            times.append(time.perf_counter() - t)
        app.dispose()
        in_process = statistics.median(times)
        clis = [bench_indicators._cli_seconds(settings, "2026Q3")[0] for _ in range(3)]
        cli = statistics.median(clis)
    log(
        f"indicators in this process {in_process:.2f} s (median of 3); fresh CLI "
        f"{', '.join(f'{c:.2f}' for c in clis)} s, median {cli:.2f} s"
    )
    return [
        Row(
            f"indicators over {counts.get('advisors', 0):,} advisors / "
            f"{counts.get('transitions', 0):,} transitions: `ppflow report indicators` as a "
            "fresh process (median of 3)",
            label,
            f"{cli:.2f} s (in process {in_process:.2f} s)",
            "—",
            "—",
            "< 2 s",
            cli < 2,
        )
    ]


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about two minutes")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results go")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    log = Log()
    started_at = datetime.now(UTC)
    load_before = load()
    log(f"ppflow benchmarks ({'quick' if args.quick else 'full'}), load average {load_before}")
    kinds = ["sqlite"] + (["postgresql"] if os.environ.get("PPFLOW_TEST_DATABASE_URL") else [])

    rows = dispatch_and_prefect(cfg, log)
    for kind in kinds:
        rows += transitions(cfg, log, kind)
    sweep_rows, growth = sweeps(cfg, log)
    rows += sweep_rows
    for kind in kinds:
        rows += indicators(cfg, log, kind)

    from tests.benchmarks.plot import write_growth

    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    day = date.today().isoformat()
    svg = write_growth(
        growth,
        args.out / f"growth-{day}{suffix}.svg",
        f"ppflow: reminder sweep and indicators against pool size ({day})",
    )
    elapsed = time.perf_counter() - log.started
    rendered = table(rows)
    met = sum(r.met for r in rows)
    report = "\n".join(
        [
            f"# ppflow benchmarks, {day}{' (quick)' if args.quick else ''}",
            "",
            f"`python -m tests.benchmarks.bench_all{' --quick' if args.quick else ''}`, "
            f"started {started_at:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes; "
            f"load average {load_before} at the start, {load()} at the end.",
            "",
            *machine(),
            "",
            "Each floor is measured in the same run, beside its figure.",
            "",
            rendered,
            "",
            f"{met} of {len(rows)} targets met.",
            "",
            f"Growth plot: [{svg.name}]({svg.name})",
            "",
            "## Log",
            "",
            "```",
            *log.lines,
            "```",
            "",
        ]
    )
    path = args.out / f"{day}{suffix}.md"
    path.write_text(report, encoding="utf-8")
    print()
    print(rendered)
    print()
    print(f"{met} of {len(rows)} targets met; results in {path}, plot in {svg}")
    print(f"({elapsed / 60:.1f} minutes)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
