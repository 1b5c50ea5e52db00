"""``ppflow meeting``: a QI team's meetings and who of its advisors attended them."""

from __future__ import annotations

from typing import Annotated

import typer

from ppflow.cli.context import Absent, Present, current_app, meta, out, split_values
from ppflow.cli.errors import CommandGroup
from ppflow.cli.typed import day_given, read_day
from ppflow.domain.commands import RecordMeeting
from ppflow.services import meetings

meeting_app = CommandGroup(help="QI team meetings and their attendance.")


@meeting_app.command("add")
def add(
    team: str,
    date_: Annotated[
        str,  # read as a date (read_day)
        typer.Option(
            "--date",
            help="The day it was held: 2026-12-05 or 5 December 2026.",
            callback=read_day,
        ),
    ],
    objectives: Annotated[
        bool, typer.Option("--objectives", help="The meeting set the team's QI objectives.")
    ] = False,
    present: Present = None,
    absent: Absent = None,
) -> None:
    """Record a team meeting and its roll call: every advisor whose engagement on the team
    ran that day, named present or absent. One meeting a day per team."""
    cmd = RecordMeeting(
        team, day_given(date_), split_values(present), split_values(absent), objectives, meta()
    )
    application = current_app()
    meeting = meetings.record_meeting(application.uow(), cmd, application.clock)
    flagged = " (it set the objectives)" if meeting.sets_objectives else ""
    out.print(
        f"meeting of {meeting.team} on {meeting.held_on} recorded{flagged}: "
        f"{len(meeting.present)} present, {len(meeting.absent)} absent",
        highlight=False,
    )
