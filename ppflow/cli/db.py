"""``ppflow db``: the database schema (Alembic migrations)."""

from __future__ import annotations

import typer

from ppflow.cli.context import current_app, out, styled
from ppflow.cli.errors import CommandGroup

db_app = CommandGroup(help="Database schema (Alembic migrations).")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the schema up to REVISION."""
    application = current_app()
    application.upgrade(revision)
    out.print(styled("database at revision [bold]{revision}[/]", revision=application.revision()))


@db_app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Migrate the schema down to REVISION ('base' drops every table)."""
    if not revision.strip():
        raise typer.BadParameter("name a revision, or 'base' to drop every table")
    application = current_app()
    application.downgrade(revision)
    out.print(styled("database at revision [bold]{revision}[/]", revision=application.revision()))


@db_app.command("current")
def current() -> None:
    """Show the schema revision and where the database is."""
    application = current_app()
    out.print(f"{application.engine.url.render_as_string(hide_password=True)}")
    out.print(f"revision: {application.revision() or 'empty'}")
