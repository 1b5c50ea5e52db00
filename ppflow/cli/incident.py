"""``ppflow incident``: the register of confidentiality incidents (kept 5 years)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ppflow.cli.context import actor, current_app, out
from ppflow.cli.errors import CommandGroup
from ppflow.cli.typed import day_given, read_day

incident_app = CommandGroup(help="The register of confidentiality incidents (kept 5 years).")


@incident_app.command("add")
def add(
    occurred: Annotated[
        str, typer.Option(help="Date, e.g. 2026-12-05 or 5 December 2026.", callback=read_day)
    ],
    circumstances: Annotated[str, typer.Option(help="What happened.")],
    data: Annotated[str, typer.Option(help="What personal data was concerned.")],
    people: Annotated[int, typer.Option(help="How many people are affected.")],
    severity: Annotated[str, typer.Option(help="low, moderate or serious.")],
    measures: Annotated[str, typer.Option(help="Measures taken.")],
) -> None:
    """Record a confidentiality incident."""
    from ppflow.services.privacy import RecordIncident, record_incident

    occurred_on = occurred  # a date: read_day read it
    application = current_app()
    number = record_incident(
        application.uow(),
        RecordIncident(
            day_given(occurred_on), circumstances, data, people, severity, measures, actor()
        ),
        application.clock,
    )
    out.print(f"recorded incident {number}")


@incident_app.command("list")
def list_incidents() -> None:
    """The register of confidentiality incidents."""
    from ppflow.services.privacy import list_incidents as registered

    table = Table(
        "#",
        "occurred",
        "severity",
        "people",
        "data concerned",
        "circumstances",
        "measures",
        "recorded by",
        "kept until",
        title="Confidentiality incidents",
    )
    for i in registered(current_app().uow()):
        table.add_row(
            str(i["id"]),
            i["occurred_on"],
            i["severity"],
            str(i["people_affected"]),
            i["data_concerned"],
            i["circumstances"],
            i["measures"],
            i["recorded_by"],
            i["keep_until"],
        )
    out.print(table)
