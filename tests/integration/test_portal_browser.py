"""The questionnaire as a person sees it: headless Chromium (Debian's, through Playwright)
opens a personal link served by uvicorn on loopback, on a 390 px phone and a 1280 px
desktop. The agreement scale is one row on the desktop and an ordered vertical list on the
phone, nothing scrolls sideways, the keyboard alone answers, a partial response comes back
with the questions named and the answers kept, and "not applicable" is stored as such.
Full-page screenshots go under $PPFLOW_SCREENSHOTS when it is set."""

from __future__ import annotations

import itertools

import pytest

from ppflow.services.questionnaires import NOT_APPLICABLE
from tests.browser import (
    DESKTOP,
    PHONE,
    WIDTHS,
    horizontal_overflow,
    needs_chromium,
    screenshot,
)
from tests.integration.portal_helpers import mailed_link, open_engagement, response_row

pytestmark = needs_chromium

COMPENSATION = ("compensation_fair", "compensation_expenses")


def team_name(app, engagement: str) -> str:
    with app.uow() as uow:
        return uow.teams.get(uow.engagements.get(engagement).team).name


def read(page, selector: str) -> str:
    """An element's text as a person reads it (French non-breaking spaces as spaces)."""
    text = page.locator(selector).inner_text()
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def boxes(page, item: str) -> list[dict]:
    """The bounding boxes of an item's five scale options, in order."""
    return [label.bounding_box() for label in page.locator(f"#f-{item} .scale label").all()]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_scale_is_one_row_on_a_desktop_and_a_vertical_list_on_a_phone(
    sqlite_app, portal_server, page_at, width
):
    opened = open_engagement(sqlite_app)  # French: the longest labels
    page = page_at(width)
    page.goto(portal_server + mailed_link(sqlite_app, opened.advisor))
    items = page.eval_on_selector_all("fieldset.question", "els => els.map(e => e.id.slice(2))")
    assert len(items) == 14
    for item in items:
        options = boxes(page, item)
        assert len(options) == 5, item
        pairs = list(itertools.pairwise(options))
        if width == DESKTOP:  # one row: every option at the same height, left to right
            assert {round(b["y"]) for b in options} == {round(options[0]["y"])}, item
            assert all(a["x"] + a["width"] <= b["x"] for a, b in pairs), item
        else:  # a list: each option below the one before
            assert all(a["y"] + a["height"] <= b["y"] for a, b in pairs), item
        # "not applicable" is apart from the scale, below it
        na = page.locator(f"#f-{item} label.na").bounding_box()
        assert na["y"] >= max(b["y"] + b["height"] for b in options), item
    assert horizontal_overflow(page) == 0
    screenshot(page, f"portal-form-fr-{width}")


def test_a_person_answers_with_the_keyboard_and_a_partial_response_keeps_their_answers(
    sqlite_app, portal_server, page_at
):
    opened = open_engagement(sqlite_app, language="en")
    page = page_at(PHONE)
    page.goto(portal_server + mailed_link(sqlite_app, opened.advisor))

    # what the person sees: the questionnaire in their language, naming their team, in
    # numbered sections
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").inner_text() == "Your experience of the partnership"
    team = team_name(sqlite_app, opened.engagement)
    assert page.locator("p.team").inner_text() == f"Quality-improvement team: {team}"
    steps = page.locator("section.part h2 .step").all_inner_texts()
    assert steps == [f"Section {n} of 7" for n in range(1, 8)]
    body = page.locator("body").inner_text()
    assert "My role in the team was explained to me clearly." in body
    assert "Mon rôle" not in body
    assert horizontal_overflow(page) == 0

    # keyboard alone: Tab past the language switch to the first question, Space picks an
    # answer, an arrow key moves within the group
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Français"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "com_information"
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    assert page.locator("input[name=com_information]:checked").get_attribute("value") == "2"
    # a tap on a label, as with a finger, and "not applicable" on another statement
    page.locator("#f-respect_equal .scale label").nth(4).click()
    page.locator("#f-compensation_fair label.na").click()
    page.fill("#a-open_went_well", "Evening meetings <b>helped</b>")
    assert page.locator(".tally").inner_text() == "Statements answered: 3 of 14"

    page.get_by_role("button", name="Send my answers", exact=True).click()
    page.wait_for_selector("#problems")
    screenshot(page, "portal-partial-en-390")
    problems = page.locator("#problems").inner_text()
    assert "Your response was not recorded" in problems
    assert "11 of 14 statements are not answered yet:" in problems
    assert "My role in the team was explained to me clearly." in problems
    assert "com_role" not in problems
    assert page.locator("#m-com_role").inner_text() == "Not answered yet"
    # nothing the person typed or chose is lost
    assert page.locator("input[name=com_information]:checked").get_attribute("value") == "2"
    assert page.locator("input[name=respect_equal]:checked").get_attribute("value") == "5"
    assert page.locator("input[name=compensation_fair]:checked").get_attribute("value") == "na"
    assert page.input_value("#a-open_went_well") == "Evening meetings <b>helped</b>"
    assert response_row(sqlite_app, opened.advisor).answered_at is None

    page.get_by_role("button", name="Send my answers as they are").click()
    page.wait_for_selector("h1:text('Thank you for taking part')")
    assert f'help the team "{team}" improve' in page.locator("body").inner_text()
    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {
        "com_information": 2,
        "respect_equal": 5,
        "compensation_fair": NOT_APPLICABLE,
        "open_went_well": "Evening meetings <b>helped</b>",
    }
    assert row.score == 3.5  # 2 and 5: "not applicable" is no score
    assert row.theme_scores == {"communication": 2, "respect": 5}

    # the same link, opened again, says it has been used
    page.goto(page.url + "?lang=fr")
    assert page.locator("h1").inner_text() == "Ce lien a déjà été utilisé"


def test_not_applicable_sent_through_the_page_is_stored_and_left_out_of_the_scores(
    sqlite_app, portal_server, page_at
):
    opened = open_engagement(sqlite_app)
    page = page_at(DESKTOP)
    page.goto(portal_server + mailed_link(sqlite_app, opened.advisor))
    items = page.eval_on_selector_all("fieldset.question", "els => els.map(e => e.id.slice(2))")
    for item in items:
        if item in COMPENSATION:
            page.locator(f"#f-{item} label.na").click()  # "Ne s'applique pas / ..."
        else:
            page.locator(f"#f-{item} .scale label").nth(3).click()  # "Plutôt d'accord"
    assert read(page, ".tally") == "Énoncés répondus : 14 sur 14"
    assert "Ne s'applique pas / je préfère ne pas répondre" in (
        page.locator("#f-compensation_fair label.na").inner_text()
    )
    screenshot(page, "portal-answered-fr-1280")
    page.get_by_role("button", name="Envoyer mes réponses", exact=True).click()
    page.wait_for_selector("h1:text('Merci de votre participation')")

    row = response_row(sqlite_app, opened.advisor)
    assert {k: v for k, v in row.answers.items() if v == NOT_APPLICABLE} == dict.fromkeys(
        COMPENSATION, NOT_APPLICABLE
    )
    assert row.score == 4.0  # twelve 4s; the two "not applicable" are not 0s nor 1s
    assert "compensation" not in row.theme_scores


def test_the_team_lead_is_offered_not_applicable_only_where_the_questionnaire_allows_it(
    sqlite_app, portal_server, page_at
):
    opened = open_engagement(sqlite_app)
    page = page_at(PHONE)
    page.goto(portal_server + mailed_link(sqlite_app, opened.lead))
    offered = page.eval_on_selector_all("input[value=na]", "els => els.map(e => e.name)")
    assert offered == ["compensation_process"]
    assert horizontal_overflow(page) == 0
    screenshot(page, "portal-team-fr-390")


def test_an_empty_submit_in_french_names_the_first_question_in_french(
    sqlite_app, portal_server, page_at
):
    opened = open_engagement(sqlite_app)
    page = page_at(PHONE)
    page.goto(portal_server + mailed_link(sqlite_app, opened.advisor))
    page.get_by_role("button", name="Envoyer mes réponses", exact=True).click()
    page.wait_for_selector("#problems")
    assert read(page, "#problems") == (
        "Votre réponse n'a pas été enregistrée Vous n'avez répondu à aucune question. "
        "Commencez par la première : « J'ai reçu à temps l'information dont j'avais besoin "
        "pour préparer les rencontres. »"
    )
    assert horizontal_overflow(page) == 0
    screenshot(page, "portal-empty-fr-390")
    assert response_row(sqlite_app, opened.advisor).answered_at is None


def test_without_javascript_the_form_still_counts_what_was_kept_and_sends(
    sqlite_app, portal_server, browser
):
    opened = open_engagement(sqlite_app, language="en")
    context = browser.new_context(
        viewport={"width": PHONE, "height": 900}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(portal_server + mailed_link(sqlite_app, opened.advisor))
        assert read(page, ".tally") == "Statements answered: 0 of 14"
        page.locator("#f-com_role .scale label").nth(3).click()
        page.locator("#f-respect_equal label.na").click()
        page.get_by_role("button", name="Send my answers", exact=True).click()
        page.wait_for_selector("#problems")
        assert read(page, ".tally") == "Statements answered: 2 of 14"  # counted by the portal
        page.get_by_role("button", name="Send my answers as they are").click()
        page.wait_for_selector("h1:text('Thank you for taking part')")
    finally:
        context.close()
    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {"com_role": 4, "respect_equal": NOT_APPLICABLE}
    assert row.score == 4.0
