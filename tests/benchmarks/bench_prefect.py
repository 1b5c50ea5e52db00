"""Benchmark: ppflow through Prefect, on Prefect's ephemeral test server.

    .venv/bin/python -m tests.benchmarks.bench_prefect [--naive 300] [--rounds 3]

Two measures, started once on one temporary Prefect server:

* A naive Prefect peer of the dispatcher: a flow with one task per e-mail, each sending
  one prebuilt message with the standard library's smtplib on its own connection, to an
  aiosmtpd sink in another process. Its rate (messages per second) is compared with the
  dispatcher's, measured in the same run (bench_dispatch). Target: ppflow >= 8x faster.

* One advisor's whole lifecycle (``onboard-advisor``: recruit, prepare, integrate) with a
  scripted coordinator answering each question as soon as the run waits, as the demo
  does. The time the runs spent Paused, read from their state histories (from the pause
  to the resume: the person's part), is subtracted from the wall time; the polling delay
  after each resume stays in the figure. The time spent inside ``wait_for`` (measured by
  wrapping it) is printed beside it. Its floor
  is a flow with the same shape, read from the real run through the Prefect client: the
  same number of subflows, each with the same number of task runs, every task empty.
  Target: lifecycle (without the waits) < 2x the empty-flow floor.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_client, task
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REQUIRED_MODULES = ("PP-101", "CONF-1")


@contextmanager
def prefect_server() -> Iterator[None]:
    """Prefect's temporary server (its own SQLite database), for every Prefect measure."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# ------------------------------------------------------------------ naive dispatch

_NAIVE_OUTBOX: list[tuple[str, str, bytes]] = []


@task(name="send-one-email")
def send_one(index: int, port: int) -> None:
    sender, recipient, message = _NAIVE_OUTBOX[index]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(sender, [recipient], message)


@flow(name="naive-dispatch")
def naive_dispatch(count: int, port: int) -> None:
    for index in range(count):
        send_one(index, port)


def measure_naive(prebuilt: list, count: int, sink_folder: Path) -> dict:
    """Messages per second of the naive flow, to a fresh sink in its own process."""
    from tests.benchmarks.bench_dispatch import Sink

    _NAIVE_OUTBOX[:] = [
        (s, r, m if isinstance(m, bytes) else bytes(m)) for s, r, m in prebuilt[:count]
    ]
    sink = Sink(sink_folder)
    try:
        started = time.perf_counter()
        naive_dispatch(len(_NAIVE_OUTBOX), sink.port)
        seconds = time.perf_counter() - started
        received = sink.count()
    finally:
        sink.stop()
    if received != len(_NAIVE_OUTBOX):
        raise SystemExit(f"the naive flow delivered {received} of {len(_NAIVE_OUTBOX)}")
    return {"messages": received, "seconds": seconds, "rate": received / seconds}


# ------------------------------------------------------------------ lifecycle


@task(name="empty")
def empty(index: int) -> None:
    return None


@flow(name="empty-flow")
def empty_flow(shape: dict) -> None:
    """The floor: as many empty tasks and subflows as the real run had."""
    for index in range(shape["tasks"]):
        empty(index)
    for child in shape["children"]:
        empty_flow.with_options(name=f"empty-{child['name']}")(child)


class WaitClock:
    """Wraps the flows' ``wait_for`` to add up the time spent waiting for a person."""

    MODULES = (
        "ppflow_flows.recruit_advisor",
        "ppflow_flows.prepare_advisor",
        "ppflow_flows.integrate_advisor",
    )

    def __init__(self) -> None:
        self.seconds = 0.0
        self.waits = 0
        self.lock = threading.Lock()
        self.saved: dict = {}

    def __enter__(self) -> WaitClock:
        import importlib

        for name in self.MODULES:
            module = importlib.import_module(name)
            original = module.wait_for
            self.saved[module] = original
            module.wait_for = self._timed(original)
        return self

    def __exit__(self, *exc) -> None:
        for module, original in self.saved.items():
            module.wait_for = original

    def _timed(self, original):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - started
                    self.waits += 1

        return timed


def _in_thread(fn, *args) -> Future:
    future: Future = Future()

    def target() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            future.set_exception(error)

    threading.Thread(target=target, daemon=True).start()
    return future


def _answer_waiting(code: str, team: str, answered: set) -> None:
    """The scripted coordinator: answers every question the runs of this advisor ask."""
    from ppflow_flows.answers import answer

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(
                    any_=[f"recruit/{code}", f"prepare/{code}", f"integrate/{team}"]
                ),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
            )
        )
    for run in runs:
        key = (str(run.id), run.state.state_details.pause_key)
        if key in answered:
            continue
        stage = run.name.partition("/")[0]
        if stage == "recruit":
            answer("screening", code, {"outcome": "retained"}, "bench", str(run.id))
        elif stage == "prepare":
            answer("training", code, {"modules": list(REQUIRED_MODULES)}, "bench", str(run.id))
        else:
            answer(
                "match",
                team,
                {"advisor": code, "confirm": True, "hourly_rate": 25.0},
                "bench",
                str(run.id),
            )
        answered.add(key)


def _tree(client, root) -> dict:
    """The shape of a run: its own task runs (subflow placeholders left out) and its
    subflows, recursively."""
    children = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[root.id])
        )
    )
    tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[root.id])))
    placeholders = {c.parent_task_run_id for c in children}
    return {
        "name": root.name.partition("/")[0],
        "tasks": sum(1 for t in tasks if t.id not in placeholders),
        "children": [_tree(client, c) for c in sorted(children, key=lambda c: c.start_time)],
    }


def _paused_seconds(client, root) -> float:
    """Time this run and its subflows spent Paused, from their state histories."""
    total = 0.0
    states = sorted(client.read_flow_run_states(root.id), key=lambda s: s.timestamp)
    for state, following in zip(states, states[1:], strict=False):
        if state.is_paused():
            total += (following.timestamp - state.timestamp).total_seconds()
    children = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[root.id])
        )
    )
    return total + sum(_paused_seconds(client, c) for c in children)


def _count(shape: dict) -> tuple[int, int]:
    tasks, flows = shape["tasks"], 1
    for child in shape["children"]:
        t, f = _count(child)
        tasks, flows = tasks + t, flows + f
    return tasks, flows


@contextmanager
def flow_application(scratch: Path):
    """The ppflow application the flows use, on a fresh SQLite file."""
    from ppflow.settings import get_settings
    from ppflow_flows import runtime
    from tests import factories

    os.environ["PPFLOW_DATABASE_URL"] = f"sqlite:///{scratch / 'flows.db'}"
    os.environ["PPFLOW_DECISION_POLL_SECONDS"] = "1"
    get_settings.cache_clear()
    runtime.application.cache_clear()
    app = runtime.application()
    app.upgrade()
    factories.modules(app, *REQUIRED_MODULES)
    try:
        yield app
    finally:
        app.dispose()
        runtime.application.cache_clear()
        get_settings.cache_clear()
        del os.environ["PPFLOW_DATABASE_URL"]


def one_lifecycle(app) -> dict:
    from ppflow_flows.onboard_advisor import onboard_advisor
    from tests import factories

    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead, tags=("cancer",))
    code = factories.referral(app, factories.staff(app), tags=("cancer",))
    answered: set = set()
    with WaitClock() as waits:
        started = time.perf_counter()
        running = _in_thread(onboard_advisor, code, team)
        deadline = time.monotonic() + 300
        while not running.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"onboarding of {code} did not finish")
            _answer_waiting(code, team, answered)
            time.sleep(0.05)
        wall = time.perf_counter() - started
    if running.result() != "active":
        raise SystemExit(f"onboarding ended at {running.result()!r}, not 'active'")
    with get_client(sync_client=True) as client:
        [root] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"onboard/{code}"]))
        )
        shape = _tree(client, root)
        paused = _paused_seconds(client, root)
    return {
        "wall": wall,
        "waited": waits.seconds,
        "waits": waits.waits,
        "paused": paused,
        "working": wall - paused,
        "shape": shape,
    }


def measure_lifecycle(rounds: int = 3, log=print) -> dict:
    """Median time of one onboarding without the waits, and of its empty-flow floor.

    The figure subtracts only the time the runs were Paused by their state histories
    (from the pause to the resume); the process's polling delay after the resume (at most
    PPFLOW_DECISION_POLL_SECONDS per wait) stays in it. The time spent inside ``wait_for``
    is reported beside it."""
    with (
        tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch,
        flow_application(Path(scratch)) as app,
    ):
        runs, floors = [], []
        empty_flow({"name": "warm-up", "tasks": 1, "children": []})
        for n in range(1, rounds + 1):
            run = one_lifecycle(app)
            runs.append(run)
            started = time.perf_counter()
            empty_flow(run["shape"])
            floors.append(time.perf_counter() - started)
            tasks, flows = _count(run["shape"])
            log(
                f"lifecycle {n}: wall {run['wall']:.2f} s, Paused {run['paused']:.2f} s "
                f"(state history), in wait_for {run['waited']:.2f} s ({run['waits']} waits); "
                f"without the pauses {run['working']:.2f} s, without wait_for "
                f"{run['wall'] - run['waited']:.2f} s; empty floor ({flows} flows, "
                f"{tasks} tasks) {floors[-1]:.2f} s"
            )
    tasks, flows = _count(runs[-1]["shape"])
    working = [r["working"] for r in runs]
    return {
        "rounds": rounds,
        "seconds": statistics.median(working),
        "without_wait_for": statistics.median(r["wall"] - r["waited"] for r in runs),
        "wall": statistics.median(r["wall"] for r in runs),
        "paused": statistics.median(r["paused"] for r in runs),
        "floor": statistics.median(floors),
        "ratio": statistics.median(w / f for w, f in zip(working, floors, strict=True)),
        "tasks": tasks,
        "flows": flows,
        "waits": runs[-1]["waits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive", type=int, default=300, help="e-mails for the naive flow")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from tests.benchmarks import bench_dispatch

    dispatch = bench_dispatch.measure(max(args.naive, 1000), rounds=1)
    with prefect_server():
        with tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch:
            naive = measure_naive(dispatch["prebuilt"], args.naive, Path(scratch) / "naive")
        print(
            f"naive Prefect flow: {naive['rate']:.0f} msg/s; dispatcher {dispatch['rate']:.0f} "
            f"msg/s: {dispatch['rate'] / naive['rate']:.1f}x (target >= 8x)"
        )
        life = measure_lifecycle(args.rounds)
    print(
        f"lifecycle without the pauses: {life['seconds']:.2f} s; empty floor "
        f"{life['floor']:.2f} s; ratio {life['ratio']:.2f} (target < 2)"
    )


if __name__ == "__main__":
    main()
