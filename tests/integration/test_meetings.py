"""Team meetings from the command line, on SQLite and PostgreSQL: the roll call and its
refusals, the objectives meeting, attendance in the evaluation and in the indicators."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ppflow.adapters.orm import (
    EvaluationRow,
    MeetingAttendanceRow,
    MeetingRow,
    TeamRow,
)
from ppflow.cli import app as ppflow_cli
from ppflow.domain.commands import Meta
from ppflow.services import feedback, indicators, integration
from tests import factories

runner = CliRunner()
META = Meta("t")


@pytest.fixture
def ppflow(any_app):
    any_app.settings.actor = "camille"

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(ppflow_cli, list(args), obj=any_app)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


@pytest.fixture
def team(any_app):
    """An active team with two advisors, engaged on 2026-03-02 (the test clock's day)."""
    factories.modules(any_app, "PP-101")
    code = factories.team(any_app, factories.staff(any_app, role="front_line_manager"), seats=3)
    integration.brief_team(any_app.uow(), code, META, any_app.clock)
    referrer = factories.staff(any_app)
    advisors = []
    for _ in range(2):
        advisor = factories.ready_advisor(any_app, referrer)
        integration.confirm_match(any_app.uow(), code, advisor, META, clock=any_app.clock)
        advisors.append(advisor)
    return code, *advisors


def later(app, day: date) -> None:
    app.clock.moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)


def roll_calls(app) -> list[tuple]:
    with app.session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    MeetingRow.held_on,
                    MeetingRow.sets_objectives,
                    MeetingRow.actor,
                    MeetingAttendanceRow.present,
                )
                .join(MeetingAttendanceRow, MeetingAttendanceRow.meeting_id == MeetingRow.id)
                .order_by(MeetingRow.held_on, MeetingAttendanceRow.present)
            )
        ]


def test_a_meeting_is_recorded_with_who_attended(any_app, ppflow, team):
    code, one, two = team
    later(any_app, date(2026, 3, 9))

    out = ppflow("meeting", "add", code, "--date", "2026-03-09", "--present", one, "--absent", two)

    assert "2 present" not in out and "1 present, 1 absent" in out
    assert roll_calls(any_app) == [
        (date(2026, 3, 9), False, "camille", False),
        (date(2026, 3, 9), False, "camille", True),
    ]
    with any_app.uow() as uow:
        meeting = uow.meetings.on(code, date(2026, 3, 9))
    assert (meeting.present, meeting.absent) == ((one,), (two,))


def one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--date", "2026-03-03", "--present", "{one}", "--present", "{two}"], "in the future"),
        (["--date", "2026-03-02", "--present", "{one},{two}", "--absent", "{one}"], "both"),
        (["--date", "2026-03-02", "--present", "{one}", "--present", "{two},{one}"], "twice"),
        (["--date", "2026-03-02", "--present", "{one}"], "the roll call leaves out {two}"),
        (["--date", "2026-03-01", "--present", "{one}"], "{one} had no engagement on team"),
        (["--date", "2026-03-02", "--present", "{one},{two},PA-ZZZZZZ"], "PA-ZZZZZZ had no"),
    ],
)
def test_a_wrong_meeting_is_refused_in_one_line(any_app, ppflow, team, args, message):
    code, one, two = team
    args = [a.format(one=one, two=two) for a in args]

    out = ppflow("meeting", "add", code, *args, code=1)

    assert message.format(one=one, two=two) in one_line_error(out)
    assert roll_calls(any_app) == []


@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "day/month or month/day"), ("fr", "jour/mois ou mois/jour")],
)
def test_a_date_whose_day_and_month_could_swap_is_refused_saying_why(
    any_app, ppflow, team, language, says
):
    code, one, two = team
    any_app.settings.language = language
    out = ppflow("meeting", "add", code, "--date", "02/03/2026", "--present", one, code=2)
    assert says in " ".join(out.replace("│", " ").split())  # the box Click draws
    assert roll_calls(any_app) == []


@pytest.mark.parametrize("written", ["2 mars 2026", "2 MARS 2026", "March 2, 2026"])
def test_a_meeting_date_may_be_written_in_words(any_app, ppflow, team, written):
    code, one, two = team
    any_app.settings.language = "fr"
    ppflow("meeting", "add", code, "--date", written, "--present", f"{one},{two}")
    assert {row[0] for row in roll_calls(any_app)} == {date(2026, 3, 2)}


def test_one_meeting_a_day_on_an_active_team_that_exists(any_app, ppflow, team):
    code, one, two = team
    ppflow("meeting", "add", code.lower(), "--date", "2026-03-02", "--present", f"{one},{two}")
    again = ppflow(
        "meeting", "add", code, "--date", "2026-03-02", "--absent", f"{one},{two}", code=1
    )
    assert f"team {code} already has a meeting on 2026-03-02" in one_line_error(again)
    missing = ppflow("meeting", "add", "QT-ZZZZZZ", "--date", "2026-03-02", code=1)
    assert "no QI team 'QT-ZZZZZZ'" in one_line_error(missing)
    forming = factories.team(any_app, factories.staff(any_app, role="front_line_manager"))
    refused = ppflow("meeting", "add", forming, "--date", "2026-03-02", code=1)
    assert "is forming; meetings are recorded for active teams" in one_line_error(refused)
    assert len(roll_calls(any_app)) == 2


def test_the_database_itself_keeps_one_meeting_a_day_per_team(any_app, team):
    from sqlalchemy.exc import IntegrityError

    from ppflow.domain.model import Meeting

    code, one, two = team
    with any_app.uow() as uow:
        uow.meetings.add(Meeting(code, date(2026, 3, 2), (one, two), (), "t", any_app.clock.now()))
        with pytest.raises(IntegrityError):
            uow.meetings.add(Meeting(code, date(2026, 3, 2), (), (one,), "t", any_app.clock.now()))


def test_team_objectives_is_a_meeting_that_sets_the_objectives(any_app, ppflow, team):
    code, one, two = team
    later(any_app, date(2026, 3, 5))

    out = ppflow("team", "objectives", code, "--present", one, "--absent", two)

    assert f"advisors present: {one}" in out
    assert roll_calls(any_app) == [
        (date(2026, 3, 5), True, "camille", False),
        (date(2026, 3, 5), True, "camille", True),
    ]
    with any_app.session_factory() as session:
        set_at = session.scalar(select(TeamRow.objectives_set_at).where(TeamRow.code == code))
    assert set_at == any_app.clock.moment
    # the tokenism warning still sees objectives set before a later advisor joined
    later(any_app, date(2026, 3, 6))
    late = factories.ready_advisor(any_app, factories.staff(any_app))
    joined = integration.confirm_match(any_app.uow(), code, late, META, clock=any_app.clock)
    assert any("set its objectives before this advisor joined" in w for w in joined.warnings)


def test_meeting_add_with_objectives_flags_the_meeting(any_app, ppflow, team):
    code, one, two = team
    later(any_app, date(2026, 3, 4))
    out = ppflow(
        "meeting", "add", code, "--date", "2026-03-03", "--objectives", "--present", f"{one},{two}"
    )
    assert "(it set the objectives)" in out
    with any_app.session_factory() as session:
        set_at = session.scalar(select(TeamRow.objectives_set_at).where(TeamRow.code == code))
    assert set_at == datetime(2026, 3, 3, tzinfo=UTC)


def test_the_evaluation_and_the_indicators_count_attendance(any_app, ppflow, team):
    code, one, two = team
    ppflow(
        "program",
        "add",
        "PP-A",
        "--name",
        "n",
        "--department",
        "d",
        "--target",
        "attendance_rate=0.8:2026",
    )
    for day, absent in [("2026-03-02", two), ("2026-03-09", None), ("2026-03-16", two)]:
        later(any_app, date.fromisoformat(day))
        present = ",".join(a for a in (one, two) if a != absent)
        ppflow(
            "meeting",
            "add",
            code,
            "--date",
            day,
            "--present",
            present,
            *(["--absent", absent] if absent else []),
        )
    [engagement] = [e for e in integration_engagements(any_app, code) if e.advisor == two]
    later(any_app, date(2026, 3, 20))
    integration.end_engagement(any_app.uow(), engagement.code, META, clock=any_app.clock)

    feedback.evaluate_engagement(any_app.uow(), engagement.code, META, clock=any_app.clock)

    with any_app.session_factory() as session:
        criteria = session.scalar(select(EvaluationRow.criteria))
    [attendance] = [c for c in criteria if c["name"] == "attendance"]
    assert (attendance["score"], attendance["explanation"]) == (0.33, "attended 1 of 3 meetings")

    period = indicators.parse_period("2026Q1")
    result = indicators.compute_indicators(any_app.indicators(), period.start, period.end)
    rows = {c.indicator: c for c in result.comparisons()}
    assert result.values["advisor_meetings"] == 6
    assert (rows["attendance_rate"].value, rows["attendance_rate"].met) == (0.667, False)
    assert rows[f"attendance_rate_{code}"].target == 0.8
    april = indicators.parse_period("2026Q2")
    empty = indicators.compute_indicators(any_app.indicators(), april.start, april.end)
    assert empty.values["attendance_rate"] is None


def integration_engagements(app, team):
    with app.uow() as uow:
        return uow.engagements.for_team(team)
