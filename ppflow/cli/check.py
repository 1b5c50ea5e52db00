"""``ppflow check``: may ppflow run here? The survey portal's configuration, and the files
ppflow ships (templates, deployments, questionnaires, migrations)."""

from __future__ import annotations

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


def check() -> None:
    """Check that the survey portal may start: outside development (PPFLOW_ENVIRONMENT)
    it refuses the default or a short signing key. Exit code 1 when refused. Also checks
    that the templates and deployments ppflow ships are found."""
    application = current_app()
    try:
        application.read_secrets()
    except Exception as error:  # the block is missing or Prefect is unreachable
        fail(f"cannot read the signing key block: {type(error).__name__}: {error}")
    portal_ok = run_checks(application)
    files_ok = shipped_files_found(application.settings.templates_dir)
    if not (portal_ok and files_ok):
        raise typer.Exit(1)
    out.print("the portal may start")
