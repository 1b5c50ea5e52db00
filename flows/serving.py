"""Serving and triggering ppflow's deployments. ``prefect.yaml`` (beside this module) is the one
description of them: ``prefect deploy`` reads it for work pools, and ``ppflow serve``
reads it to serve the same deployments from one process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
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
    """Prefect's runner, with a stop that never takes more than STOP_SECONDS and never
    cancels a run that waits for a person.

    When a run suspends, its process still takes a second or two to exit, and Prefect's
    runner, stopped in that gap, cancels every run whose process it still tracks: the
    waiting run would end Cancelled ("Runner is shutting down"). Here a run whose state on
    the server is paused (suspended) or final is left alone; only runs that really run are
    cancelled. This reads the runner's process manager, a private part of Prefect, which
    is why Prefect is pinned below 3.10."""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        _stop_within(STOP_SECONDS)
        super().handle_sigterm(*args, **kwargs)

    async def cancel_all(self) -> None:
        manager = self._cancellation_manager
        for flow_run_id in manager._process_manager.flow_run_ids():
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
    STOP_SECONDS; runs waiting for a person stay suspended."""
    updates = {}
    if "PREFECT_RUNNER_POLL_FREQUENCY" not in os.environ:
        updates[PREFECT_RUNNER_POLL_FREQUENCY] = 2

    def interrupted(signum, frame) -> None:
        # Ctrl-C: Prefect's runner would pause every deployment through the API, which
        # hangs when the Prefect server is stopping at the same time (make serve)
        _stop_within(STOP_SECONDS)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    with temporary_settings(updates=updates):
        while True:
            try:
                runner = OfficeRunner(limit=limit)
                deployments = runner_deployments(timezone)
                for deployment in deployments:
                    runner.add_deployment(deployment)
                print(f"ppflow serves {len(deployments)} deployments; Ctrl-C stops", flush=True)
                asyncio.run(runner.start())
                return
            except KeyboardInterrupt:  # the handler above has started the stop's timer
                logger.warning("interrupted: stopping")
                return
            except httpx.TransportError as error:
                # the Prefect server is not there (yet, or restarting): try again shortly
                # rather than leave the office without a runner
                logger.warning("Prefect server unreachable (%s); retrying in 5 s", error)
                time.sleep(5)


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
