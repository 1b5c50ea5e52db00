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
    assert "no rate tier for 'workshop'" in pay(
        "log",
        engagement,
        "--activity",
        "workshop",
        "--hours",
        "1",
        "--date",
        "2026-05-01",
        ok=False,
    )

    out = pay("log", engagement, "--activity", "meeting", "--hours", "2", "--date", "2026-05-01")
    assert f"logged 2 h on {engagement}: 50.00" in out
    pay("expense", engagement, "--amount", "12.50", "--kind", "parking", "--date", "2026-05-01")
    pay("budget", "PP-X", "--year", "2026", "--amount", "200")
    out = pay("log", engagement, "--activity", "talk", "--hours", "1.5", "--date", "2026-05-02")
    assert "alert: program PP-X has committed 162.50 of its 200.00 budget for 2026-27" in out
    assert "(81%, past the 80% level); 2 coordinator(s) notified" in out

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


def one_line_refusal(output: str) -> str:
    assert "Traceback" not in output
    [line] = [text for text in output.splitlines() if text.strip()]
    return line


def test_the_books_refuse_overlaps_unknown_activities_repeats_and_early_hours(
    any_app, pay, tmp_path
):
    world = World(any_app)
    engagement, _ = world.engagement(rate=None)
    later(any_app, date(2026, 6, 1))
    tier = ("tier", "add", "meeting", "--kind", "hourly", "--amount")
    pay(*tier, "20", "--from", "2026-01-01", "--to", "2026-04-30")
    pay(*tier, "25", "--from", "2026-05-01")

    line = one_line_refusal(pay(*tier, "30", "--from", "2027-01-01", ok=False))
    assert "overlaps tier 'meeting' hourly 25.00 from 2026-05-01 with no end" in line
    line = one_line_refusal(
        pay(*tier, "30", "--from", "2026-04-01", "--to", "2026-04-30", ok=False)
    )
    assert "overlaps tier 'meeting' hourly 20.00 from 2026-01-01 to 2026-04-30" in line

    log = ("log", engagement, "--hours", "2", "--activity")
    line = one_line_refusal(pay(*log, "cooking", "--date", "2026-05-01", ok=False))
    assert "activity 'cooking' is unknown: give one of interview, meeting, preparation" in line
    line = one_line_refusal(pay(*log, "meeting", "--date", "2026-02-01", ok=False))
    assert "before engagement" in line and "nothing can be logged before its start" in line
    pay(*log, "meeting", "--date", "2026-05-01")
    line = one_line_refusal(pay(*log, "meeting", "--date", "2026-05-01", ok=False))
    assert "already has 2 h of 'meeting' on 2026-05-01" in line
    pay(*log, "meeting", "--date", "2026-05-01", "--note", "afternoon")

    path = tmp_path / "hours.csv"
    path.write_text(
        "engagement,date,activity,hours,note\n"
        f"{engagement},2026-05-01,meeting,2,\n"
        f"{engagement},2026-05-01,cooking,1,\n"
        f"{engagement},2026-02-01,meeting,1,\n"
        f"{engagement},2026-05-02,meeting,2,\n"
        f"{engagement},2026-05-02,meeting,1.5,\n"
    )
    out = pay("import", str(path), ok=False)
    assert "3 bad row(s) in hours.csv" in out and "Traceback" not in out
    assert "already has 2 h of 'meeting' on 2026-05-01" in out
    assert "'cooking' is unknown" in out and "nothing can be logged before its start" in out
    assert "imported 2 of 5 row(s)" in pay("import", str(path), "--skip-invalid")
    assert world.summary().payees[0].centihours == 750


def test_the_budget_alerts_at_80_and_again_at_100_percent_and_no_more(any_app, pay):
    world = World(any_app)
    engagement, _ = world.engagement(rate=50.0)
    later(any_app, date(2026, 6, 1))
    pay("budget", "PP-X", "--year", "2026", "--amount", "100")
    log = ("log", engagement, "--activity", "meeting", "--hours")

    assert "past the 80% level" in pay(*log, "1.75", "--date", "2026-05-01")  # 87.50
    assert "alert" not in pay(*log, "0.2", "--date", "2026-05-02")  # 97.50
    out = pay(*log, "0.5", "--date", "2026-05-03")  # 122.50
    assert "(122%, past the 100% level); 2 coordinator(s) notified" in out
    assert "past the 80% level" not in out
    assert "alert" not in pay(*log, "1.4", "--date", "2026-05-04")  # 192.50
    assert len(world.alerts("budget_alert")) == 4
