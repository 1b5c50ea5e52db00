"""The one place where the CLI turns an expected error into a message and an exit code.

Every command is a :class:`HandledCommand`: when it raises one of :data:`EXPECTED`, the
person sees ``error: <what to fix>`` on stderr and the command exits with
:data:`EXIT_CODE`, never with a traceback. Any other exception is a bug and keeps its
traceback. Usage errors (a bad option value) stay Click's, with exit code 2.
"""

from __future__ import annotations

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


def describe(error: Exception) -> str:
    """The message for an expected error: its own text, or the path and what is wrong."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def fail(message: str, code: int = EXIT_CODE) -> NoReturn:
    """Print ``error: message`` on stderr and end the command with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
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


class CommandGroup(typer.Typer):
    """A Typer app whose commands are all :class:`HandledCommand`; shows its help when
    called without a command."""

    def __init__(self, *, help: str, **kwargs) -> None:
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(help=help, **kwargs)

    def command(self, name: str | None = None, *, cls=HandledCommand, **kwargs):
        return super().command(name, cls=cls, **kwargs)
