"""`check_portal_templates` (part of `ppflow templates check`): every portal page renders in
French and English with sample data, and a broken copy of the templates is caught."""

from __future__ import annotations

import shutil

import pytest

from ppflow.adapters.portal_web import check_portal_templates
from ppflow.settings import Settings
from tests.integration.catalogue_helpers import drop_translation

TEMPLATES = Settings().templates_dir
PAGES = {"form", "thanks", "link_error", "too_large", "withdraw", "withdrawn"}


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def failed(directory) -> dict[tuple[str, str], tuple[str, ...]]:
    return {
        (r.notification, r.language): r.problems
        for r in check_portal_templates(directory)
        if not r.ok
    }


def test_every_portal_page_renders_in_french_and_english():
    results = check_portal_templates(TEMPLATES)
    assert [r for r in results if not r.ok] == []
    pages = {(r.notification.split(" ")[0].removeprefix("portal/"), r.language) for r in results}
    assert pages == {(page, lang) for page in PAGES for lang in ("fr", "en")}
    cases = {r.notification for r in results if r.language == "fr"}
    assert "portal/form (unanswered statements)" in cases
    assert "portal/link_error (used, withdrawal link)" in cases


def test_the_check_reports_a_missing_page(copy):
    (copy / "portal" / "thanks.html").unlink()
    assert failed(copy) == {
        ("portal/thanks", lang): ("missing template portal/thanks.html",) for lang in ("fr", "en")
    }


def test_the_check_reports_a_text_missing_from_the_catalogue(copy):
    drop_translation(copy, "en", "portal.not_applicable")
    found = failed(copy)
    assert found and {lang for _, lang in found} == {"en"}
    assert all("portal.not_applicable" in problems[0] for problems in found.values())


def test_the_check_reports_a_missing_variable_and_an_unfilled_placeholder(copy):
    form = copy / "portal" / "form.html"
    form.write_text(
        form.read_text(encoding="utf-8").replace("</form>", "</form>{{ meeting_date }}"), "utf-8"
    )
    thanks = copy / "portal" / "thanks.html"
    thanks.write_text(thanks.read_text(encoding="utf-8").replace("</h1>", " {team}</h1>"), "utf-8")
    found = failed(copy)
    assert "meeting_date" in found["portal/form", "fr"][0]
    assert found["portal/thanks", "en"] == ("placeholder {team} left unfilled",)


def test_the_check_reports_a_missing_script(copy):
    (copy / "portal" / "tally.js").unlink()
    [result] = check_portal_templates(copy)
    assert result.problems == ("missing template portal/tally.js",)
