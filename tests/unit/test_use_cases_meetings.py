"""Team meetings on the in-memory unit of work: the roll call is checked, the objectives
meeting keeps the tokenism warning, the evaluation scores attendance, and the indicators
put the attendance rate beside its target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from ppflow.domain.commands import AddTeam, Meta, RecordMeeting
from ppflow.domain.errors import InvalidInputError
from ppflow.domain.model import Engagement
from ppflow.services import feedback, indicators, integration, meetings, ports
from ppflow.services.organization import add_team
from tests.unit.fakes import START, advisor_at, organization
from tests.unit.test_use_cases_indicators_and_imports import Q1, FakeIndicatorQueries

META = Meta(actor="camille")
TODAY = START.date()


@pytest.fixture
def o():
    return organization(seats=3)


def meeting(o, day: date, present=(), absent=(), objectives=False):
    cmd = RecordMeeting(o.team, day, tuple(present), tuple(absent), objectives, META)
    return meetings.record_meeting(o.uow, cmd, o.clock)


def test_a_meeting_is_recorded_with_its_roll_call(o):
    one, two = advisor_at(o, "active"), advisor_at(o, "active")
    o.later(days=7)

    recorded = meeting(o, TODAY + timedelta(days=7), present=[two], absent=[one])

    stored = o.uow.meetings.on(o.team, TODAY + timedelta(days=7))
    assert stored == recorded
    assert (stored.present, stored.absent, stored.actor) == ((two,), (one,), "camille")
    assert not stored.sets_objectives
    assert o.uow.teams.get(o.team).objectives_set_at is None  # an ordinary meeting


@pytest.mark.parametrize(
    "roll_call, message",
    [
        (lambda a, b: ([a, b], [a]), "named both present and absent"),
        (lambda a, b: ([a, a, b], []), "named twice"),
        (lambda a, b: ([a], []), "the roll call leaves out"),
        (lambda a, b: ([a, b, "PA-ZZZZZZ"], []), "PA-ZZZZZZ had no engagement on team"),
    ],
)
def test_a_roll_call_that_does_not_name_each_advisor_once_is_refused(o, roll_call, message):
    one, two = advisor_at(o, "active"), advisor_at(o, "active")
    present, absent = roll_call(one, two)

    with pytest.raises(InvalidInputError, match=message):
        meeting(o, TODAY, present, absent)
    assert o.uow.tables.meetings == []


def test_an_advisor_not_yet_engaged_that_day_cannot_be_named(o):
    o.later(days=10)
    code = advisor_at(o, "active")  # the engagement starts ten days after START

    with pytest.raises(InvalidInputError, match=f"{code} had no engagement on team .* on "):
        meeting(o, TODAY, present=[code])
    meeting(o, TODAY)  # no advisor ran on the team that day: an empty roll call is complete


def test_an_engagement_that_never_ran_does_not_put_its_advisor_on_the_roll_call(o):
    code = advisor_at(o, "ready")
    integration.brief_team(o.uow, o.team, META, o.clock)
    with o.uow:
        o.uow.engagements.add(Engagement("EN-CANCEL", code, o.team, "cancelled", start_date=TODAY))
        o.uow.commit()

    with pytest.raises(InvalidInputError, match=f"{code} had no engagement on team"):
        meeting(o, TODAY, present=[code])
    assert meeting(o, TODAY).present == ()


def test_a_meeting_in_the_future_on_an_inactive_team_or_twice_a_day_is_refused(o):
    code = advisor_at(o, "active")
    with pytest.raises(InvalidInputError, match="is in the future"):
        meeting(o, TODAY + timedelta(days=1), present=[code])
    forming = add_team(o.uow, AddTeam("Gériatrie", program=o.program, lead=o.lead), o.clock)
    with pytest.raises(InvalidInputError, match="is forming; meetings are recorded for active"):
        meetings.record_meeting(
            o.uow, RecordMeeting(forming.code, TODAY, (), (), meta=META), o.clock
        )
    meeting(o, TODAY, present=[code])
    with pytest.raises(InvalidInputError, match="already has a meeting on 2026-03-02"):
        meeting(o, TODAY, absent=[code])
    assert len(o.uow.tables.meetings) == 1


def test_the_objectives_meeting_is_a_flagged_meeting_and_keeps_the_tokenism_warning(o):
    first = advisor_at(o, "active")
    o.later(days=3)

    present = integration.record_objectives(o.uow, o.team, META, o.clock)

    assert present == [first]
    [flagged] = o.uow.tables.meetings
    assert flagged.sets_objectives and flagged.present == (first,)
    assert o.uow.teams.get(o.team).objectives_set_at == o.clock.moment
    o.later(days=3)
    late = advisor_at(o, "ready")
    joined = integration.confirm_match(o.uow, o.team, late, META, clock=o.clock)
    assert any("set its objectives before this advisor joined" in w for w in joined.warnings)


def test_a_past_objectives_meeting_sets_the_objectives_on_its_day(o):
    code = advisor_at(o, "active")
    o.later(days=5)

    meeting(o, TODAY + timedelta(days=2), present=[code], objectives=True)

    assert o.uow.teams.get(o.team).objectives_set_at == datetime(2026, 3, 4, tzinfo=UTC)


def test_the_evaluation_scores_the_meetings_held_while_the_engagement_ran(o):
    code = advisor_at(o, "active")
    other = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(code)
    for days, here in [(0, True), (7, False), (14, True)]:
        o.clock.moment = START + timedelta(days=days)
        meeting(
            o,
            TODAY + timedelta(days=days),
            present=[other] + [code] * here,
            absent=[code] * (not here),
        )
    o.later(days=1)
    integration.end_engagement(o.uow, engagement.code, META, clock=o.clock)
    o.later(days=7)
    meeting(o, o.clock.moment.date(), present=[other])  # after the engagement ended

    report = feedback.evaluate_engagement(o.uow, engagement.code, META, clock=o.clock)

    [attendance] = [c for c in report.criteria if c["name"] == "attendance"]
    assert attendance == {
        "name": "attendance",
        "score": 0.67,
        "explanation": "attended 2 of 3 meetings",
    }


@dataclass
class WithAttendance(FakeIndicatorQueries):
    def attendance(self, start, end):
        self.asked = (start, end)
        return [ports.Attendance("QT-B", 4, 1), ports.Attendance("QT-A", 6, 5)]

    def target_versions(self):
        return [ports.TargetVersion("attendance_rate", 0.7, "2026", 1, Q1[0])]


def test_the_attendance_rate_is_counted_per_team_and_overall_against_its_target():
    queries = WithAttendance()

    result = indicators.compute_indicators(queries, *Q1, label="2026Q1")

    assert queries.asked == (date(2026, 1, 1), date(2026, 4, 1))
    rows = {c.indicator: c for c in result.comparisons()}
    assert (rows["attendance_rate"].value, rows["attendance_rate"].met) == (0.6, False)
    assert result.values["advisor_meetings"] == 10
    assert (rows["attendance_rate_QT-A"].value, rows["attendance_rate_QT-A"].met) == (0.833, True)
    assert (rows["attendance_rate_QT-B"].value, rows["attendance_rate_QT-B"].target) == (0.25, 0.7)
    assert indicators.label("attendance_rate_QT-A") == "Attendance at meetings: team QT-A"
    assert "attendance_rate" in indicators.LABELS


def test_a_period_in_local_time_reads_the_meetings_of_its_own_days():
    from zoneinfo import ZoneInfo

    queries = WithAttendance()
    for zone in ("America/Montreal", "Europe/Paris", "Asia/Tokyo"):
        period = indicators.parse_period("2026Q1", ZoneInfo(zone))
        indicators.compute_indicators(queries, period.start, period.end)
        assert queries.asked == (date(2026, 1, 1), date(2026, 4, 1)), zone
    no_meetings = indicators.compute_indicators(FakeIndicatorQueries(), *Q1)
    assert no_meetings.values["attendance_rate"] is None
