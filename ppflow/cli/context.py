"""What every command works with: the application, who acts, and the two consoles.

Text from people and files is text, never markup: the two consoles (:class:`Page`) print
every string and every table cell as it is, so a name such as ``[/]`` or
``[link=...]...[/link]`` shows literally whatever command prints it. The project's own
styling goes through :func:`styled`, which escapes the values it is given.

Commands call :func:`current_app`. It is the App given to Typer as ``obj`` when there is
one (``CliRunner().invoke(app, args, obj=test_app)``), so a test hands a command its own
database without patching anything; otherwise it is :func:`get_app`, built once per
process from settings. Every command runs inside :func:`working_on` with its context's
``obj`` (see :class:`ppflow.cli.errors.HandledCommand`).
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from string import Formatter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from ppflow.bootstrap import App
    from ppflow.domain.commands import Meta

PIPED_WIDTH = 160  # piped output (files, CI logs) gets a wide page instead of Rich's 80


class Page(Console):
    """A console that takes the page's width when a command starts (:meth:`fit`), prints
    an empty table as one line, its title and "none" (:func:`section`), and never reads
    markup or emoji codes in a string: people's text is printed literally, in messages,
    table cells and titles alike, and no caller can turn that off. Styling comes in
    :class:`~rich.text.Text` objects (:func:`styled`), or as one of :data:`BADGES` at the
    start of a message."""

    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, emoji=False, **kwargs)

    def fit(self) -> None:
        """``COLUMNS`` when set, else the terminal's width, else PIPED_WIDTH."""
        columns = os.environ.get("COLUMNS", "")
        stream = sys.stderr if self.stderr else sys.stdout
        if columns.isdigit() and int(columns) > 0:
            self.width = int(columns)
        else:
            self._width = None if stream.isatty() else PIPED_WIDTH

    def print(self, *objects, **kwargs) -> None:
        kwargs.update(markup=False, emoji=False)
        super().print(*(section(badged(o)) for o in objects), **kwargs)


# The status words a message may begin with, in the project's markup, and their style.
# Only the word itself is styled; everything after it prints as it is.
BADGES = {
    "[green]ok[/]": ("ok", "green"),
    "[yellow]warn[/]": ("warn", "yellow"),
    "[bold red]failed[/]": ("failed", "bold red"),
    "[bold red]refused[/]": ("refused", "bold red"),
    "[bold red]error:[/]": ("error:", "bold red"),
}


def badged(shown):
    """A string that starts with one of :data:`BADGES` as that word, styled, then the rest
    as plain text; anything else as it is."""
    if isinstance(shown, str):
        for markup, (word, style) in BADGES.items():
            if shown.startswith(markup):
                return Text.assemble((word, style), shown[len(markup) :])
    return shown


def styled(template: str, **values: object) -> Text:
    """``template`` in Rich's markup, with each ``{name}`` (or ``{name:spec}``) replaced by
    ``values[name]`` as literal text, in the style the markup around it gives:
    ``styled("added [bold]{code}[/]", code=code)``. A value is never read as markup or as
    an emoji code, whatever it holds (brackets, backslashes, colons)."""
    filled: list[str] = []
    marked = []
    for literal, name, spec, conversion in Formatter().parse(template):
        marked.append(literal)
        if name is not None:
            value = values[name]
            value = repr(value) if conversion == "r" else value
            marked.append(f"{_HOLE}{len(filled)}{_HOLE}")
            filled.append(format(value, spec or ""))
    text = Text.from_markup("".join(marked), emoji=False)
    shown = Text()
    start = 0
    for hole in re.finditer(f"{_HOLE}(\\d+){_HOLE}", text.plain):
        shown.append_text(text[start : hole.start()])
        around = text[hole.start() : hole.end()]
        value = Text(filled[int(hole.group(1))], style=around.style)
        for span in around.spans:
            value.stylize(span.style)
        shown.append_text(value)
        start = hole.end()
    shown.append_text(text[start:])
    return shown


_HOLE = "\ue000"  # marks where a value goes while the template's markup is read

out = Page()
err = Page(stderr=True)


@cache
def get_app() -> App:
    """The application built from settings, once per process."""
    from ppflow.bootstrap import bootstrap

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


def language() -> str:
    """The CLI's language: ``PPFLOW_LANGUAGE``, else the locale's, else the organization's."""
    return current_app().settings.interface_language()


def _text(key: str, lang: str, **values: object) -> str:
    """A text of the organization's catalogues (PPFLOW_TEMPLATES_DIR), else of the shipped
    ones: a copy of the templates made before a text existed still gets it."""
    from ppflow.services.wording import WordingError, shipped_wording

    own = shipped_wording(current_app().settings.templates_dir)
    if own.has(key, lang):
        return own.text(key, lang, **values)
    try:
        return shipped_wording().text(key, lang, **values)
    except WordingError:
        return shipped_wording().text(key, "en", **values)  # a language ppflow lacks


def say(key: str, **values: object) -> str:
    """A text of the CLI's catalogue (``wording/cli.yaml``, translated), in the CLI's language,
    set in its typography before the values go in (a code or an address keeps its colons)."""
    from ppflow.services.wording import typeset

    lang = language()
    return typeset(_text(f"cli.{key}", lang), lang).format(**values)


def stage_label(kind: str, stage: str | None) -> str:
    """A stage as people read it, in the CLI's language ("-" for none)."""
    return _text(f"stages.{kind}.{stage}", language()) if stage else "-"


SHORT = 16  # a cell of one word up to this long (a code, a stage, a date) is never broken


def fitted(table):
    """A table that fits the page without losing a character: a column whose cells are all
    short single words (codes, stages, numbers, dates) is kept on one line, and any other
    column wraps at word boundaries and folds a word too long for it, instead of cutting it
    with "…" (Rich's default). Columns given their own overflow keep it."""
    for column in table.columns:
        if column.no_wrap or column.overflow != "ellipsis":
            continue
        cells = [str(c) for c in column._cells]
        if all(len(c) <= SHORT and not any(ch.isspace() for ch in c) for c in cells):
            column.no_wrap = True
        else:
            column.overflow = "fold"
    return table


def section(shown):
    """What prints for ``shown``: an empty table becomes one line, ``<title>: none``, so an
    empty section never shows as headers over nothing; a table is :func:`fitted` to the
    page. Anything else prints as it is."""
    from rich.table import Table

    if not isinstance(shown, Table):
        return shown
    if shown.row_count:
        return fitted(shown)
    title = shown.title.plain if isinstance(shown.title, Text) else shown.title
    none = say("none")
    return Text(say("empty", title=title, none=none) if title else none)


# Codes are accepted in any case: the value of a parameter named here, when every
# comma-separated part of it is shaped like a code (PA-7k3m9q, pp-chum), is upper-cased
# before the command runs (ppflow.cli.errors.HandledCommand). A parameter that takes either
# a code or something else (an e-mail, a file) is left alone unless the value is a code.
CODE_PARAMETERS = frozenset(
    {
        "code",
        "advisor",
        "team",
        "engagement",
        "program",
        "lead",
        "manager",
        "referred_by",
        "respondent",
        "present",
        "absent",
    }
)
_CODE_SHAPE = re.compile(r"^[A-Za-z]{2}-[A-Za-z0-9]+$")


def normalized(name: str, value):
    """``value`` with its codes upper-cased when ``name`` is a code parameter."""
    if name not in CODE_PARAMETERS or value is None:
        return value
    if isinstance(value, list | tuple):
        return type(value)(normalized(name, v) for v in value)
    if not isinstance(value, str):
        return value
    parts = [part.strip() for part in value.split(",")]
    if all(_CODE_SHAPE.match(part) for part in parts if part) and any(parts):
        return value.upper()
    return value


def actor() -> str:
    """Who is acting: ``PPFLOW_ACTOR`` when set, else ``cli:<login>``."""
    return current_app().settings.actor or f"cli:{getpass.getuser()}"


def meta(request_id: str | None = None, reason: str | None = None) -> Meta:
    """The Meta of a command given from the CLI."""
    from ppflow.domain.commands import Meta

    return Meta(actor=actor(), request_id=request_id, reason=reason)


def split_values(values: list[str] | None) -> tuple[str, ...]:
    """Repeated options, each of which may hold a comma-separated list: ``--tag a,b --tag c``."""
    found: list[str] = []
    for value in values or []:
        found += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(found)


def piped() -> bool:
    """Whether the standard output goes to a file or another program rather than a
    terminal: lists then print plain rows (:func:`write_rows`) instead of a table."""
    return not sys.stdout.isatty()


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_CONTROL = re.compile(r"[\\\x00-\x1f\x7f-\x9f]")


def cell(value: object) -> str:
    r"""``value`` as one field of a plain row: a backslash, tab, newline or carriage return
    is written \\, \t, \n or \r, and any other control character \xNN, so that a row is
    one line and its fields are split at its tabs, whatever people typed."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), str(value))


def write_rows(rows) -> None:
    """Plain rows on the standard output, one a line, their fields separated by tabs
    (:func:`cell`), for ``cut``, ``sort``, ``awk`` or a spreadsheet: no table to draw, so
    twenty thousand rows print at once. A reader that stops early (``| head``) ends the
    command quietly."""
    try:
        sys.stdout.write("".join("\t".join(map(cell, row)) + "\n" for row in rows))
        sys.stdout.flush()
    except BrokenPipeError:
        # the rest is not wanted; Python's own flush at exit must not fail on it either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
