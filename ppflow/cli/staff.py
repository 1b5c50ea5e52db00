"""``ppflow staff``: coordinators, managers and providers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ppflow.cli.context import CorrectionReason, current_app, meta, out, styled
from ppflow.cli.errors import CommandGroup
from ppflow.cli.typed import read_choice
from ppflow.domain.commands import AddStaff, EditStaff
from ppflow.domain.model import StaffRole
from ppflow.services import corrections, organization, queries

staff_app = CommandGroup(help="Coordinators, managers and providers.")
ROLES = ", ".join(StaffRole)
ROLE_HELP = f"Role in the program (its code or its name). One of: {ROLES}."


@staff_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="Work e-mail.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP, callback=read_choice("role"))],
    department: Annotated[str, typer.Option(help="Department.")] = "",
) -> None:
    """Add a coordinator, manager or provider."""
    member = organization.add_staff(current_app().uow(), AddStaff(name, email, role, department))
    out.print(
        styled("added staff member [bold]{code}[/] ({role})", code=member.code, role=member.role)
    )


@staff_app.command("edit")
def edit(
    code: str,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="Work e-mail.")] = None,
    role: Annotated[str | None, typer.Option(help=ROLE_HELP, callback=read_choice("role"))] = None,
    department: Annotated[str | None, typer.Option(help="Department.")] = None,
    reason: CorrectionReason = "",
) -> None:
    """Correct a staff member; the correction is logged with who made it and why."""
    cmd = EditStaff(code, name, email, role or None, department, meta(reason=reason))
    member = corrections.edit_staff(current_app().uow(), cmd, current_app().clock)
    out.print(styled("corrected staff member [bold]{code}[/]", code=member.code))


@staff_app.command("list")
def list_staff(
    role: Annotated[
        str | None,
        typer.Option(
            help=f"Only this role (its code or its name). One of: {ROLES}.",
            callback=read_choice("role"),
        ),
    ] = None,
) -> None:
    """List staff members."""
    members = queries.list_staff(current_app().uow(), role or None)
    table = Table("code", "name", "e-mail", "role", "department", title="Staff")
    for m in members:
        table.add_row(m.code, m.name, m.email, str(m.role), m.department)
    out.print(table)
