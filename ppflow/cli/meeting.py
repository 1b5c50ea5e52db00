"""``ppflow meeting``: a QI team's meetings and who of its advisors attended them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from ppflow.cli.context import Absent, Present, current_app, meta, out, split_values
from ppflow.cli.errors import CommandGroup
from ppflow.domain.commands import RecordMeeting
from ppflow.domain.errors import InvalidInputError
from ppflow.services import meetings

meeting_app = CommandGroup(help="QI team meetings and their attendance.")


def held_on(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"'{text}' is not a date: write YYYY-MM-DD") from None


@meeting_app.command("add")
def add(
    team: str,
    date_: Annotated[str, typer.Option("--date", help="The day it was held (YYYY-MM-DD).")],
    objectives: Annotated[
        bool, typer.Option("--objectives", help="The meeting set the team's QI objectives.")
    ] = False,
    present: Present = None,
    absent: Absent = None,
) -> None:
    """Record a team meeting and its roll call: every advisor whose engagement on the team
    ran that day, named present or absent. One meeting a day per team."""
    cmd = RecordMeeting(
        team, held_on(date_), split_values(present), split_values(absent), objectives, meta()
    )
    application = current_app()
    meeting = meetings.record_meeting(application.uow(), cmd, application.clock)
    flagged = " (it set the objectives)" if meeting.sets_objectives else ""
    out.print(
        f"meeting of {meeting.team} on {meeting.held_on} recorded{flagged}: "
        f"{len(meeting.present)} present, {len(meeting.absent)} absent",
        highlight=False,
    )
