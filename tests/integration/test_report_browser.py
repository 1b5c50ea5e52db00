"""The report as a person sees it: ``ppflow report html`` writes the page, Debian's
chromium opens it headless, and the DOM it built shows the charts with their titles and
the figures. ``ppflow report indicators`` prints the same figures; a bad period is refused."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ppflow.cli.report import report_app
from ppflow.domain.commands import AddProgram, Meta, TargetSpec
from ppflow.services import feedback, integration, organization, portal
from tests import factories

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
META = Meta("test")


def _cli(app) -> typer.Typer:
    root = typer.Typer(context_settings={"obj": app})  # the App the commands work on
    root.add_typer(report_app, name="report")
    return root


def _program(app) -> None:
    """Two advisors integrated 8 and 12 days after identification, in one team; the
    first answers the questionnaire (communication 4.5)."""
    factories.modules(app, "PP-101")
    organization.add_program(
        app.uow(),
        AddProgram(
            "PP-R", "Program", "Quality", (), (TargetSpec("days_to_integration_median", 9, "2026"),)
        ),
        app.clock,
    )
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    integration.brief_team(app.uow(), team, META, app.clock)
    provider = factories.staff(app)
    first = factories.ready_advisor(app, provider)
    app.clock.moment += timedelta(days=4)
    second = factories.ready_advisor(app, provider)
    app.clock.moment += timedelta(days=8)
    joined = integration.confirm_match(app.uow(), team, first, META, clock=app.clock)
    integration.confirm_match(app.uow(), team, second, META, clock=app.clock)
    feedback.open_feedback(app.uow(), joined.engagement, META, clock=app.clock)
    answers = {"com_information": 5, "com_role": 4}
    portal.record_response(
        app.uow(),
        app.questionnaires(),
        joined.engagement,
        first,
        answers,
        clock=app.clock,
        partial=True,
    )


def test_report_indicators_prints_the_figures_against_targets(sqlite_app):
    _program(sqlite_app)  # the clock starts on 2026-03-02: first quarter
    result = CliRunner().invoke(_cli(sqlite_app), ["report", "indicators", "--period", "2026Q1"])
    assert result.exit_code == 0, result.output
    median = next(line for line in result.output.splitlines() if "(median)" in line)
    assert "10" in median and "9" in median and "not met" in median  # 8 and 12 days
    assert "Advisors at each stage" in result.output


def test_a_bad_period_is_refused_and_nothing_is_written(sqlite_app, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(sqlite_app), ["report", "html", "--period", "2026Q7", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "not a period" in result.output and "2026Q3" in result.output
    assert not out.exists()


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
def test_the_html_report_shows_its_charts_and_figures_in_a_browser(sqlite_app, tmp_path):
    _program(sqlite_app)
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        _cli(sqlite_app), ["report", "html", "--period", "2026-01..2026-03", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = next(out.glob("*.html"))
    assert next(out.glob("*.csv")).read_text(encoding="utf-8-sig").startswith("section,")
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=45,
        check=True,
    ).stdout
    from html.parser import HTMLParser

    class Seen(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.svg_titles, self.rects, self.cells = [], [], 0, []

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)
            self.rects += tag == "rect"

        def handle_endtag(self, tag):
            while self.stack and self.stack.pop() != tag:
                pass

        def handle_data(self, data):
            if self.stack[-2:] == ["svg", "title"]:
                self.svg_titles.append(data.strip())
            if "td" in self.stack and data.strip():
                self.cells.append(data.strip())

    seen = Seen()
    seen.feed(dom)
    assert seen.svg_titles == [
        "Advisors at each stage",
        "Time to integration",
        "Feedback scores against targets",
    ]
    assert seen.rects >= 3  # the funnel's bars (active, and the others) are drawn
    row = seen.cells[seen.cells.index("Days from identification to integration (median)") :][:5]
    assert row[1:3] == ["10", "9"] and row[4] == "not met"
    assert "Advisors integrated" in seen.cells
    assert "Communication and support for participation" in dom  # the feedback chart's bar
    assert "4.5" in seen.cells
