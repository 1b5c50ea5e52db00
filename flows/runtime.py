"""What every flow shares: the application (built once per process), the Meta of a
change (actor and Prefect run id), events, run tags and artifacts. This is the one module
on the orchestration side that talks to Prefect's client."""

from __future__ import annotations

from functools import cache

from prefect import get_client
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.system import Secret
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event

from ppflow.bootstrap import App, bootstrap
from ppflow.domain.commands import Meta


@cache
def application() -> App:
    """The ppflow application for this worker process, from settings read once."""
    return with_secrets(bootstrap())


def with_secrets(app: App) -> App:
    """Secrets kept in Prefect Secret blocks are read into the settings here, so that they
    are never in a file: the SMTP password (PPFLOW_SMTP__PASSWORD_BLOCK) and the key that
    signs survey and withdrawal links (PPFLOW_PORTAL__SIGNING_KEY_BLOCK)."""
    smtp, portal = app.settings.smtp, app.settings.portal
    if smtp.password_block and not smtp.password:
        smtp.password = Secret.load(smtp.password_block).get()
    if portal.signing_key_block:
        portal.signing_key = Secret.load(portal.signing_key_block).get()
    return app


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


def meta(step: str, reason: str | None = None, keyed: bool = True) -> Meta:
    """Meta for a change made by a flow. The request id is derived from the flow run and
    the step, so a Prefect retry or a resumed run never applies the same step twice."""
    run = current_flow_run_id()
    request_id = f"{run}:{step}" if run and keyed else None
    return Meta(
        actor=f"flow:{current_flow_name()}", reason=reason, request_id=request_id, flow_run_id=run
    )


def announce(
    entity: str, code: str, from_state: str | None, to_state: str, replayed: bool = False
) -> None:
    """Emit a Prefect event for one state transition (codes only), so automations can
    react. A replayed change was announced the first time and is not announced again."""
    if replayed or from_state == to_state:
        return
    emit_event(
        event=f"ppflow.{entity}.{to_state}",
        resource={"prefect.resource.id": f"ppflow.{entity}.{code}", "prefect.resource.name": code},
        payload={"from": from_state, "to": to_state},
    )


def tag_run(*tags: str) -> None:
    """Add tags (stage, team, program) to the current flow run, for filtering in the UI."""
    context = FlowRunContext.get()
    if not context or not context.flow_run:
        return
    wanted = sorted(set(context.flow_run.tags or []) | {t for t in tags if t})
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=wanted)


def publish(key: str, title: str, lines: list[str]) -> None:
    """A markdown artifact saying what the run changed. Keys are lower-case codes."""
    body = "\n".join([f"# {title}", "", *lines])
    create_markdown_artifact(markdown=body, key=key.lower().replace("_", "-"), description=title)
