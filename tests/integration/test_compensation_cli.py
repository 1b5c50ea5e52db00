"""``ppflow pay ...`` as a coordinator uses it, on a real database (SQLite, then
PostgreSQL): tiers, hours, an expense, a decline, a budget, the CSV import and the summary."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from ppflow.cli.compensation import pay_app
from tests.integration.test_compensation import World, later

runner = CliRunner()


@pytest.fixture
def pay(any_app):
    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(pay_app, list(args), obj=any_app)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
        return result.output

    return invoke


def test_a_coordinator_pays_for_hours_and_sees_the_totals(any_app, pay):
    world = World(any_app)
    engagement, advisor = world.engagement(rate=None)
    later(any_app, date(2026, 6, 1))

    assert "meeting: hourly 25.00 from 2026-01-01" in pay(
        "tier", "add", "meeting", "--kind", "hourly", "--amount", "25", "--from", "2026-01-01"
    )
    pay("tier", "add", "talk", "--kind", "flat", "--amount", "100", "--from", "2026-01-01")
    listed = pay("tier", "list")
    assert "meeting" in listed and "talk" in listed and "100.00" in listed
    assert "no rate tier for 'lunch'" in pay(
        "log", engagement, "--activity", "lunch", "--hours", "1", "--date", "2026-05-01", ok=False
    )

    out = pay("log", engagement, "--activity", "meeting", "--hours", "2", "--date", "2026-05-01")
    assert f"logged 2 h on {engagement}: 50.00" in out
    pay("expense", engagement, "--amount", "12.50", "--kind", "parking", "--date", "2026-05-01")
    pay("budget", "PP-X", "--year", "2026", "--amount", "200")
    out = pay("log", engagement, "--activity", "talk", "--hours", "1.5", "--date", "2026-05-02")
    assert "alert: program PP-X has committed 162.50 of its 200.00 budget for 2026-27" in out
    assert "2 coordinator(s) notified" in out

    summary = pay("summary", "--year", "2026")
    assert advisor in summary and "3.5" in summary and "150.00" in summary and "12.50" in summary
    assert "PP-X" in summary and "81%" in summary
    assert "Ada" not in summary  # codes, never names

    assert "1 logged activity now owe nothing" in pay("decline", advisor, "--from", "2026-05-02")
    assert "50.00 (declined)" in pay("summary", "--year", "2026")


def test_the_import_shows_bad_rows_by_line_and_imports_nothing_without_skip(any_app, pay, tmp_path):
    world = World(any_app)
    engagement, _ = world.engagement(rate=30.0)
    later(any_app, date(2026, 6, 1))
    path = tmp_path / "hours.csv"
    path.write_text(
        "engagement,date,activity,hours\n"
        f"{engagement},2026-04-01,meeting,2\n"
        f"{engagement},2026-04-31,meeting,2\n"
        f"{engagement},2026-04-02,meeting,-1\n"
        f"{engagement},2026-04-03,meeting,1\n"
    )
    out = pay("import", str(path), ok=False)
    assert "2 bad row(s) in hours.csv" in out
    assert "not YYYY-MM-DD" in out and "more than 0" in out
    assert "nothing imported" in out and "the 2 good row(s)" in out
    assert world.summary().payees == []

    out = pay("import", str(path), "--skip-invalid")
    assert "imported 2 of 4 row(s)" in out
    assert world.summary().payees[0].owed_cents == 9000
    assert "imported 0 of 4 row(s) (2 already imported before)" in pay(
        "import", str(path), "--skip-invalid"
    )
    (tmp_path / "bad.csv").write_text("engagement,date\n")
    assert "lacks the column(s) activity, hours" in pay(
        "import", str(tmp_path / "bad.csv"), ok=False
    )
