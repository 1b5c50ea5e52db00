"""``ppflow check``: may ppflow run here? The survey portal's configuration, and the files
ppflow ships (templates, deployments, questionnaires, migrations)."""

from __future__ import annotations

import ipaddress
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


def check() -> None:
    """Check that the survey portal may start and links may be signed: outside
    development (PPFLOW_ENVIRONMENT) it refuses the development key or a weak one (too
    short, too few distinct characters, one kind of character only, low estimated
    entropy), the current key and every previous one, each with its reason. Exit code 1
    when refused. Also checks that the templates and deployments ppflow ships are found."""
    application = current_app()
    refuse_an_open_prefect_api()
    try:
        application.read_secrets()
    except Exception as error:  # the block is missing or Prefect is unreachable
        fail(f"cannot read the signing key block: {type(error).__name__}: {error}")
    portal_ok = run_checks(application)
    files_ok = shipped_files_found(application.settings.templates_dir)
    if not (portal_ok and files_ok):
        raise typer.Exit(1)
    out.print("the portal may start")
