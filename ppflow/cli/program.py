"""``ppflow program``: the partnership program, its owners and targets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ppflow.cli.context import current_app, language, out, split_values, styled
from ppflow.cli.errors import CommandGroup, fail
from ppflow.domain.commands import AddProgram, TargetSpec
from ppflow.domain.errors import InvalidInputError
from ppflow.services import organization, queries, words

program_app = CommandGroup(help="The partnership program, its owners and targets.")


def parse_target(text: str) -> TargetSpec:
    """``indicator=value:period``, e.g. ``teams_with_advisors=10:2027``; a value may have a
    decimal comma, and a share a percent sign (``attendance_rate=80 %:2027``)."""
    indicator, _, rest = text.partition("=")
    value, colon, period = rest.partition(":")
    if not colon:
        raise typer.BadParameter(
            f"'{text}': write a target as indicator=value:period, e.g. teams_with_advisors=10:2027"
        )
    try:
        amount = float(words.quantity(value, language()))
    except InvalidInputError as error:
        raise typer.BadParameter(f"'{text}': {error}") from None
    return TargetSpec(indicator.strip(), amount, period.strip())


@program_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. PP-CHUM.")],
    name: Annotated[str, typer.Option(help="Program name.")],
    department: Annotated[str, typer.Option(help="Department that owns the program.")],
    manager: Annotated[
        list[str] | None, typer.Option(help="Responsible manager (staff code).")
    ] = None,
    target: Annotated[list[str] | None, typer.Option(help="indicator=value:period")] = None,
) -> None:
    """Record the program, the department in charge and its responsible managers."""
    targets = tuple(parse_target(t) for t in target or [])
    app = current_app()
    program = organization.add_program(
        app.uow(), AddProgram(code, name, department, split_values(manager), targets), app.clock
    )
    out.print(styled("added program [bold]{code}[/]", code=program.code))


@program_app.command("show")
def show(code: str) -> None:
    """Show a program with its managers and targets."""
    program = queries.get_program(current_app().uow(), code)
    out.print(styled("[bold]{code}[/] {name}", code=program.code, name=program.name))
    out.print(f"owner department: {program.owner_department}")
    out.print(f"responsible managers: {', '.join(program.responsible_managers) or '-'}")
    table = Table("indicator", "target", "period", "version", "set", title="Targets")
    for t in program.targets:
        set_at = t.set_at.date().isoformat() if t.set_at else "-"
        table.add_row(t.indicator, f"{t.target:g}", t.period, str(t.version), set_at)
    out.print(table)


@program_app.command("target")
def target(
    code: Annotated[str, typer.Argument(help="Program code, PP-...")],
    revision: Annotated[
        str, typer.Argument(help="INDICATOR=VALUE[:YEAR], e.g. teams_with_advisors=12:2027")
    ],
) -> None:
    """Set or revise one target of the program's logic model: a new version, dated today.
    Earlier versions are kept; a report judges each period by the version in force then."""
    indicator, sep, rest = revision.partition("=")
    value_text, _, year = rest.partition(":")
    if not sep or not indicator.strip() or not value_text.strip():
        fail(f"'{revision}': write INDICATOR=VALUE[:YEAR], e.g. teams_with_advisors=12:2027")
    try:
        value = float(words.quantity(value_text, language()))
    except InvalidInputError as error:
        fail(
            f"'{revision}': {error}; write INDICATOR=VALUE[:YEAR], e.g. teams_with_advisors=12:2027"
        )
    app = current_app()
    themes = tuple(sorted({t.id for q in app.questionnaires().all() for t in q.themes}))
    saved = organization.revise_target(
        app.uow(), code, indicator, value, year.strip() or None, clock=app.clock, themes=themes
    )
    before = f" (version {saved.version - 1} stays in the history)" if saved.version > 1 else ""
    out.print(
        f"{code}: target for {saved.indicator} is {saved.target:g} for {saved.period}, "
        f"version {saved.version}{before}",
        highlight=False,
    )
