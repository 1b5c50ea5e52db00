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

import inspect
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from ppflow.cli.context import err, normalized, out, styled, working_on
from ppflow.domain.errors import PPFlowError
from ppflow.domain.limits import MAX_INTEGER, MAX_TEXT, MIN_INTEGER
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


# What a library puts before its own message: pydantic's "Value error, " (a validator's
# ValueError, as ValidationError words it) and "Assertion failed, ".
LIBRARY_PREFIXES = re.compile(r"\b(?:Value error|Assertion failed), ")


def plain(message: str) -> str:
    """A message without the prefixes libraries add to it."""
    return LIBRARY_PREFIXES.sub("", message)


def _validation_error(error: BaseException) -> bool:
    """Whether ``error`` is pydantic's ValidationError (looked up among the loaded modules,
    like SQLAlchemy's and httpx's errors below)."""
    pydantic_core = sys.modules.get("pydantic_core")
    return pydantic_core is not None and isinstance(error, pydantic_core.ValidationError)


def _validation_problems(error) -> str:
    """Each problem as ``where: what``, without pydantic's prefixes and links. A setting
    that cannot be read is named by its environment variable (PPFLOW_PORTAL__LINK_DAYS)."""
    settings = error.title == "Settings"
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"])
        if settings and where:
            where = "PPFLOW_" + "__".join(str(p) for p in problem["loc"]).upper()
        parts.append(f"{where}: {plain(problem['msg'])}" if where else plain(problem["msg"]))
    return ("a setting cannot be read: " if settings else "") + "; ".join(parts)


def describe(error: Exception) -> str:
    """The message for an expected error: its own text, or the path and what is wrong;
    never with a library's prefix."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    if _validation_error(error):
        return _validation_problems(error)
    return plain(str(error))


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

        url = make_url(current_app().settings.resolved_database_url)
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
    message or a value given, with brackets in it (:func:`~ppflow.cli.context.styled`)."""
    err.print(
        styled("[bold red]error:[/] {message}", message=plain(message)),
        highlight=False,
        soft_wrap=True,
    )
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


def paragraphs(text: str | None) -> str | None:
    """Help text as paragraphs: the lines of each paragraph joined, so that the help wraps
    them at word boundaries to the page's width (Typer keeps a docstring's line breaks)."""
    if not text:
        return text
    blocks = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in b.splitlines()) for b in blocks)


def _choices(param) -> list[str]:
    found = getattr(getattr(param, "type_descriptor", None), "choices", None) or []
    return [str(getattr(c, "value", c)) for c in found]


def _no_type(ctx=None):
    return None


def _no_range():
    return None


def plain_help(params: list) -> list:
    """The options and arguments as help shows them: no type column (<bool>, <str>,
    <int range>: noise for a person), and the choices of a choice said in its help, where
    they wrap between words."""
    for param in params:
        if getattr(param, "_plain_help", False):
            continue
        choices = _choices(param)
        if choices:
            said = (getattr(param, "help", None) or "").rstrip()
            param.help = f"{said} One of: {', '.join(choices)}.".strip()
        param.display_type_rich = _no_type
        param._get_number_range_help_str = _no_range
        param._plain_help = True
    return params


def _alembic_error(error: BaseException) -> bool:
    """Whether ``error`` is Alembic's CommandError (an unknown revision given to ``db``)."""
    alembic_exc = sys.modules.get("alembic.util.exc")
    return alembic_exc is not None and isinstance(error, alembic_exc.CommandError)


def refuse_out_of_bounds(ctx) -> None:
    """A usage error (exit code 2) for a value no command accepts, whatever the command:
    an integer neither database can store, a text longer than MAX_TEXT, or a NUL
    character (PostgreSQL refuses it; SQLite would cut the text there)."""
    for param in ctx.command.params:
        values = ctx.params.get(param.name)
        for value in values if isinstance(values, list | tuple) else [values]:
            if isinstance(value, int) and not isinstance(value, bool):
                if not MIN_INTEGER <= value <= MAX_INTEGER:
                    raise typer.BadParameter(
                        f"{value} is not in the range {MIN_INTEGER} to {MAX_INTEGER}",
                        ctx=ctx,
                        param=param,
                    )
            elif isinstance(value, str) and len(value) > MAX_TEXT:
                raise typer.BadParameter(
                    f"{len(value)} characters; at most {MAX_TEXT} are accepted",
                    ctx=ctx,
                    param=param,
                )
            elif isinstance(value, str) and "\x00" in value:
                raise typer.BadParameter("contains a NUL character", ctx=ctx, param=param)


class HandledCommand(TyperCommand):
    """A command that works on the App its context was given (``obj``), whose codes are
    accepted in any case, whose values are within what any command accepts
    (:func:`refuse_out_of_bounds`), and whose expected errors end in a message and an exit
    code."""

    def get_params(self, ctx):
        return plain_help(super().get_params(ctx))

    def invoke(self, ctx):
        out.fit()
        err.fit()
        ctx.params = {name: normalized(name, value) for name, value in ctx.params.items()}
        refuse_out_of_bounds(ctx)
        with working_on(ctx.obj):
            try:
                return super().invoke(ctx)
            except EXPECTED as error:
                fail(describe(error))
            except Exception as error:
                if _validation_error(error) or _alembic_error(error):
                    fail(describe(error))  # a setting, a value a library checked, a revision
                message = outage(error)
                if message is None:
                    raise
                fail(message, OUTAGE_EXIT_CODE)


class HandledGroup(TyperGroup):
    """A group whose help has no type column either, and that lists its commands and
    subgroups in the order they were added (``order``, filled by :class:`CommandGroup`):
    Typer would list every command before every group."""

    order: list[str] = []

    def get_params(self, ctx):
        return plain_help(super().get_params(ctx))

    def list_commands(self, ctx):
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(self.commands, key=lambda name: rank.get(name, len(rank)))


class CommandGroup(typer.Typer):
    """A Typer app whose commands are all :class:`HandledCommand`; shows its help when
    called without a command. Help texts (docstrings included) wrap at word boundaries."""

    def __init__(self, *, help: str, **kwargs) -> None:
        kwargs.setdefault("no_args_is_help", True)
        self.order: list[str] = []
        kwargs.setdefault("cls", type("Group", (HandledGroup,), {"order": self.order}))
        super().__init__(help=paragraphs(help), **kwargs)

    def command(self, name: str | None = None, *, cls=HandledCommand, **kwargs):
        def decorator(fn):
            self.order.append(name or fn.__name__.replace("_", "-"))
            text = paragraphs(kwargs.pop("help", None) or inspect.getdoc(fn))
            return super(CommandGroup, self).command(name, cls=cls, help=text, **kwargs)(fn)

        return decorator

    def add_typer(self, typer_instance, *, name: str | None = None, **kwargs) -> None:
        if name:
            self.order.append(name)
        super().add_typer(typer_instance, name=name, **kwargs)
