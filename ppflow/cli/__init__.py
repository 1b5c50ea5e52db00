"""The ``ppflow`` command line: Typer commands over the service layer.

One module per group of commands; this module assembles them into :data:`app`, in the
order ``ppflow --help`` lists them. Every command goes through one error handler
(:mod:`ppflow.cli.errors`) and works on the App of :func:`ppflow.cli.context.current_app`.

A command's module is imported when that command is run (or listed by ``--help``), never
before: ``ppflow report indicators`` starts without the modules of the other commands and
what they import (the referral import, the survey portal, the mail, Prefect).
``tests/integration/test_cli_start_up.py`` holds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from functools import partial

import typer
from typer.core import TyperCommand, TyperGroup

from ppflow.cli.context import current_app, get_app
from ppflow.cli.errors import CommandGroup, HandledGroup

__all__ = ["COMMANDS", "PANELS", "app", "current_app", "get_app", "main"]

# `ppflow --help` lists the commands in panels, daily work first, then the program and its
# people, mail, and last what sets ppflow up and runs it.
DAILY = "Daily work"
PROGRAM = "Program and people"
MAIL = "Mail"
SETUP = "Setting up and running"
PANELS = (DAILY, PROGRAM, MAIL, SETUP)

# Each command, in the order of the help: its module in ppflow.cli, the Typer app (a group
# of commands) or the function (one command) it is there, and its panel.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "advisor": ("advisor", "advisor_app", DAILY),
    "team": ("team", "team_app", DAILY),
    "engagement": ("team", "engagement_app", DAILY),
    "meeting": ("meeting", "meeting_app", DAILY),
    "waiting": ("orchestration", "waiting", DAILY),
    "answer": ("orchestration", "answer_app", DAILY),
    "run": ("orchestration", "run", DAILY),
    "feedback": ("portal", "feedback_app", DAILY),
    "pay": ("compensation", "pay_app", DAILY),
    "report": ("report", "report_app", DAILY),
    "program": ("program", "program_app", PROGRAM),
    "staff": ("staff", "staff_app", PROGRAM),
    "incident": ("incident", "incident_app", PROGRAM),
    "questionnaire": ("portal", "questionnaire_app", PROGRAM),
    "mail": ("mail", "mail_app", MAIL),
    "outbox": ("mail", "outbox_app", MAIL),
    "templates": ("mail", "templates_app", MAIL),
    "serve": ("orchestration", "serve", SETUP),
    "portal": ("portal", "portal", SETUP),
    "mail-sink": ("mail", "mail_sink", SETUP),
    "db": ("db", "db_app", SETUP),
    "check": ("check", "check", SETUP),
    "keygen": ("keys", "keygen", SETUP),
    "demo": ("demo", "demo", SETUP),
    "lifecycle": ("lifecycle", "lifecycle", SETUP),
}


def load(name: str):
    """The Click command ``name`` is, built from its module (imported now)."""
    module_name, attribute, panel = COMMANDS[name]
    found = getattr(importlib.import_module(f"ppflow.cli.{module_name}"), attribute)
    command: TyperGroup | TyperCommand
    if isinstance(found, typer.Typer):
        command = typer.main.get_group(found)
    else:
        holder = CommandGroup(help="")
        holder.command(name)(found)
        made = typer.main.get_group(holder).commands[name]
        assert isinstance(made, TyperCommand), "a Typer app makes its functions TyperCommands"
        command = made
    command.name = name
    command.rich_help_panel = panel
    return command


class LazyCommands(MutableMapping):
    """The root's commands by name, each built by :func:`load` the first time it is looked
    up; listing their names builds none."""

    def __init__(self, built: MutableMapping, lazy: dict[str, Callable]):
        self.built = dict(built)
        self.lazy = lazy

    def __getitem__(self, name: str):
        if name not in self.built:
            if name not in self.lazy:
                raise KeyError(name)
            self.built[name] = self.lazy[name]()
        return self.built[name]

    def __setitem__(self, name: str, command) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        self.lazy.pop(name, None)
        del self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.lazy, *self.built]))

    def __len__(self) -> int:
        return len(set(self.lazy) | set(self.built))


class Root(HandledGroup):
    order = list(COMMANDS)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(self.commands, {n: partial(load, n) for n in COMMANDS})


app = CommandGroup(
    help="ppflow: bring patient advisors into quality-improvement teams.",
    pretty_exceptions_enable=False,
    cls=Root,
)


@app.callback()
def _root() -> None:
    # A callback makes the app a group of commands whatever is registered on it (none is:
    # the Root group finds each in COMMANDS).
    pass


def main() -> None:  # pragma: no cover
    app()
