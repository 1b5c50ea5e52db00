"""``ppflow check``: may ppflow run here? The survey portal's configuration, the files
ppflow ships (templates, deployments, questionnaires, migrations), the Prefect server, the
runs stuck on it and how long the oldest message has waited to be sent."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import typer

from ppflow.cli.context import current_app, err, out
from ppflow.cli.errors import fail
from ppflow.cli.portal import run_checks


def shipped_files_found(templates_dir) -> bool:
    """Print each missing shipped file as a failed check; True when none is missing."""
    from ppflow import resources

    problems = resources.problems(templates_dir)
    for problem in problems:
        err.print(f"[bold red]failed[/] {problem}", highlight=False)
    if not problems:
        found = "templates, deployments, questionnaires, migrations"
        out.print(f"[green]ok[/]    shipped files found: {found}", highlight=False)
    return not problems


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: localhost, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_an_open_prefect_api() -> None:
    """Refuse a Prefect API beyond this machine that ppflow reaches without authentication:
    whoever reaches such a server can read ppflow's Secret blocks (the SMTP password, the
    signing key), start deployments and answer waiting runs."""
    from prefect.settings import get_current_settings

    api = get_current_settings().api
    if not api.url:
        out.print(
            "[green]ok[/]    Prefect API: a local server of this process (no PREFECT_API_URL)"
        )
        return
    parts = urlsplit(api.url)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never credentials
    if api.auth_string and api.auth_string.get_secret_value():
        out.print(f"[green]ok[/]    Prefect API at {where}: with PREFECT_API_AUTH_STRING")
    elif is_loopback(parts.hostname or ""):
        out.print(f"[green]ok[/]    Prefect API at {where}: on this machine only")
    else:
        fail(
            f"the Prefect API at {where} is not on this machine, and PREFECT_API_AUTH_STRING "
            "is not set: start that server with PREFECT_SERVER_API_AUTH_STRING=user:password "
            "and set PREFECT_API_AUTH_STRING to the same on every client and worker"
        )


def failed(message: str) -> None:
    err.print(f"[bold red]failed[/] {message}", highlight=False)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def prefect_answers() -> bool:
    """Whether the Prefect server of PREFECT_API_URL answers its health check (within 5 s,
    once: Prefect's client would retry for minutes). True without PREFECT_API_URL: a local
    server is then started by the process that needs it."""
    import httpx
    from prefect.settings import get_current_settings

    api = get_current_settings().api
    if not api.url:
        return True
    parts = urlsplit(api.url)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    secret = api.auth_string.get_secret_value() if api.auth_string else ""
    user, _, password = secret.partition(":")
    try:
        response = httpx.get(
            api.url.rstrip("/") + "/health", timeout=5, auth=(user, password) if secret else None
        )
    except httpx.HTTPError as error:
        failed(f"the Prefect server at {where} does not answer ({type(error).__name__})")
        return False
    if response.status_code != 200:
        failed(f"the Prefect server at {where} answers {response.status_code} to its health check")
        return False
    out.print(f"[green]ok[/]    the Prefect server at {where} answers", highlight=False)
    return True


def no_stuck_runs(now: datetime, limit: timedelta) -> bool:
    """Name each run Pending, Running or Cancelling for longer than ``limit`` as a failed
    check; True when there is none."""
    from ppflow_flows.runtime import stuck_runs

    stuck = stuck_runs(now, limit)
    for run in stuck:
        failed(
            f"run {run.name} is stuck: {run.state} since {run.since:%Y-%m-%d %H:%M} UTC "
            f"({_minutes(now - run.since)}; limit {_minutes(limit)}, "
            "PPFLOW_STUCK_RUN_MINUTES)"
        )
    if not stuck:
        out.print(
            f"[green]ok[/]    no run Pending, Running or Cancelling for over {_minutes(limit)}",
            highlight=False,
        )
    return not stuck


def mail_goes_out(application, now: datetime, limit: timedelta) -> bool:
    """The age of the oldest message still to send; a failed check past ``limit``."""
    from sqlalchemy.exc import SQLAlchemyError

    from ppflow.cli.errors import _database_failure

    try:
        oldest = application.outbox().oldest_unsent()
    except SQLAlchemyError as error:  # no schema yet (before `ppflow db upgrade`), no server
        failed(f"outbox: {_database_failure(error)}")
        return False
    if oldest is None:
        out.print("[green]ok[/]    outbox: no message waits to be sent", highlight=False)
        return True
    age = now - oldest
    if age > limit:
        failed(
            f"outbox: the oldest message to send has waited {_minutes(age)} (limit "
            f"{_minutes(limit)}, PPFLOW_OUTBOX_AGE_LIMIT_MINUTES): is `ppflow serve` (or a "
            "worker) running dispatch-notifications? `ppflow waiting` names stuck runs"
        )
        return False
    out.print(
        f"[green]ok[/]    outbox: the oldest message to send has waited {_minutes(age)}",
        highlight=False,
    )
    return True


def check() -> None:
    """Check that the survey portal may start and links may be signed: outside
    development (PPFLOW_ENVIRONMENT) it refuses any key not made by `ppflow keygen`, the
    current key and every previous one, each with its reason. Also checks
    that the templates and deployments ppflow ships are found, that the Prefect server
    answers, that no run is stuck Pending, Running or Cancelling past
    PPFLOW_STUCK_RUN_MINUTES (15), and how long the oldest message still to send has
    waited: past PPFLOW_OUTBOX_AGE_LIMIT_MINUTES (15) it fails. Exit code 1 when any
    check fails."""
    application = current_app()
    settings = application.settings
    refuse_an_open_prefect_api()
    prefect_ok = prefect_answers()
    try:
        application.read_secrets()
    except Exception as error:  # the block is missing or Prefect is unreachable
        fail(f"cannot read the signing key block: {type(error).__name__}: {error}")
    portal_ok = run_checks(application)
    files_ok = shipped_files_found(settings.templates_dir)
    now = application.clock.now()
    mail_ok = mail_goes_out(application, now, timedelta(minutes=settings.outbox_age_limit_minutes))
    runs_ok = True
    if prefect_ok and _prefect_configured():
        runs_ok = no_stuck_runs(now, timedelta(minutes=settings.stuck_run_minutes))
    if portal_ok and files_ok:
        out.print("the portal may start")
    if not (prefect_ok and portal_ok and files_ok and mail_ok and runs_ok):
        raise typer.Exit(1)


def _prefect_configured() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())
