"""What every flow shares: the application (built once per process), the Meta of a
change (actor and Prefect run id), events, run tags and artifacts. This is the one module
on the orchestration side that talks to Prefect's client."""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import ArtifactCreate as ArtifactRequest
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event
from prefect.exceptions import MissingContextError
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)
from prefect.states import Cancelled

from ppflow.bootstrap import App, bootstrap
from ppflow.domain.commands import Meta
from ppflow.domain.model import Transition
from ppflow.services.portal import withdrawn_among


@cache
def application() -> App:
    """The ppflow application for this worker process, from settings read once. Outside
    development, keys that could not sign a link are refused here, before any flow opens a
    survey or queues an e-mail whose link could not be made."""
    app = bootstrap().read_secrets()
    app.signing_keys()
    return app


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def client():
    """One synchronous Prefect client per process and API address, opened on first use.
    Each new client costs a round trip (and, on a server with CSRF protection off, a refused
    token request), so ppflow's own calls share this one."""
    url = PREFECT_API_URL.value() or "ephemeral"
    with _clients_lock:
        found = _clients.get(url)
        if found is None:
            found = get_client(sync_client=True)
            found.__enter__()
            _clients[url] = found
            atexit.register(found.__exit__, None, None, None)
        return found


def in_process():
    """Settings for runs that wait in this process (the demo, tests, benchmarks): no flow
    run heartbeat. A heartbeat tells the server that a deployed run's process is alive;
    in-process it only costs, since its thread is joined in steps of one second at the
    end of every flow run (about 1 s of each run)."""
    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def in_thread(fn, *args, **kwargs) -> Future:
    """Run ``fn`` in a thread that sees this thread's Prefect settings and context."""
    future: Future = Future()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(context.run(fn, *args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            future.set_exception(error)

    threading.Thread(target=target, daemon=True).start()
    return future


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (its lines show in the Prefect UI), or the module's outside a run.
    Log codes and stages only, never personal data."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("ppflow")


def current_flow_run():
    context = FlowRunContext.get()
    return context.flow_run if context else None


def deployed() -> bool:
    """Whether this run is a top-level run of a deployment: its waits suspend (no process
    held) and the next stage is started by a deployment trigger, not called in-process."""
    run = current_flow_run()
    return bool(run and run.deployment_id and run.parent_task_run_id is None)


ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]


def earlier_run_in_progress(**subject: object) -> str | None:
    """For a deployed stage run: the id of another unfinished run of the same deployment,
    for the same subject (the parameters given, e.g. ``advisor=...``), that was created
    first, if any. A duplicated event or a second click then starts a run that stops at
    once, and the work is done once."""
    run = current_flow_run()
    if not deployed():
        return None
    others = client().read_flow_runs(
        flow_run_filter=FlowRunFilter(
            name=FlowRunFilterName(any_=[run.name]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE)),
        )
    )
    mine = (run.created, str(run.id))
    first = [
        o
        for o in others
        if o.id != run.id
        and o.deployment_id == run.deployment_id
        and all((o.parameters or {}).get(k) == v for k, v in subject.items())
        and (o.created, str(o.id)) < mine
    ]
    return str(min(first, key=lambda o: (o.created, str(o.id))).id) if first else None


PAGE = 200  # the most runs Prefect's API returns at once


def _runs_in(types: list[StateType], names=None, tags=None) -> list:
    """Every run in a state of one of ``types`` (optionally only those with one of
    ``names``, or with one of ``tags``), however many: Prefect's API returns at most 200
    at once, so this pages."""
    wanted = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types)),
        name=FlowRunFilterName(any_=names) if names else None,
        tags=FlowRunFilterTags(any_=tags) if tags else None,
    )
    found, offset = [], 0
    while True:
        page = client().read_flow_runs(flow_run_filter=wanted, limit=PAGE, offset=offset)
        found += page
        if len(page) < PAGE:
            return found
        offset += PAGE


def paused_runs(names: list[str] | None = None, tags: list[str] | None = None) -> list:
    """Every run paused or suspended on a person's answer (optionally only those with one
    of ``names``, or with one of ``tags``)."""
    return _runs_in([StateType.PAUSED], names, tags)


@dataclass(frozen=True)
class StuckRun:
    """A run that has stayed Pending, Running or Cancelling longer than it should: left
    by a runner or worker that stopped or died (a Pending one holds its deployment's
    concurrency slot, and a scheduled deployment then starts no more runs)."""

    name: str  # codes only, as every run name
    state: str
    since: datetime
    flow_run_id: str


def stuck_runs(now: datetime, older_than: timedelta) -> list[StuckRun]:
    """The runs Pending, Running or Cancelling since before ``now - older_than``, oldest
    first. A run waiting for a person is suspended or paused, never one of these."""
    found = []
    types = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
    for run in _runs_in(types):
        since = run.state.timestamp if run.state else run.created
        if since is not None and now - since > older_than:
            found.append(StuckRun(run.name, run.state.name, since, str(run.id)))
    return sorted(found, key=lambda r: r.since)


def end_waits_of_withdrawn(advisor: str | None = None) -> list[str]:
    """Cancel every run paused or suspended on a person's answer about an advisor who has
    since withdrawn (its ``advisor`` parameter), with a message naming the code; only the
    runs about ``advisor`` when given. Nothing the run waited for is then applied. One
    paged read of the waiting runs and one look-up of their advisors, whatever their number.
    Returns the ids of the runs ended."""

    def subject(run) -> str | None:
        return (run.parameters or {}).get("advisor")

    waiting = [run for run in paused_runs() if subject(run) and advisor in (None, subject(run))]
    if not waiting:
        return []
    codes = {code for run in waiting if (code := subject(run))}  # every run has one
    gone = withdrawn_among(application().uow(), codes)
    ended = []
    for run in waiting:
        code = subject(run)
        if code in gone:
            client().set_flow_run_state(
                run.id, Cancelled(message=f"advisor {code} withdrew"), force=True
            )
            logger().info("%s ended: advisor %s withdrew", run.name, code)
            ended.append(str(run.id))
    return ended


def current_flow_run_id() -> str | None:
    context = FlowRunContext.get()
    if context and context.flow_run:
        return str(context.flow_run.id)
    task_context = TaskRunContext.get()
    if task_context and task_context.task_run.flow_run_id:
        return str(task_context.task_run.flow_run_id)
    return None


def current_flow_name() -> str:
    context = FlowRunContext.get()
    return context.flow.name if context and context.flow else "ppflow"


def meta(
    step: str, reason: str | None = None, keyed: bool = True, actor: str | None = None
) -> Meta:
    """Meta for a change made by a flow. The request id is derived from the flow run and
    the step, so a Prefect retry or a resumed run never applies the same step twice. The
    actor is the person whose answer caused the change, else the flow itself."""
    run = current_flow_run_id()
    request_id = f"{run}:{step}" if run and keyed else None
    return Meta(
        actor=actor or f"flow:{current_flow_name()}",
        reason=reason,
        request_id=request_id,
        flow_run_id=run,
    )


CHAIN_ROLE = "onboarding"  # related resource that marks an event as part of a deployed chain


def event_name(entity: str, stage: str) -> str:
    """The name of the event of a move to ``stage``: ``advisor.screening``,
    ``engagement.ended_early``, ``team.active``. The Prefect UI titles an event with its
    name, dots and underscores read as spaces and the first letter capitalized ("Advisor
    screening", "Engagement ended early"), so the name is only the entity and its new
    stage; the resource (``ppflow.advisor.PA-...``) is what places it in ppflow, and its
    ``prefect.resource.name`` is the code, shown beside the title."""
    return f"{entity}.{stage}"


def _event_id(entity: str, code: str, from_state, to_state: str, at: datetime | None):
    """One id per move, so that a move announced twice (a retried task) is one event."""
    if at is None:
        return None
    key = f"ppflow:{entity}:{code}:{from_state or ''}:{to_state}:{at.isoformat()}"
    return uuid.uuid5(uuid.NAMESPACE_URL, key)


def announce(
    entity: str,
    code: str,
    from_state: str | None,
    to_state: str,
    replayed: bool = False,
    team: str | None = None,
    at: datetime | None = None,
    chain: bool = True,
    occurred: datetime | None = None,
) -> None:
    """Emit a Prefect event for one state transition (codes only), so automations can
    react. A replayed change was announced the first time and is not announced again.
    ``chain=False`` (a move made outside the flows) never starts an onboarding stage.

    An event from a deployed stage run carries a related resource in the role
    ``onboarding``: the deployment triggers of ``deployments/prefect.yaml`` match on it, so
    the next stage starts only for a chain, never for a run made in-process. ``team`` is
    the QI team the onboarding aims at, passed on from stage to stage."""
    if replayed or from_state == to_state:
        return
    related = []
    if chain and deployed():
        related.append(
            {
                "prefect.resource.id": f"ppflow.onboarding.{code}",
                "prefect.resource.role": CHAIN_ROLE,
                "prefect.resource.name": code,
            }
        )
        if team:
            related.append(
                {
                    "prefect.resource.id": f"ppflow.team.{team}",
                    "prefect.resource.role": "team",
                    "prefect.resource.name": team,
                }
            )
    emit_event(
        event=event_name(entity, to_state),
        resource={"prefect.resource.id": f"ppflow.{entity}.{code}", "prefect.resource.name": code},
        related=related,
        payload={"from": from_state, "to": to_state, "team": team or ""},
        id=_event_id(entity, code, from_state, to_state, at),
        occurred=occurred,
    )


def announce_moves(moves: Iterable[Transition], team: str | None = None) -> None:
    """Announce the moves a use case returned, one event each, in the order it made them,
    so that a step which passes through a stage (screening, proposed) announces it too. A
    replayed request made none, and announces nothing."""
    for move in moves:
        announce(move.entity, move.code, move.from_state, move.to_state, team=team, at=move.at)


def announce_moves_made_elsewhere() -> int:
    """Announce the moves made from the command line or the survey portal, which do not
    talk to Prefect, as the flows announce theirs (one event each, the same names)."""
    from ppflow.services.moves import announce_moves_made_elsewhere as sweep

    def one(t) -> None:
        announce(t.entity, t.code, t.from_state, t.to_state, at=t.at, chain=False, occurred=t.at)

    app = application()
    return sweep(app.uow(), one, app.clock)


def tag_run(*tags: str) -> None:
    """Add tags (stage, team, program) to the current flow run, for filtering in the UI."""
    context = FlowRunContext.get()
    if not context or not context.flow_run:
        return
    wanted = sorted(set(context.flow_run.tags or []) | {t for t in tags if t})
    client().update_flow_run(context.flow_run.id, tags=wanted)


def _artifact(kind: str, key: str, data: str, description: str) -> None:
    """An artifact of the current run, through the process's one client."""
    context = FlowRunContext.get()
    client().create_artifact(
        artifact=ArtifactRequest(
            type=kind,
            key=key.lower().replace("_", "-"),
            description=description,
            flow_run_id=context.flow_run.id if context and context.flow_run else None,
            data=data,
        )
    )


def publish(key: str, title: str, lines: list[str]) -> None:
    """A markdown artifact saying what the run changed. Keys are lower-case codes."""
    _artifact("markdown", key, "\n".join([f"# {title}", "", *lines]), title)


def publish_table(key: str, rows: list[dict], description: str) -> None:
    """A table artifact (one dict per row), e.g. the matches proposed for a team."""
    _artifact("table", key, json.dumps(rows), description)
