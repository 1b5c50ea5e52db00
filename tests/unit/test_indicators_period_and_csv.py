"""Periods as managers write them, and the CSV export's guard against formula injection."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ppflow.adapters.report import render_csv, safe_cell
from ppflow.domain.errors import InvalidInputError
from ppflow.services.indicators import Indicators, parse_period, previous_quarter

MONTREAL = ZoneInfo("America/Montreal")


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2026Q3", datetime(2026, 7, 1), datetime(2026, 10, 1)),
        ("2026-q4", datetime(2026, 10, 1), datetime(2027, 1, 1)),
        ("2026", datetime(2026, 1, 1), datetime(2027, 1, 1)),
        ("2026-02", datetime(2026, 2, 1), datetime(2026, 3, 1)),
        ("2026-07..2026-09", datetime(2026, 7, 1), datetime(2026, 10, 1)),
        ("2026-07-15..2026-07-31", datetime(2026, 7, 15), datetime(2026, 8, 1)),
    ],
)
def test_a_period_is_read_as_managers_write_it(text, start, end):
    period = parse_period(text)
    assert (period.start, period.end) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_a_quarter_starts_at_midnight_in_the_programs_time_zone():
    period = parse_period("2026Q3", MONTREAL)
    assert period.start == datetime(2026, 7, 1, 4, 0, tzinfo=UTC)  # EDT is UTC-4
    assert period.end == datetime(2026, 10, 1, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["", "2026Q5", "Q3", "2026-13", "next quarter", "2026-09..2026-07"]
)
def test_a_bad_period_is_refused_with_the_forms_it_takes(text):
    with pytest.raises(InvalidInputError) as error:
        parse_period(text)
    assert "2026Q3" in str(error.value) or "ends before it starts" in str(error.value)


def test_the_schedule_reports_on_the_quarter_that_has_just_ended():
    assert previous_quarter(datetime(2026, 10, 1).date()) == "2026Q3"
    assert previous_quarter(datetime(2026, 1, 1).date()) == "2025Q4"


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_starts_like_a_formula_gets_a_quote(cell):
    assert safe_cell(cell) == "'" + cell


def test_plain_text_and_numbers_are_written_as_they_are():
    assert safe_cell("moved away") == "moved away"
    assert safe_cell(-3) == "-3" and safe_cell(0.5) == "0.5" and safe_cell(None) == ""


def test_the_csv_export_never_starts_a_cell_with_a_formula():
    start, end = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
    result = Indicators(start, end, {"active": 3}, values={"new_referrals": 4}, label="2026Q3")
    result.reasons_for_leaving = [("withdrawn", '=HYPERLINK("http://x","y")', 1)]
    rows = list(csv.reader(io.StringIO(render_csv(result))))
    cells = [cell for row in rows for cell in row]
    assert '\'=HYPERLINK("http://x","y")' in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert ["indicator", "new_referrals", "2026Q3", "4", "", "", "", ""] in rows
    assert ["funnel", "active", "end of period", "3", "", "", "", ""] in rows
