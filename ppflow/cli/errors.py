"""The one place where the CLI turns an expected error into a message and an exit code.

Every command is a :class:`HandledCommand`: when it raises one of :data:`EXPECTED`, the
person sees ``error: <what to fix>`` on stderr and the command exits with
:data:`EXIT_CODE`, never with a traceback. Any other exception is a bug and keeps its
traceback. Usage errors (a bad option value) stay Click's, with exit code 2.

What ppflow depends on can fail too: its database (corrupt, read-only, full, or not
reachable) and the Prefect server (down, or refusing a client without its auth string).
:func:`outage` describes such a failure in one line, with the exit code
:data:`OUTAGE_EXIT_CODE`. It never shows the SQL statement or its parameters, which can
hold a name or an address.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from typer.core import TyperCommand

from ppflow.cli.context import err, working_on
from ppflow.domain.errors import PPFlowError
from ppflow.services.csv_files import CsvFormatError

# PPFlowError covers the domain's errors and the services' InvalidInputError family, the
# questionnaire errors among them; CsvFormatError (every CSV import's) is one of them too,
# and is named so that it stays handled if that ever changes. The file errors are a path
# given on the command line.
EXPECTED: tuple[type[Exception], ...] = (
    PPFlowError,
    CsvFormatError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
EXIT_CODE = 1
OUTAGE_EXIT_CODE = 3  # the command was right, but the database or Prefect failed it


def describe(error: Exception) -> str:
    """The message for an expected error: its own text, or the path and what is wrong."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def outage(error: BaseException) -> str | None:
    """One line saying that the database or the Prefect server failed, and what to do; None
    when ``error`` is neither (a bug, which keeps its traceback). SQLAlchemy and httpx are
    looked up among the loaded modules: an error of theirs cannot happen before they are
    imported, and the CLI does not import them to find out."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and (
        isinstance(error, sqlalchemy_exc.OperationalError)
        or type(error) is sqlalchemy_exc.DatabaseError  # e.g. "file is not a database"
        or type(getattr(error, "orig", None)).__name__ in _NO_SCHEMA  # PostgreSQL's
    ):
        return _database_failure(error)
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(error, httpx.TransportError):
        return (
            f"cannot reach the Prefect server at {_server(error)}: {_first_line(error)}. "
            "Start it (make serve), or set PREFECT_API_URL to where it runs"
        )
    if (
        httpx is not None
        and isinstance(error, httpx.HTTPStatusError)
        and error.response.status_code in (401, 403)
    ):
        return (
            f"the Prefect server at {_server(error)} refused the request "
            f"({error.response.status_code} {error.response.reason_phrase}): set "
            "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING"
        )
    return None


# PostgreSQL's errors for a schema that is missing or older than this ppflow
_NO_SCHEMA = ("UndefinedTable", "UndefinedColumn")

# What the driver's message says, what it means, and what to do (the first that matches)
_DATABASE_MEANINGS = (
    (
        ("no such table", "no such column", "does not exist"),
        "has no ppflow schema, or an older one",
        "run `ppflow db upgrade`",
    ),
    (("readonly", "read-only", "disk is full", "disk i/o", "no space"), "cannot be written", ""),
    (("not a database", "malformed", "corrupt"), "cannot be read", ""),
    (("unable to open",), "cannot be opened", ""),
    (("connect",), "cannot be reached", ""),
    (("locked", "busy"), "is busy", "try again shortly"),
)


def _database_failure(error) -> str:
    """``the database at URL <meaning>: <the driver's first line>[; what to do]``: never
    the statement or its parameters, and the URL without its password."""
    reason = _first_line(getattr(error, "orig", None) or error)
    lowered = reason.lower()
    meaning, hint = next(
        ((m, h) for words, m, h in _DATABASE_MEANINGS if any(w in lowered for w in words)),
        ("failed", ""),
    )
    return f"the database at {_database_url()} {meaning}: {reason}" + (f"; {hint}" if hint else "")


def _database_url() -> str:
    try:
        from sqlalchemy.engine import make_url

        from ppflow.cli.context import current_app

        url = make_url(current_app().settings.database_url)
        return url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - the message must not fail in turn
        return "PPFLOW_DATABASE_URL"


def _server(error) -> str:
    """Where the request went: scheme, host and port, never a path or credentials."""
    try:
        url = error.request.url
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError without a request
        return "PREFECT_API_URL"
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def _first_line(error: BaseException, most: int = 200) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[0] if lines else type(error).__name__
    return line if len(line) <= most else line[: most - 1] + "…"


def fail(message: str, code: int = EXIT_CODE) -> NoReturn:
    """Print ``error: message`` on stderr, on one line however long (no wrapping), and end
    the command with ``code``. The message is text, never markup: it can quote a driver's
    message or a value given, with brackets in it."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def show_bad_rows(problems, file_name: str) -> None:
    """The rows of an imported file that cannot be imported, with their line and why."""
    from rich.table import Table

    table = Table("line", "problem", title=f"{len(problems)} bad row(s) in {file_name}")
    for problem in problems:
        table.add_row(str(problem.line), problem.reason)
    err.print(table)


@contextmanager
def about(subject: str, kinds: tuple[type[Exception], ...] = EXPECTED) -> Iterator[None]:
    """Report an expected error raised inside as ``subject: message`` (e.g. a file name)."""
    try:
        yield
    except kinds as error:
        fail(f"{subject}: {describe(error)}")


class HandledCommand(TyperCommand):
    """A command that works on the App its context was given (``obj``), and whose
    expected errors end in a message and an exit code."""

    def invoke(self, ctx):
        with working_on(ctx.obj):
            try:
                return super().invoke(ctx)
            except EXPECTED as error:
                fail(describe(error))
            except Exception as error:
                message = outage(error)
                if message is None:
                    raise
                fail(message, OUTAGE_EXIT_CODE)


class CommandGroup(typer.Typer):
    """A Typer app whose commands are all :class:`HandledCommand`; shows its help when
    called without a command."""

    def __init__(self, *, help: str, **kwargs) -> None:
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(help=help, **kwargs)

    def command(self, name: str | None = None, *, cls=HandledCommand, **kwargs):
        return super().command(name, cls=cls, **kwargs)
