"""``ppflow program``: the partnership program, its owners and targets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ppflow.cli.context import current_app, out, split_values
from ppflow.cli.errors import CommandGroup
from ppflow.domain.commands import AddProgram, TargetSpec
from ppflow.services import organization, queries

program_app = CommandGroup(help="The partnership program, its owners and targets.")


def parse_target(text: str) -> TargetSpec:
    """``indicator=value:period``, e.g. ``teams_with_advisors=10:2027``."""
    try:
        indicator, rest = text.split("=", 1)
        value, period = rest.split(":", 1)
        return TargetSpec(indicator.strip(), float(value), period.strip())
    except ValueError:
        raise typer.BadParameter(
            f"'{text}': write a target as indicator=value:period, e.g. teams_with_advisors=10:2027"
        ) from None


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
    program = organization.add_program(
        current_app().uow(), AddProgram(code, name, department, split_values(manager), targets)
    )
    out.print(f"added program [bold]{program.code}[/]")


@program_app.command("show")
def show(code: str) -> None:
    """Show a program with its managers and targets."""
    program = queries.get_program(current_app().uow(), code)
    out.print(f"[bold]{program.code}[/] {program.name}")
    out.print(f"owner department: {program.owner_department}")
    out.print(f"responsible managers: {', '.join(program.responsible_managers) or '-'}")
    table = Table("indicator", "target", "period", "version", title="Targets")
    for t in program.targets:
        table.add_row(t.indicator, f"{t.target:g}", t.period, str(t.version))
    out.print(table)
