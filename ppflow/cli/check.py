"""``ppflow check``: may the survey portal start here?"""

from __future__ import annotations

import typer

from ppflow.cli.context import current_app, out
from ppflow.cli.errors import fail
from ppflow.cli.portal import load_signing_key, run_checks


def check() -> None:
    """Check that the survey portal may start: outside development (PPFLOW_ENVIRONMENT)
    it refuses the default or a short signing key. Exit code 1 when refused."""
    application = current_app()
    try:
        load_signing_key(application.settings)
    except Exception as error:  # the block is missing or Prefect is unreachable
        fail(f"cannot read the signing key block: {type(error).__name__}: {error}")
    if not run_checks(application):
        raise typer.Exit(1)
    out.print("the portal may start")
