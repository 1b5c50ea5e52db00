"""The report as a person sees it: ``ppflow report html --lang fr|en`` writes the page,
Debian's chromium opens it headless at a phone's width and a desktop's, and the DOM it
built shows every chart with its axes, ticks and units, the figures in the page's
language, and no horizontal scroll. ``ppflow report indicators`` prints the same figures;
a bad period or language is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
import typer
from typer.testing import CliRunner

from ppflow.cli.report import report_app
from ppflow.domain.commands import AddProgram, Meta, TargetSpec
from ppflow.services import feedback, integration, organization, portal
from tests import factories
from tests.browser import DESKTOP, PHONE, horizontal_overflow, needs_chromium, screenshot

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


def test_a_language_the_report_is_not_written_in_is_refused(sqlite_app, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(sqlite_app),
        ["report", "html", "--period", "2026Q1", "--lang", "de", "--out", str(out)],
    )
    assert result.exit_code == 1
    assert "fr or en" in result.output and not out.exists()


def test_the_report_speaks_the_programs_language_by_default(sqlite_app, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(sqlite_app), ["report", "html", "--period", "2026Q1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "Indicateurs du programme" in page


# What the browser reads off each chart: its axes, their ticks and titles.
CHARTS_IN_THE_DOM = """
() => [...document.querySelectorAll("svg.chart-svg")].map(svg => {
  const axis = name => {
    const g = svg.querySelector(`g.${name}-axis`);
    if (!g) return null;
    return {
      line: !!g.querySelector("line.axis-line"),
      ticks: [...g.querySelectorAll("text.tick")].map(t => t.textContent.trim()),
      title: (g.querySelector("text.axis-title") || {textContent: ""}).textContent.trim(),
    };
  };
  const box = svg.getBoundingClientRect();
  return {
    id: svg.id,
    title: svg.querySelector("title").textContent,
    x: axis("x"),
    y: axis("y"),
    marks: svg.querySelectorAll("rect.bar, .series.value circle").length,
    targets: [...svg.querySelectorAll("line.target, .series.target polyline")].filter(
      mark => mark.tagName === "line"
        ? mark.getBBox().height > 0
        : new Set(mark.getAttribute("points").split(" ").map(p => p.split(",")[0])).size > 1
    ).length,  // the targets drawn that can be seen: a line, not a point
    right: box.right,
    smallest_font: Math.min(...[...svg.querySelectorAll("text")].map(
      t => parseFloat(getComputedStyle(t).fontSize) * box.width / svg.viewBox.baseVal.width)),
  };
})
"""

EXPECTED = {
    "fr": {
        "median": "Jours du repérage à l'intégration (médiane)",
        "unmet": "non atteinte",
        "first_day": "1er janvier 2026",
        "last_day": "31 mars 2026",
        "theme": "Communication et soutien à la participation",
        "stage": "en équipe",
        "days": "jours",
        "quarter": "T1",
        "share": "100 %",
    },
    "en": {
        "median": "Days from identification to integration (median)",
        "unmet": "not met",
        "first_day": "January 1, 2026",
        "last_day": "March 31, 2026",
        "theme": "Communication and support for participation",
        "stage": "on a team",
        "days": "days",
        "quarter": "Q1",
        "share": "100%",
    },
}


@needs_chromium
@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_html_report_shows_every_chart_with_its_axes_in_a_browser(
    sqlite_app, tmp_path, page_at, lang, width
):
    _program(sqlite_app)
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        _cli(sqlite_app),
        ["report", "html", "--period", "2026-01..2026-03", "--lang", lang, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert next(out.glob("*.csv")).read_text(encoding="utf-8-sig").startswith("section,")
    page = page_at(width)
    page.goto(next(out.glob("*.html")).as_uri())
    screenshot(page, f"report-{lang}-{width}")
    expected = EXPECTED[lang]

    assert horizontal_overflow(page) == 0
    charts = page.evaluate(CHARTS_IN_THE_DOM)
    assert [c["id"] for c in charts] == [
        "funnel",
        "trend-new_referrals",
        "trend-advisors_integrated",
        "trend-share_teams_with_advisors",
        "trend-feedback_mean",
        "trend-days_to_integration_median",
        "time-to-integration",
        "scores",
    ]
    for chart in charts:
        for name in ("x", "y"):
            axis = chart[name]
            assert axis and axis["line"], (chart["id"], name)
            assert len(axis["ticks"]) >= 2 and all(axis["ticks"]), (chart["id"], name)
        assert chart["x"]["title"], chart["id"]  # the unit of the values, or the quarters
        assert chart["marks"] >= 1, chart["id"]
        assert chart["right"] <= width, chart["id"]  # the chart fits the page
        assert chart["smallest_font"] >= 9, chart["id"]  # and its text stays legible
    by_id = {c["id"]: c for c in charts}
    for name in ("trend-new_referrals", "trend-days_to_integration_median"):
        assert by_id[name]["y"]["title"]  # a trend's unit runs up its y axis
        # ends with 2026Q1, its year under it
        assert by_id[name]["x"]["ticks"][-1] == expected["quarter"] + "2026"
    assert by_id["scores"]["x"]["ticks"] == ["1", "2", "3", "4", "5"]  # the scale of answers
    assert by_id["time-to-integration"]["x"]["title"] == expected["days"]
    assert by_id["time-to-integration"]["targets"] == 1  # the median's target, 9 days
    assert by_id["trend-days_to_integration_median"]["targets"] == 1
    funnel_ticks = by_id["funnel"]["y"]["ticks"]
    assert len(funnel_ticks) == 7 and "not_retained" not in " ".join(funnel_ticks)

    text = page.inner_text("body")
    assert page.get_attribute("html", "lang") == lang
    assert expected["first_day"] in text and expected["last_day"] in text
    assert "2026-04-01" not in text  # the period's end is shown inclusive
    for chart in charts:  # each title is printed once (the SVG's own title is not shown)
        figure = page.inner_text(f"#{chart['id']}-figure")
        assert figure.count(chart["title"]) == 1, chart["title"]
    row = page.locator("#indicators tr", has_text=expected["median"]).first
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[1:3] == ["10", "9"] and cells[4] == expected["unmet"]
    share = page.locator('#indicators tr[data-indicator="share_teams_with_advisors"] td').nth(1)
    assert share.inner_text().replace("\u202f", " ").replace("\u00a0", " ") == expected["share"]
    assert expected["theme"] in text and expected["stage"] in text
    assert "4,5" in text if lang == "fr" else "4.5" in text
    conversions = page.locator("#conversions tbody tr").count()
    assert conversions == 7
