"""What every command works with: the application, who acts, and the two consoles.

Commands call :func:`current_app`. It is the App given to Typer as ``obj`` when there is
one (``CliRunner().invoke(app, args, obj=test_app)``), so a test hands a command its own
database without patching anything; otherwise it is :func:`get_app`, built once per
process from settings. Every command runs inside :func:`working_on` with its context's
``obj`` (see :class:`ppflow.cli.errors.HandledCommand`).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from typing import Annotated

import typer
from rich.console import Console

from ppflow.bootstrap import App, bootstrap
from ppflow.domain.commands import Meta

# Piped output (files, CI logs) gets a wide page instead of Rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@cache
def get_app() -> App:
    """The application built from settings, once per process."""
    return bootstrap()


_given: ContextVar[App | None] = ContextVar("ppflow_cli_app", default=None)


@contextmanager
def working_on(given: App | None) -> Iterator[None]:
    """Run a command on ``given`` (the context's ``obj``), or on get_app() when None."""
    token = _given.set(given)
    try:
        yield
    finally:
        _given.reset(token)


def current_app() -> App:
    """The App this command works on: the ``obj`` it was given, else get_app()."""
    given = _given.get()
    return get_app() if given is None else given


def actor() -> str:
    """Who is acting: ``PPFLOW_ACTOR`` when set, else ``cli:<login>``."""
    return current_app().settings.actor or f"cli:{getpass.getuser()}"


def meta(request_id: str | None = None, reason: str | None = None) -> Meta:
    """The Meta of a command given from the CLI."""
    return Meta(actor=actor(), request_id=request_id, reason=reason)


def split_values(values: list[str] | None) -> tuple[str, ...]:
    """Repeated options, each of which may hold a comma-separated list: ``--tag a,b --tag c``."""
    found: list[str] = []
    for value in values or []:
        found += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(found)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


# Options several commands share, written once.
CorrectionReason = Annotated[str, typer.Option(help="Why (kept in the corrections log).")]
Present = Annotated[
    list[str] | None, typer.Option(help="An advisor who attended (PA-...; repeatable).")
]
Absent = Annotated[
    list[str] | None, typer.Option(help="An advisor who did not (PA-...; repeatable).")
]
