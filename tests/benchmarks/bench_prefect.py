"""Benchmark: ppflow through Prefect, on Prefect's ephemeral test server.

    .venv/bin/python -m tests.benchmarks.bench_prefect [--naive 300] [--rounds 3]

Two measures, started once on one temporary Prefect server (its own SQLite database):

* A naive Prefect peer of the dispatcher: a flow with one task per e-mail, each sending
  one prebuilt message with the standard library's smtplib on its own connection, to an
  aiosmtpd sink in another process. Its rate (messages per second) is compared with the
  dispatcher's, measured in the same run (bench_dispatch). Target: ppflow >= 8x faster.

* One advisor's whole lifecycle: ``onboard_advisor(code, team)`` (recruit, prepare,
  integrate) run in-process in a thread, inside ``runtime.in_process()`` (no flow-run
  heartbeat), as the demo runs it. A scripted coordinator in the main thread answers each
  wait as soon as the run says it waits (``decisions.on_wait``): screening ``retained``,
  training with every required module, match ``place`` at 25 $/h, each through
  ``ppflow_flows.answers.answer`` (which resumes the run and wakes it). The wall time runs
  from the call to its return (the advisor ``active``). The time the runs spent Paused is
  read from their state histories (from the pause to the resume: the coordinator's part);
  the shape (flow runs, task runs of each flow, waits of each flow) is read back through
  the Prefect client and the ``on_wait`` notices.

  Its floor, in each round, is a tree of empty flows of that same shape, also inside
  ``in_process()``: the same flow runs (subflows nested alike), the same number of task
  runs in each (every task empty) and the same number of waits in each, every one a real
  in-process pause (``decisions._pause_here`` with an empty ``RunInput`` form) that the
  coordinator answers as soon as it is told, with ``resume_flow_run`` through the Prefect
  client and ``decisions.wake``.

  Both are compared "working": wall time less the Paused time (the person's part, here the
  coordinator's) and less the Prefect client's retry sleeps outside the pauses (those
  during a pause are in the Paused time already). Prefect's SQLite server answers 503
  when its database is locked by a concurrent write, and the client retries after about
  2 s: these retries are counted
  from the client's log (each with the thread that made it and the seconds it slept) and
  printed. The ratio lifecycle / floor is the median of the rounds' ratios; target: at
  most 2. The ratio with the retry sleeps left in, and the wall-to-wall ratio, are printed
  beside it.

  The same floor is run once more per round outside ``in_process()``, with Prefect's
  default flow-run heartbeat, whose thread is joined at the end of every flow run after
  its next one-second tick: the difference per flow run (working) is printed as the
  heartbeat penalty.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import re
import smtplib
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from uuid import UUID

from prefect import flow, get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.responses import SetStateStatus
from prefect.input import RunInput

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REQUIRED_MODULES = ("PP-101", "CONF-1")
ACTOR = "bench:coordinator"


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


class ClientRetries:
    """The Prefect client's retries, read from its log (it logs each at DEBUG: only this
    filter sees those records): after a 503, which Prefect's SQLite server answers when its
    database is locked by a concurrent write, or after an exception. Each is kept with the
    thread that made the call (its id and name) and the seconds the client slept before
    trying again."""

    PATTERN = re.compile(r"Another attempt will be made in ([0-9.]+)s")

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, float, bool]] = []  # thread, its name, slept, 503
        self.lock = threading.Lock()
        self.logger = logging.getLogger("prefect.client")

    def filter(self, record: logging.LogRecord) -> bool:
        found = self.PATTERN.search(record.getMessage())
        if found:
            locked = "retryable status code 503" in record.getMessage()
            with self.lock:
                self.seen.append((record.thread, record.threadName, float(found.group(1)), locked))
        return record.levelno >= self.level

    def __enter__(self) -> ClientRetries:
        self.level = self.logger.getEffectiveLevel()
        self.saved = self.logger.level
        self.logger.addFilter(self)
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.setLevel(self.saved)
        self.logger.removeFilter(self)


class Coordinator:
    """Answers each wait as soon as the run says it waits (``decisions.on_wait``), like
    the demo's coordinator; ``respond(run, key)`` gives the answer."""

    def __init__(self) -> None:
        self.waiting: queue.Queue = queue.Queue()
        self.waits: dict[str, int] = {}  # flow run id -> waits answered

    def notice(self, run, key: str) -> None:
        self.waiting.put((run, key))

    def serve(self, running, respond: Callable, timeout: float = 300):
        """Answer until ``running`` (a Future) is done; returns its result."""
        deadline = time.monotonic() + timeout
        while not running.done():
            if time.monotonic() > deadline:
                raise TimeoutError("the run did not finish in time")
            try:
                run, key = self.waiting.get(timeout=0.05)
            except queue.Empty:
                continue
            respond(run, key)
            self.waits[str(run.id)] = self.waits.get(str(run.id), 0) + 1
        return running.result()


def _timed(fn, *args):
    """Called in the run's thread: its result and its wall time."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


@task(name="empty", cache_policy=NO_CACHE)
def empty(index: int) -> None:
    return None


@flow(name="empty-flow")
def empty_flow(shape: dict) -> str:
    """The floor: the tasks, waits and subflows of one flow run of the real tree, empty."""
    from ppflow_flows import decisions
    from ppflow_flows.runtime import application, current_flow_run

    settings = application().settings
    timeout = int(settings.decision_timeout_hours * 3600)
    for index in range(shape["tasks"]):
        empty(index)
    for n in range(shape["waits"]):
        decisions._pause_here(RunInput, timeout, settings.decision_poll_seconds, f"wait-{n + 1}")
    for child in shape["children"]:
        empty_flow.with_options(name=f"empty-{child['name']}")(child)
    return str(current_flow_run().id)


def _resume(run, key: str) -> None:
    """The floor's answer: resume through the Prefect client and wake the run."""
    from ppflow_flows import decisions
    from ppflow_flows.runtime import client

    response = client().resume_flow_run(run.id, run_input={})
    if response.status != SetStateStatus.ACCEPT:
        raise RuntimeError(f"{run.name} was not resumed: {response.status.value}")
    decisions.wake(str(run.id))


def _lifecycle_answers(code: str, team: str) -> Callable:
    from ppflow_flows.answers import answer

    def respond(run, key: str) -> None:
        stage = run.name.partition("/")[0]
        if stage == "recruit":
            answer("screening", code, {"outcome": "retained"}, ACTOR, str(run.id))
        elif stage == "prepare":
            answer("training", code, {"modules": list(REQUIRED_MODULES)}, ACTOR, str(run.id))
        elif stage == "integrate":
            values = {"advisor": code, "hourly_rate": 25.0}
            answer("match", team, values, ACTOR, str(run.id))
        else:
            raise RuntimeError(f"unexpected wait in {run.name} ({key})")

    return respond


def _children(client, root) -> list:
    found = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[root.id])
        )
    )
    return sorted(found, key=lambda c: c.start_time)


def _tree(client, root, waits: dict[str, int]) -> dict:
    """The shape of a run: its own task runs (subflow placeholders left out), its waits
    and its subflows, recursively."""
    children = _children(client, root)
    tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[root.id])))
    placeholders = {c.parent_task_run_id for c in children}
    return {
        "name": root.name.partition("/")[0],
        "tasks": sum(1 for t in tasks if t.id not in placeholders),
        "waits": waits.get(str(root.id), 0),
        "children": [_tree(client, c, waits) for c in children],
    }


def _paused_seconds(client, root) -> float:
    """Time this run and its subflows spent Paused, from their state histories."""
    total = 0.0
    states = sorted(client.read_flow_run_states(root.id), key=lambda s: s.timestamp)
    for state, following in zip(states, states[1:], strict=False):
        if state.is_paused():
            total += (following.timestamp - state.timestamp).total_seconds()
    return total + sum(_paused_seconds(client, c) for c in _children(client, root))


def _count(shape: dict) -> tuple[int, int, int]:
    """Flow runs, task runs and waits of a shape."""
    flows, tasks, waits = 1, shape["tasks"], shape["waits"]
    for child in shape["children"]:
        f, t, w = _count(child)
        flows, tasks, waits = flows + f, tasks + t, waits + w
    return flows, tasks, waits


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


def _measured(coordinator: Coordinator, retries: ClientRetries, fn, *args, respond, quiet):
    """Run ``fn(*args)`` in a thread that sees this thread's settings (inside in_process()
    when ``quiet``, else Prefect's defaults) while this thread answers its waits. Returns
    its result, its wall time and the client's retries meanwhile: 503s, and the seconds
    slept before retrying by this thread (the answers, made while the run is Paused), by
    Prefect's background queue services (threads named ``...WorkerThread``: logs and
    events, which the run does not wait for), and by the run (its own thread, and the
    threads it waits on: Prefect creates a subflow's parent task run on its event-loop
    thread)."""
    from ppflow_flows.runtime import in_process, in_thread

    first = len(retries.seen)
    with in_process() if quiet else nullcontext():
        result, wall = coordinator.serve(in_thread(_timed, fn, *args), respond)
    here = threading.get_ident()
    sleeps = {"run_sleeps": 0.0, "answer_sleeps": 0.0, "other_sleeps": 0.0}
    seen = retries.seen[first:]
    for thread, name, slept, _ in seen:
        if thread == here:
            sleeps["answer_sleeps"] += slept
        elif name.endswith("WorkerThread"):
            sleeps["other_sleeps"] += slept
        else:
            sleeps["run_sleeps"] += slept
    return result, {
        "wall": wall,
        "locked": sum(locked for *_, locked in seen),
        "retries": len(seen),
        **sleeps,
    }


def one_lifecycle(app, coordinator: Coordinator, retries: ClientRetries) -> dict:
    from ppflow_flows.onboard_advisor import onboard_advisor
    from tests import factories

    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead, tags=("cancer",))
    code = factories.referral(app, factories.staff(app), tags=("cancer",))
    coordinator.waits.clear()
    stage, measured = _measured(
        coordinator,
        retries,
        onboard_advisor,
        code,
        team,
        respond=_lifecycle_answers(code, team),
        quiet=True,
    )
    if stage != "active":
        raise SystemExit(f"onboarding ended at {stage!r}, not 'active'")
    with get_client(sync_client=True) as client:
        [root] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"onboard/{code}"]))
        )
        shape = _tree(client, root, coordinator.waits)
        paused = _paused_seconds(client, root)
    return {**measured, "paused": paused, "shape": shape}


def one_floor(shape: dict, coordinator: Coordinator, retries: ClientRetries, quiet=True) -> dict:
    """The empty tree of ``shape``, inside in_process() (``quiet``) or with the default
    heartbeat."""
    root_id, measured = _measured(
        coordinator, retries, empty_flow, shape, respond=_resume, quiet=quiet
    )
    with get_client(sync_client=True) as client:
        paused = _paused_seconds(client, client.read_flow_run(UUID(root_id)))
    return {**measured, "paused": paused}


def _raw(run: dict) -> float:
    """Wall time less the time Paused (the person's part)."""
    return run["wall"] - run["paused"]


def _working(run: dict) -> float:
    """Wall time less the time Paused and less the client's retry sleeps outside the
    pauses (those during a pause are in the Paused time already)."""
    return _raw(run) - run["run_sleeps"]


def _median(runs: list[dict], key) -> float:
    return statistics.median(key(r) for r in runs)


def _ratio(tops: list[dict], bottoms: list[dict], key) -> float:
    return statistics.median(key(a) / key(b) for a, b in zip(tops, bottoms, strict=True))


def measure_lifecycle(rounds: int = 3, log=print) -> dict:
    """Per round: one onboarding, its floor (same shape and waits, in_process()) and the
    same floor with Prefect's default heartbeat. Medians of the rounds."""
    from ppflow_flows import decisions

    with (
        tempfile.TemporaryDirectory(prefix="ppflow-bench-") as scratch,
        flow_application(Path(scratch)) as app,
        ClientRetries() as retries,
    ):
        coordinator = Coordinator()
        stop_listening = decisions.on_wait(coordinator.notice)
        try:
            warm = {"name": "warm-up", "tasks": 1, "waits": 1, "children": []}
            one_floor(warm, coordinator, retries)
            lives, floors, beats = [], [], []
            for n in range(1, rounds + 1):
                life = one_lifecycle(app, coordinator, retries)
                floor = one_floor(life["shape"], coordinator, retries)
                beat = one_floor(life["shape"], coordinator, retries, quiet=False)
                lives.append(life)
                floors.append(floor)
                beats.append(beat)
                flows, tasks, waits = _count(life["shape"])
                log(
                    f"round {n} ({flows} flow runs, {tasks} task runs, {waits} waits): "
                    + "; ".join(
                        f"{what} wall {r['wall']:.2f} s, Paused {r['paused']:.2f} s, "
                        f"503 retries {r['locked']} (slept {r['run_sleeps']:.1f} s in the run, "
                        f"{r['answer_sleeps']:.1f} s answering, {r['other_sleeps']:.1f} s in "
                        f"background workers), working {_working(r):.2f} s"
                        for what, r in (("lifecycle", life), ("floor", floor), ("heartbeat", beat))
                    )
                )
        finally:
            stop_listening()
    flows, tasks, waits = _count(lives[-1]["shape"])
    return {
        "rounds": rounds,
        "shape": lives[-1]["shape"],
        "flows": flows,
        "tasks": tasks,
        "waits": waits,
        "wall": _median(lives, lambda r: r["wall"]),
        "paused": _median(lives, lambda r: r["paused"]),
        "seconds": _median(lives, _working),
        "floor_wall": _median(floors, lambda r: r["wall"]),
        "floor_paused": _median(floors, lambda r: r["paused"]),
        "floor": _median(floors, _working),
        "ratio": _ratio(lives, floors, _working),
        "raw_ratio": _ratio(lives, floors, _raw),
        "wall_ratio": _ratio(lives, floors, lambda r: r["wall"]),
        "heartbeat_floor_wall": _median(beats, lambda r: r["wall"]),
        "heartbeat_floor": _median(beats, _working),
        "heartbeat_per_flow": statistics.median(
            (_working(b) - _working(f)) / flows for b, f in zip(beats, floors, strict=True)
        ),
        "retries": {
            what: (
                sum(r["locked"] for r in runs),
                sum(r["retries"] for r in runs),
                sum(r["run_sleeps"] + r["answer_sleeps"] + r["other_sleeps"] for r in runs),
            )
            for what, runs in (("lifecycle", lives), ("floor", floors), ("heartbeat", beats))
        },
    }


def _shape_text(shape: dict) -> str:
    inner = "".join(f"; {_shape_text(c)}" for c in shape["children"])
    return f"{shape['name']}({shape['tasks']} tasks, {shape['waits']} waits{inner})"


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
    rounds = life["rounds"]
    print(
        f"shape: {life['flows']} flow runs, {life['tasks']} task runs, {life['waits']} waits: "
        f"{_shape_text(life['shape'])}"
    )
    print(
        f"lifecycle (median of {rounds}): wall {life['wall']:.2f} s, Paused "
        f"{life['paused']:.2f} s; working {life['seconds']:.2f} s"
    )
    print(
        f"floor, same shape and waits, empty tasks, in_process() (median of {rounds}): wall "
        f"{life['floor_wall']:.2f} s, Paused {life['floor_paused']:.2f} s; working "
        f"{life['floor']:.2f} s"
    )
    print(
        f"ratio lifecycle / floor, working: {life['ratio']:.2f} (target <= 2); with the retry "
        f"sleeps left in {life['raw_ratio']:.2f}; wall to wall {life['wall_ratio']:.2f}"
    )
    print(
        f"floor with Prefect's default heartbeat: wall {life['heartbeat_floor_wall']:.2f} s, "
        f"working {life['heartbeat_floor']:.2f} s; heartbeat join: about 1 s per flow run at "
        f"most (it waits for the heartbeat thread's next one-second tick): measured "
        f"{life['heartbeat_per_flow']:+.2f} s per flow run ({life['flows']} flow runs)"
    )
    for what, (locked, count, slept) in life["retries"].items():
        if count:
            print(
                f'{what}: {locked} "database is locked" 503s retried by the Prefect client '
                f"after about 2 s ({count} retries in all over {rounds} rounds, {slept:.1f} s "
                "slept)"
            )
    print(
        "working = wall less the Paused time (state histories) and less the client's retry "
        "sleeps outside the pauses"
    )


if __name__ == "__main__":
    main()
