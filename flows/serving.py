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
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments import run_deployment
from prefect.events import DeploymentEventTrigger
from prefect.runner import Runner
from prefect.schedules import Cron, Interval
from prefect.settings import PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

from ppflow import resources

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
_HAND_BACK_SECONDS = 2.0  # within this, what the runner was starting is handed back

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
    from prefect import get_client

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


class OfficeRunner(Runner):
    """Prefect's runner, with a stop that never takes more than STOP_SECONDS, never leaves
    a run Pending or Running and never cancels a run that waits for a person.

    Every run the runner was starting or running when told to stop (Pending: its process
    not started, or started but not yet running the flow; or Running) is handed back: its
    process is killed and the run is Scheduled again, which frees its deployment's
    concurrency slot; the next runner starts it again (every step of a ppflow flow is
    idempotent, so a step done twice changes nothing). Prefect's runner would cancel the
    runs that run instead, and polls a killed process every 3 s: stopped within
    STOP_SECONDS, it could leave a run Running with no process, holding its slot.

    When a run suspends, its process still takes a second or two to exit, and Prefect's
    runner, stopped in that gap, cancels every run whose process it still tracks: the
    waiting run would end Cancelled ("Runner is shutting down"). Here a run whose state on
    the server is paused (suspended) or final is left alone.

    This reads and wraps private parts of Prefect's runner (its process manager, its
    state proposer and its poller's submissions), which is why Prefect is pinned below
    3.10."""

    handing_back: set  # runs this runner was starting or running when told to stop
    left_alone: set  # runs whose process was only exiting then (suspended, or over)

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        if self.stopping:  # a second signal: the stop under way goes on
            return
        _stop_within(_EXIT_AFTER)
        super().handle_sigterm(*args, **kwargs)

    async def __aenter__(self):
        await super().__aenter__()
        self.handing_back, self.left_alone = set(), set()
        proposer = self._state_proposer
        submitting, crashed = proposer.propose_submitting, proposer.propose_crashed

        async def propose_submitting(flow_run) -> bool:
            if self.stopping:  # Pending, and no process started: hand it back
                self.handing_back.add(flow_run.id)
                await self._hand_back(flow_run.id)
                return False
            return await submitting(flow_run)

        async def propose_crashed(flow_run, message: str):
            if flow_run.id in self.handing_back:  # its process was killed by the stop
                await self._hand_back(flow_run.id)
                return None
            return await crashed(flow_run, message=message)

        proposer.propose_submitting = propose_submitting
        proposer.propose_crashed = propose_crashed
        return self

    async def _hand_back(self, flow_run_id) -> None:
        """Schedule a run this runner was starting again, now, for the next runner."""
        from prefect.states import Scheduled

        try:
            run = await self._client.read_flow_run(flow_run_id)
            if run.state and (run.state.is_final() or run.state.is_paused()):
                return  # it ended, or suspended, just before its process was killed
            await self._client.set_flow_run_state(
                flow_run_id,
                Scheduled(message="Handed back: ppflow serve stopped while it started or ran it."),
                force=True,
            )
            logger.info("handed back flow run %s", flow_run_id)
        except Exception:  # noqa: BLE001 - the left-Pending automation is the backstop
            logger.exception("could not hand back flow run %s", flow_run_id)

    async def astop(self) -> None:
        """Stop polling, hand back every run still in flight (its executor writes the
        hand-back once the killed process has exited), then stop as Prefect's runner does."""
        self.stopping = True
        self._scheduled_run_poller.stopping = True
        deadline = time.monotonic() + _HAND_BACK_SECONDS
        while not await self._hand_back_what_runs() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await super().astop()

    async def _hand_back_what_runs(self) -> bool:
        """Kill the process of every run this runner started that is neither waiting for
        a person (paused, suspended) nor over: its executor then hands it back
        (``propose_crashed`` above). True once every such run is handed back."""
        manager = self._process_manager
        done = True
        for flow_run_id in list(self._scheduled_run_poller._submitting_flow_run_ids):
            if flow_run_id in self.left_alone:
                continue
            if flow_run_id in self.handing_back or flow_run_id not in manager.flow_run_ids():
                done = False  # being handed back, or its process is about to start
                continue
            try:
                run = await self._client.read_flow_run(flow_run_id)
                if run.state and (run.state.is_paused() or run.state.is_final()):
                    self.left_alone.add(flow_run_id)  # its process is only exiting
                    continue
                self.handing_back.add(flow_run_id)
                await manager.kill(flow_run_id, force=True)
                done = False
            except Exception:  # noqa: BLE001 - one run's trouble must not block the stop
                logger.exception("could not stop flow run %s", flow_run_id)
        return done

    async def cancel_all(self) -> None:
        manager = self._cancellation_manager
        for flow_run_id in manager._process_manager.flow_run_ids() - self.handing_back:
            try:
                run = await self._client.read_flow_run(flow_run_id)
                if run.state and (run.state.is_paused() or run.state.is_final()):
                    continue  # it waits on the server; its process is only exiting
                await manager.cancel(run, state_msg="Runner is shutting down.")
            except Exception:  # noqa: BLE001 - one run's trouble must not block the stop
                logger.exception("could not stop flow run %s", flow_run_id)


def serve_all(timezone: str | None = None, limit: int | None = None) -> None:
    """Serve every deployment from this process. The runner looks for runs to start every
    2 s (PREFECT_RUNNER_POLL_FREQUENCY, 10 s by Prefect's default), so a coordinator's
    answer or a triggered stage starts within seconds. SIGTERM or Ctrl-C stops it within
    STOP_SECONDS: a run it was starting or running is handed back (Scheduled again), runs
    waiting for a person stay suspended."""
    updates = {}
    if "PREFECT_RUNNER_POLL_FREQUENCY" not in os.environ:
        updates[PREFECT_RUNNER_POLL_FREQUENCY] = 2
    runner: OfficeRunner | None = None

    def stop(signum, frame) -> None:
        # Ctrl-C stops as SIGTERM does, and a second signal (Ctrl-C, then make's SIGTERM)
        # leaves the stop under way alone. Before the runner has started, there is
        # nothing to hand back: leave at once.
        if runner is not None and runner.stopping:
            return
        if runner is not None and runner.started:
            runner.handle_sigterm()
            return
        _stop_within(_EXIT_AFTER)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with temporary_settings(updates=updates):
        while True:
            try:
                ensure_left_pending_automation()
                runner = OfficeRunner(limit=limit)
                deployments = runner_deployments(timezone)
                for deployment in deployments:
                    runner.add_deployment(deployment)
                print(f"ppflow serves {len(deployments)} deployments; Ctrl-C stops", flush=True)
                asyncio.run(runner.start())
                break
            except KeyboardInterrupt:  # the handler above has started the stop's timer
                logger.warning("interrupted: stopping")
                break
            except httpx.TransportError as error:
                # the Prefect server is not there (yet, or restarting): try again shortly
                # rather than leave the office without a runner
                logger.warning("Prefect server unreachable (%s); retrying in 5 s", error)
                time.sleep(5)
    # leave without the interpreter's own shutdown, which waits for Prefect's background
    # threads (log and event senders) and could outlast STOP_SECONDS
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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
    run = run_deployment(
        f"{deployment}/{deployment}",
        parameters=values,
        timeout=0,
        flow_run_name=name,
        as_subflow=False,
    )
    return str(run.id), run.name
