"""The program report, assembled by one use case for ``ppflow report`` and the
evaluate-program flow, on fake query answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ppflow.domain.errors import InvalidInputError
from ppflow.services.ports import FixedClock
from ppflow.services.reports import assemble_report
from tests.unit.test_use_cases_indicators_and_imports import MONTREAL, FakeIndicatorQueries

# 22:00 on 31 March in Montréal, already 1 April in UTC
NIGHT_OF_MARCH_31 = FixedClock(datetime(2026, 4, 1, 2, 0, tzinfo=UTC))


def test_without_a_period_the_report_is_the_quarter_just_ended_where_the_program_is():
    report = assemble_report(FakeIndicatorQueries(), None, MONTREAL, clock=NIGHT_OF_MARCH_31)

    assert report.label == "2025Q4"  # in Montréal the first quarter has not ended yet
    assert report.start == datetime(2025, 10, 1, tzinfo=MONTREAL)
    assert report.end == datetime(2026, 1, 1, tzinfo=MONTREAL)
    assert report.funnel == {"active": 4, "ready": 2}
    assert report.trend  # the HTML report's trends come with it


def test_a_period_given_is_read_as_managers_write_it_and_the_trends_can_be_left_out():
    report = assemble_report(
        FakeIndicatorQueries(), "2026Q1", MONTREAL, clock=NIGHT_OF_MARCH_31, with_trend=False
    )

    assert report.label == "2026Q1"
    assert report.start == datetime(2026, 1, 1, tzinfo=MONTREAL)
    assert report.trend == []
    assert report.comparisons()  # the indicators against the program's targets


def test_a_period_that_cannot_be_read_says_how_to_write_one():
    with pytest.raises(InvalidInputError, match="'2026Q5' is not a period"):
        assemble_report(FakeIndicatorQueries(), "2026Q5", MONTREAL, clock=NIGHT_OF_MARCH_31)
    with pytest.raises(InvalidInputError, match="is not a period"):
        assemble_report(FakeIndicatorQueries(), "", MONTREAL, clock=NIGHT_OF_MARCH_31)
