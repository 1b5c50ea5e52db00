"""Team meetings and their roll call: who of the team's advisors was there.

A meeting is recorded once per team and day, with every advisor whose engagement on the
team was running that day named present or absent, so that attendance (the evaluation's
criterion, the indicators' rate) counts each advisor-meeting exactly once. Meetings name
advisors by code only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time

from ppflow.domain.commands import RecordMeeting
from ppflow.domain.errors import InvalidInputError
from ppflow.domain.lifecycle import EngagementStage, TeamStage
from ppflow.domain.model import Engagement, Meeting
from ppflow.services.ports import Clock, UnitOfWork

# An engagement in these stages was (or is) running between its start and end dates.
RAN = (
    EngagementStage.ACTIVE,
    EngagementStage.COMPLETED,
    EngagementStage.EVALUATED,
    EngagementStage.ENDED_EARLY,
)


def running_on(engagement: Engagement, day: date) -> bool:
    """Whether the engagement was running on ``day`` (its start and end days included)."""
    if engagement.stage not in RAN:
        return False
    start = engagement.start_date or (engagement.joined_at.date() if engagement.joined_at else None)
    if start is not None and day < start:
        return False
    return engagement.end_date is None or day <= engagement.end_date


def advisors_on(uow: UnitOfWork, team: str, day: date) -> list[str]:
    """The advisors with an engagement on the team running on ``day``, in code order."""
    return sorted({e.advisor for e in uow.engagements.for_team(team) if running_on(e, day)})


def add_meeting(uow: UnitOfWork, cmd: RecordMeeting, now: datetime) -> Meeting:
    """Check and record a meeting in the open unit of work (without committing)."""
    team = uow.teams.get(cmd.team)
    if team.stage != TeamStage.ACTIVE:
        raise InvalidInputError(
            f"team {team.code} is {team.stage}; meetings are recorded for active teams"
        )
    if cmd.held_on > now.date():
        raise InvalidInputError(f"the meeting date {cmd.held_on} is in the future")
    on_team = advisors_on(uow, team.code, cmd.held_on)
    present: tuple[str, ...]
    absent: tuple[str, ...]
    if cmd.present is None and cmd.absent is None:
        present, absent = tuple(on_team), ()
    else:
        present, absent = tuple(cmd.present or ()), tuple(cmd.absent or ())
    both = sorted(set(present) & set(absent))
    if both:
        raise InvalidInputError(f"{', '.join(both)} named both present and absent")
    twice = sorted(code for code, n in Counter(present + absent).items() if n > 1)
    if twice:
        raise InvalidInputError(f"{', '.join(twice)} named twice")
    strangers = sorted(set(present + absent) - set(on_team))
    if strangers:
        raise InvalidInputError(
            f"{', '.join(strangers)} had no engagement on team {team.code} on {cmd.held_on}"
        )
    missing = sorted(set(on_team) - set(present + absent))
    if missing:
        raise InvalidInputError(
            f"the roll call leaves out {', '.join(missing)}: name every advisor of team "
            f"{team.code} with --present or --absent"
        )
    if uow.meetings.on(team.code, cmd.held_on) is not None:
        raise InvalidInputError(f"team {team.code} already has a meeting on {cmd.held_on}")
    meeting = Meeting(
        team.code,
        cmd.held_on,
        tuple(sorted(present)),
        tuple(sorted(absent)),
        cmd.meta.actor,
        now,
        cmd.sets_objectives,
    )
    uow.meetings.add(meeting)
    return meeting


def record_meeting(uow: UnitOfWork, cmd: RecordMeeting, clock: Clock) -> Meeting:
    """Record a team meeting and its roll call. A meeting that sets the objectives also
    sets the team's ``objectives_set_at``, which the tokenism warning ("objectives set
    before the advisor joined") compares with each advisor's joining: the moment of
    recording when the meeting is today's, else the start of its day (UTC)."""
    with uow:
        now = clock.now()
        meeting = add_meeting(uow, cmd, now)
        if cmd.sets_objectives:
            team = uow.teams.get(cmd.team)
            team.objectives_set_at = (
                now
                if cmd.held_on == now.date()
                else datetime.combine(cmd.held_on, time(0), tzinfo=UTC)
            )
            uow.teams.save(team)
        uow.commit()
    return meeting


def attendance(
    uow: UnitOfWork, engagement: Engagement, until: date | None = None
) -> tuple[int, int]:
    """The meetings of the engagement's team between its start and end dates (or
    ``until`` while it runs) whose roll call names its advisor, and how many of them the
    advisor attended."""
    start = engagement.start_date or (engagement.joined_at.date() if engagement.joined_at else None)
    calls = [
        m.attended(engagement.advisor)
        for m in uow.meetings.for_team(engagement.team, start, engagement.end_date or until)
    ]
    named = [c for c in calls if c is not None]
    return len(named), sum(named)
