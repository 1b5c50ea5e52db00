"""Serving and triggering ppflow's deployments. ``prefect.yaml`` (in ``deployments/`` in a
checkout, installed as ``ppflow_flows.deployments``) is the one description of them:
``prefect deploy`` reads it for work pools, and ``ppflow serve`` reads it to serve the same
deployments from one process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import yaml
from prefect import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.deployments import run_deployment
from prefect.events import DeploymentEventTrigger
from prefect.runner import Runner
from prefect.schedules import Cron, Interval
from prefect.settings import PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

from ppflow import resources

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State

logger = logging.getLogger("ppflow.serve")
PREFECT_FILE = resources.prefect_file()

# `ppflow run STAGE CODE`: the deployment and the parameter the code goes in
SHORT_NAMES = {
    "identify": ("identify-advisors", "csv_path"),
    "recruit": ("recruit-advisor", "advisor"),
    "prepare": ("prepare-advisor", "advisor"),
    "onboard": ("onboard-advisor", "advisor"),
    "brief": ("brief-team", "team"),
    "integrate": ("integrate-advisor", "team"),
    "feedback": ("collect-feedback", "engagement"),
    "evaluate": ("evaluate-integration", "engagement"),
    "program": ("evaluate-program", None),
    "reminders": ("send-reminders", None),
    "surveys": ("open-due-surveys", None),
    "dispatch": ("dispatch-notifications", None),
    "retention": ("apply-retention", None),
}


def short_name(name: str) -> str | None:
    """The short name ``ppflow run`` knows a deployment by, from the short name itself or
    from the name the Prefect UI shows (``dispatch-notifications``, or with its flow,
    ``dispatch-notifications/dispatch-notifications``), in any case; None when unknown."""
    wanted = name.strip().lower()
    if wanted in SHORT_NAMES:
        return wanted
    flow, _, deployment = wanted.rpartition("/")
    for short, (full, _key) in SHORT_NAMES.items():
        if deployment == full and flow in ("", full):
            return short
    return None


def load_deployments(path: Path = PREFECT_FILE) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def load_flow(entrypoint: str):
    """``ppflow_flows.recruit_advisor.recruit_advisor`` -> the flow object. Entrypoints are
    module paths into the installed package, as ``prefect deploy`` and workers import them."""
    module, name = entrypoint.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def triggers(spec: dict[str, Any]) -> list[DeploymentEventTrigger]:
    """The deployment triggers a ``prefect.yaml`` entry declares (``type: event``)."""
    found = []
    for trigger_spec in spec.get("triggers") or []:
        fields = {k: v for k, v in trigger_spec.items() if k != "type"}
        found.append(DeploymentEventTrigger(**fields))
    return found


def concurrency(spec: dict[str, Any]) -> int | ConcurrencyLimitConfig | None:
    """A deployment's concurrency limit: a number, or a limit with its collision strategy
    (CANCEL_NEW for the schedules, so that a slow run never lets the next ones pile up)."""
    limit = spec.get("concurrency_limit")
    return ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else limit


def runner_deployments(timezone: str | None = None, path: Path = PREFECT_FILE) -> list:
    """The deployments of ``prefect.yaml`` for a single-process runner, with their
    schedules, triggers and concurrency limits; ``timezone`` replaces the file's
    (PPFLOW_TIMEZONE)."""
    built = []
    for spec in load_deployments(path):
        schedules = [
            Cron(s["cron"], timezone=timezone or s.get("timezone"))
            if "cron" in s
            else Interval(s["interval"], timezone=timezone or s.get("timezone"))
            for s in spec.get("schedules") or []
        ]
        built.append(
            load_flow(spec["entrypoint"]).to_deployment(
                name=spec["name"],
                tags=spec.get("tags") or [],
                parameters=spec.get("parameters") or {},
                schedules=schedules,
                triggers=triggers(spec),
                concurrency_limit=concurrency(spec),
            )
        )
    return built


STOP_SECONDS = 3  # a stop asked for (SIGTERM, Ctrl-C) ends the process within this
# what the stop leaves to itself: whatever is still winding down then is cut short, so
# that the process has exited before STOP_SECONDS even on a loaded machine
_EXIT_AFTER = STOP_SECONDS - 0.5

# A run of a served deployment that stays Pending this long was left by a runner or worker
# that stopped or died while it submitted the run: the automation below crashes it, which
# frees the deployment's concurrency slot (one, for the schedules) for the next run.
LEFT_PENDING_SECONDS = 60
LEFT_PENDING_AUTOMATION = "ppflow: a run left Pending is crashed"
# the events of every state a run goes to from Pending, by state name (Submitting, the
# runner's step within Pending, is not one of them)
_LEFT_PENDING_FOR = [
    f"prefect.flow-run.{name}"
    for name in (
        "Running", "Retrying", "Scheduled", "Late", "AwaitingRetry",
        "AwaitingConcurrencySlot", "Completed", "Failed", "Crashed", "Cancelled",
        "Cancelling", "Paused", "Suspended", "TimedOut",
    )
]  # fmt: skip


def left_pending_automation(deployments: list[str]):
    """The automation that crashes a run of one of ``deployments`` left Pending for
    LEFT_PENDING_SECONDS. Its state change is orchestrated (not forced): a run that has
    moved on meanwhile is left as it is."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=LEFT_PENDING_AUTOMATION,
        description=(
            f"A run of a ppflow deployment still Pending after {LEFT_PENDING_SECONDS} s "
            "was left by a runner or worker that stopped while submitting it: it is "
            "crashed, so that it no longer holds its deployment's concurrency slot."
        ),
        enabled=True,
        trigger=EventTrigger(
            posture=Posture.Proactive,
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.role": "deployment",
                "prefect.resource.name": deployments,
            },
            after={"prefect.flow-run.Pending"},
            expect=set(_LEFT_PENDING_FOR),
            for_each={"prefect.resource.id"},
            threshold=1,
            within=LEFT_PENDING_SECONDS,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=(
                    f"Left Pending for {LEFT_PENDING_SECONDS} s: its runner stopped while "
                    "submitting it. Crashed to free the deployment's concurrency slot."
                ),
            )
        ],
    )


def ensure_left_pending_automation(path: Path = PREFECT_FILE) -> None:
    """Create the left-Pending automation on the Prefect server, or bring it up to date."""
    wanted = left_pending_automation([spec["name"] for spec in load_deployments(path)])
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(LEFT_PENDING_AUTOMATION)
        if not found:
            client.create_automation(wanted)
            return
        first, *others = found
        client.update_automation(first.id, wanted)
        for other in others:
            client.delete_automation(other.id)


def _stop_within(seconds: float) -> None:
    """Exit the process ``seconds`` from now, whatever is still winding down. Waiting runs
    are not affected: a suspended run holds no process, and its state is on the server."""

    def leave() -> None:
        logger.warning("still stopping after %s s: leaving now", seconds)
        os._exit(0)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


def _leave() -> None:
    """End the process without the interpreter's own shutdown, which waits for Prefect's
    background threads (log and event senders) and could outlast STOP_SECONDS."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _children() -> list[int]:
    """The processes this one started: the runner's flow run processes (``ppflow serve``
    starts nothing else). Read from /proc where the kernel lists children, else from ``ps``."""
    me = os.getpid()
    tasks = Path(f"/proc/{me}/task")
    listed = [task / "children" for task in tasks.glob("*")] if tasks.is_dir() else []
    if listed and all(path.exists() for path in listed):
        found: set[int] = set()
        for path in listed:
            try:
                found.update(int(pid) for pid in path.read_text().split())
            except OSError:  # that thread ended meanwhile
                continue
        return sorted(found)
    table = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, timeout=2, check=True
    ).stdout
    rows = (line.split() for line in table.splitlines())
    return [int(pid) for pid, parent in rows if int(parent) == me]


def _kill(pid: int) -> None:
    """SIGKILL a flow run process, with its process group when it leads one."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # it had exited
        pass


# the state types of a run that a runner is starting (Pending, Submitting) or running
IN_FLIGHT = (StateType.PENDING, StateType.RUNNING)


def hand_back(deployment_ids: list, scheduled: list) -> list:
    """What ``ppflow serve`` does when told to stop, instead of Prefect's runner stop (which
    cancels every run whose process it tracks, and would end a run that just suspended
    Cancelled): every flow run process is killed, and every run of the served deployments
    that was being started or run (Pending or Running) is Scheduled again, which frees its
    deployment's concurrency slot; the next runner starts it again (every step of a ppflow
    flow is idempotent, so a step done twice changes nothing). A run waiting for a person
    (suspended, or paused) is on the server, not in a process: it is left as it is; a run
    being cancelled ends Cancelled, as the runner would have ended it. Then the
    deployments with a schedule (``scheduled``) are paused, as Prefect's runner pauses its
    deployments when it stops, so that no runs pile up while nothing serves them (the next
    ``ppflow serve`` resumes them); the others have no schedule to pause.

    ``ppflow serve`` is the one runner of its deployments: a run of them that is Pending or
    Running is one it started, or one a runner that died left behind. Returns the runs
    handed back."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.states import Scheduled

    for pid in _children():
        _kill(pid)
    handed = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=deployment_ids),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[*IN_FLIGHT, StateType.CANCELLING])
                ),
            )
        )
        message = "Handed back: ppflow serve stopped while it started or ran it."
        for run in runs:
            if run.state and run.state.is_cancelling():  # its process is gone: as asked
                _cancelled(client, run)
                continue
            back: State[Any] = Scheduled(message=message)
            try:
                # orchestrated first: a run that ended meanwhile is left as it ended
                result = client.set_flow_run_state(run.id, back, force=False)
                now = result.state
                if result.status != SetStateStatus.ACCEPT and now and now.type in IN_FLIGHT:
                    client.set_flow_run_state(run.id, back, force=True)
                handed.append(run.id)
                logger.info("handed back flow run %s (%s)", run.id, run.name)
            except Exception:  # noqa: BLE001 - the left-Pending automation is the backstop
                logger.exception("could not hand back flow run %s", run.id)
        for deployment_id in scheduled:
            try:
                client.pause_deployment(deployment_id)
            except Exception:  # noqa: BLE001 - a paused schedule is a courtesy, not a need
                logger.exception("could not pause deployment %s", deployment_id)
    return handed


def _cancelled(client, run) -> None:
    """End a run that was being cancelled, whose process the stop killed, Cancelled (what
    the runner would have done once its process had exited)."""
    from prefect.states import Cancelled

    try:
        client.set_flow_run_state(
            run.id, Cancelled(message="Cancelled while ppflow serve stopped.")
        )
    except Exception:  # noqa: BLE001 - one run's trouble must not block the stop
        logger.exception("could not end flow run %s Cancelled", run.id)


async def _run(runner: Runner, stop) -> None:
    """Start ``runner``, and once it has started, take SIGTERM back from it (``Runner.start``
    sets Prefect's stop on SIGTERM, which cancels the runs in flight). The event loop calls
    ``stop``: a signal delivered to another thread wakes it at once, where a plain signal
    handler would wait for the loop's next wake-up, seconds later at times."""
    started = asyncio.ensure_future(runner.start())
    while not (runner.started or started.done()):
        await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum, None)
    await started


def serve_all(timezone: str | None = None, limit: int | None = None) -> None:
    """Serve every deployment from this process, with Prefect's runner. It looks for runs to
    start every 2 s (PREFECT_RUNNER_POLL_FREQUENCY, 10 s by Prefect's default), so a
    coordinator's answer or a triggered stage starts within seconds.

    SIGTERM or Ctrl-C stops it within STOP_SECONDS, without Prefect's runner stop: the
    signal's handler runs on the thread of the runner's event loop, so the runner is frozen
    while the handler kills the runs' processes and hands the runs back (``hand_back``), and
    the process then ends. Runs waiting for a person stay suspended."""
    updates = {}
    if "PREFECT_RUNNER_POLL_FREQUENCY" not in os.environ:
        updates[PREFECT_RUNNER_POLL_FREQUENCY] = 2
    runner: Runner | None = None
    served: list = []  # the ids of the deployments the runner serves
    scheduled: list = []  # and of those with a schedule
    stopping = False

    def stop(signum, frame) -> None:
        # Ctrl-C stops as SIGTERM does, and a second signal (Ctrl-C, then make's SIGTERM)
        # leaves the stop under way alone. Before the runner has started, nothing runs:
        # leave at once.
        nonlocal stopping
        if stopping:
            return
        stopping = True
        _stop_within(_EXIT_AFTER)
        try:
            if runner is not None and runner.started:
                handed = hand_back(served, scheduled)
                print(f"ppflow serve stopped; {len(handed)} run(s) handed back", flush=True)
        except Exception:  # noqa: BLE001 - a run left Pending is crashed by the automation
            logger.exception("could not hand back the runs in flight")
        finally:
            _leave()

    with temporary_settings(updates=updates):
        while True:
            # again on each try: the event loop of the one before gave them back to the
            # system's defaults when it closed
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
            try:
                ensure_left_pending_automation()
                runner = Runner(limit=limit)
                deployments = runner_deployments(timezone)
                served = [runner.add_deployment(deployment) for deployment in deployments]
                scheduled = [i for i, d in zip(served, deployments, strict=True) if d.schedules]
                print(f"ppflow serves {len(deployments)} deployments; Ctrl-C stops", flush=True)
                asyncio.run(_run(runner, stop))
                break
            except (KeyboardInterrupt, SystemExit):  # Prefect's own SIGTERM before it started
                logger.warning("interrupted: stopping")
                break
            except httpx.TransportError as error:
                # the Prefect server is not there (yet, or restarting): try again shortly
                # rather than leave the office without a runner
                logger.warning("Prefect server unreachable (%s); retrying in 5 s", error)
                time.sleep(5)
    _leave()


def trigger(stage: str, code: str | None, parameters: dict[str, Any]) -> tuple[str, str]:
    """Start a deployment by its short name; returns (flow run id, run name)."""
    deployment, key = SHORT_NAMES[stage]
    values = dict(parameters)
    if key:
        if not code:
            raise ValueError(f"'{stage}' needs a code ({key})")
        values[key] = code
    spec = next(d for d in load_deployments() if d["name"] == deployment)
    template = load_flow(spec["entrypoint"]).flow_run_name
    name = (
        template.format(**{**(spec.get("parameters") or {}), **values})
        if isinstance(template, str)
        else None
    )
    # as_subflow=False: a stage started from another run is a top-level run, so its waits
    # can suspend instead of holding a process.
    # typed for a synchronous caller, as the CLI is: only within an event loop would it
    # give a coroutine
    run = cast(
        "FlowRun",
        run_deployment(
            f"{deployment}/{deployment}",
            parameters=values,
            timeout=0,
            flow_run_name=name,
            as_subflow=False,
        ),
    )
    return str(run.id), run.name
