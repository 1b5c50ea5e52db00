"""The report's page and CSV from sample indicators (no database): every text from the
catalogues in French and English, figures formatted per language, the CSV kept
machine-readable, and the template check that ``ppflow templates check`` runs."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC, datetime

import pytest

from ppflow.adapters.report import (
    check_report_templates,
    nice_ticks,
    render_csv,
    render_html,
    sample_indicators,
    show,
)
from ppflow.resources import templates_dir
from ppflow.services.indicators import label
from tests.integration.catalogue_helpers import drop_translation

NOW = datetime(2027, 1, 4, 14, 30, tzinfo=UTC)


@pytest.fixture
def templates(tmp_path):
    """A copy of the shipped templates that a test may break."""
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    return copy


def test_the_shipped_report_renders_in_french_and_in_english():
    checks = check_report_templates(templates_dir())
    assert [(c.language, c.problems) for c in checks] == [("fr", ()), ("en", ())]


def test_a_text_missing_from_one_language_fails_the_check(templates):
    drop_translation(templates, "fr", "report.charts.timing.p90")
    checks = {c.language: c for c in check_report_templates(templates)}
    assert checks["en"].ok
    assert not checks["fr"].ok
    assert "report.charts.timing.p90" in " ".join(checks["fr"].problems)


def test_an_indicator_without_a_label_fails_the_check(templates):
    drop_translation(templates, "en", "indicators.labels.withdrawals")
    checks = {c.language: c for c in check_report_templates(templates)}
    assert "no en label for indicator withdrawals" in " ".join(checks["en"].problems)


def test_a_variable_the_template_does_not_know_fails_the_check(templates):
    page = templates / "report" / "report.html.j2"
    page.write_text(page.read_text().replace("{{ title }}</h1>", "{{ titel }}</h1>"))
    checks = check_report_templates(templates)
    assert all("titel" in " ".join(c.problems) for c in checks)


def test_indicator_labels_come_from_the_catalogue_of_each_language():
    assert label("share_teams_with_advisors", "fr").startswith("Part des équipes")
    assert label("share_teams_with_advisors", "en").startswith("Share of teams")
    assert label("attendance_rate_QT-9", "fr") == "Présence aux rencontres : équipe QT-9"
    assert label("feedback_respect", "en") == "Feedback: Respect"
    titles = {"custom_theme": "My theme"}
    assert label("feedback_custom_theme", "fr", theme_titles=titles) == "Appréciation : My theme"


@pytest.mark.parametrize(
    "name, value, lang, shown",
    [
        ("share_teams_with_advisors", 1.0, "fr", "100\u00a0%"),
        ("share_teams_with_advisors", 1.0, "en", "100%"),
        ("retention_6m", 0.75, "en", "75%"),
        ("compensation_paid", 1234.5, "fr", "1\u00a0234,50\u00a0$"),
        ("compensation_paid", 1234.5, "en", "$1,234.50"),
        ("days_to_integration_median", 12.5, "fr", "12,5"),
        ("feedback_mean", 4.25, "en", "4.25"),
        ("new_referrals", 1200, "en", "1,200"),
        ("new_referrals", None, "fr", "—"),
    ],
)
def test_figures_read_as_their_language_writes_them(name, value, lang, shown):
    assert show(name, value, lang).replace("\u202f", "\u00a0") == shown


def test_the_period_is_shown_with_its_first_and_last_days_in_each_language():
    sample = sample_indicators()  # 2026Q4 in Montreal: 2026-10-01 04:00 to 2027-01-01 05:00 UTC
    french = render_html(sample, templates_dir(), NOW, "fr")
    english = render_html(sample, templates_dir(), NOW, "en")
    assert "du 1er octobre 2026 au 31 décembre 2026" in french
    assert "October 1, 2026 to December 31, 2026" in english
    assert '<html lang="fr">' in french and '<html lang="en">' in english
    assert "1er janvier 2027" not in french and "January 1, 2027" not in english
    assert "Produit le 4 janvier 2027 à 14 h 30 UTC" in french


def test_no_stage_is_shown_by_its_code_and_each_chart_title_once():
    page = render_html(sample_indicators(), templates_dir(), NOW, "fr")
    body = page.split("<body>", 1)[1]
    assert ">not_retained<" not in body and ">identified<" not in body
    assert "non retenu·e" in body and "repéré·e" in body
    assert body.count("Appréciation et cibles</h3>") == 1
    assert body.count("Appréciation et cibles") == 2  # the caption, and the SVG's title


def test_the_csv_keeps_machine_readable_values_whatever_the_language():
    rows = list(csv.reader(io.StringIO(render_csv(sample_indicators()))))
    assert [
        "indicator",
        "share_teams_with_advisors",
        "2026Q4",
        "0.75",
        "0.5",
        "1",
        "",
        "met",
    ] in rows
    assert ["conversion", "identified", "reached", "8", "", "", "", ""] in rows
    assert ["conversion", "identified", "rate", "0.75", "", "", "", ""] in rows
    assert ["exit", "declined", "2026Q4", "1", "", "", "", ""] in rows
    assert ["trend", "days_to_integration_median", "2026Q1", "1", "9", "", "", ""] in rows
    assert not any("%" in cell or "$" in cell for row in rows for cell in row)


def test_ticks_are_round_numbers_from_zero_to_above_the_largest_value():
    assert nice_ticks(10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(37) == [0, 10, 20, 30, 40]
    assert nice_ticks(2.2, 4) == [0, 1, 2, 3]
