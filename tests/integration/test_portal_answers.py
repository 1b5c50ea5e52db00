"""What the portal does with what a respondent sends, over a real database through
Starlette's test client: a partial or empty response comes back in the page's language
naming the questions (never an item id) with every answer kept; "not applicable" is
stored as such, offered only where the questionnaire allows it, and left out of the
scores, the indicators and the evaluation; the page names the team."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ppflow.adapters.orm import TeamRow
from ppflow.services.indicators import compute_indicators
from ppflow.services.questionnaires import NOT_APPLICABLE, QuestionnaireLibrary
from tests.integration.portal_helpers import (
    checked,
    client_for,
    error_box,
    mailed_link,
    open_engagement,
    page_text,
    response_row,
)

ADVISOR_ITEMS = [
    item.id for item in QuestionnaireLibrary().get("partnership-experience-advisor").scale_items
]


def team_of(app) -> tuple[str, str]:
    with app.engine.connect() as connection:
        return connection.execute(select(TeamRow.code, TeamRow.name)).one()


def test_the_form_names_the_team_by_its_name_and_numbers_its_sections(sqlite_app):
    opened = open_engagement(sqlite_app)
    page = client_for(sqlite_app).get(mailed_link(sqlite_app, opened.advisor))
    code, name = team_of(sqlite_app)
    text = page_text(page.text)
    assert f"Équipe d'amélioration de la qualité : {name}" in text
    assert code not in text
    assert "Le questionnaire compte 7 sections et 14 énoncés." in text
    for number in range(1, 8):
        assert f"Section {number} sur 7" in text
    assert "Énoncés répondus : 0 sur 14" in text


PARTIAL = {
    "com_information": "4",
    "respect_equal": "5",
    "compensation_fair": "na",
    "open_went_well": "Les rencontres <b>en soirée</b>.",
}


@pytest.mark.parametrize(
    ("language", "heading", "left", "question", "send_anyway"),
    [
        (
            "fr",
            "Votre réponse n'a pas été enregistrée",
            "11 énoncés sur 14 n'ont pas encore de réponse :",
            "Mon rôle dans l'équipe m'a été expliqué clairement.",
            "Envoyer mes réponses telles quelles",
        ),
        (
            "en",
            "Your response was not recorded",
            "11 of 14 statements are not answered yet:",
            "My role in the team was explained to me clearly.",
            "Send my answers as they are",
        ),
    ],
)
def test_a_partial_response_names_the_questions_left_in_the_page_language_and_keeps_the_answers(
    sqlite_app, language, heading, left, question, send_anyway
):
    opened = open_engagement(sqlite_app)
    link = mailed_link(sqlite_app, opened.advisor)
    client = client_for(sqlite_app)
    page = client.post(link, data={"lang": language, **PARTIAL})
    assert page.status_code == 400
    assert f'<html lang="{language}">' in page.text
    box = error_box(page.text)
    assert box.startswith(f"{heading} {left}")
    assert question in box
    for item in ADVISOR_ITEMS:
        assert item not in box  # the questions by their text, never by their id
    # nothing is lost: the choices are still chosen, the text still typed
    assert checked(page.text) == {
        "com_information": "4",
        "respect_equal": "5",
        "compensation_fair": NOT_APPLICABLE,
    }
    assert "Les rencontres &lt;b&gt;en soirée&lt;/b&gt;.</textarea>" in page.text
    assert send_anyway in page.text
    assert response_row(sqlite_app, opened.advisor).answered_at is None

    sent = client.post(link, data={"lang": language, "partial": "yes", **PARTIAL})
    assert sent.status_code == 200
    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {
        "com_information": 4,
        "respect_equal": 5,
        "compensation_fair": NOT_APPLICABLE,
        "open_went_well": "Les rencontres <b>en soirée</b>.",
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            "Votre réponse n'a pas été enregistrée Vous n'avez répondu à aucune question. "
            "Commencez par la première : « J'ai reçu à temps l'information dont j'avais "
            "besoin pour préparer les rencontres. »",
        ),
        (
            "en",
            "Your response was not recorded You have not answered any question. Start with "
            'the first one: "I received the information I needed to prepare for meetings '
            'in good time."',
        ),
    ],
)
def test_an_empty_response_is_refused_in_the_page_language_naming_the_first_question(
    sqlite_app, language, expected
):
    opened = open_engagement(sqlite_app)
    link = mailed_link(sqlite_app, opened.advisor)
    page = client_for(sqlite_app).post(link, data={"lang": language, "partial": "yes"})
    assert page.status_code == 400
    assert error_box(page.text) == expected
    assert response_row(sqlite_app, opened.advisor).answered_at is None


def test_a_response_answering_every_statement_needs_no_confirmation(sqlite_app):
    opened = open_engagement(sqlite_app)
    answers = dict.fromkeys(ADVISOR_ITEMS, "3") | {"compensation_fair": "na"}
    page = client_for(sqlite_app).post(mailed_link(sqlite_app, opened.advisor), data=answers)
    assert page.status_code == 200
    assert "Merci de votre participation" in page.text


def test_not_applicable_is_stored_as_such_and_left_out_of_every_score(any_app):
    opened = open_engagement(any_app)
    answers = dict.fromkeys(ADVISOR_ITEMS, "4") | {
        "com_information": "2",
        "compensation_fair": "na",
        "compensation_expenses": "NA",
    }
    page = client_for(any_app).post(mailed_link(any_app, opened.advisor), data=answers)
    assert page.status_code == 200
    row = response_row(any_app, opened.advisor)
    assert row.answers["compensation_fair"] == row.answers["compensation_expenses"] == "na"
    assert row.score == round((2 + 4 * 11) / 12, 2)  # twelve scores: N/A is neither 0 nor 1
    assert row.theme_scores["communication"] == round((2 + 4 + 4) / 3, 2)
    assert "compensation" not in row.theme_scores

    year = any_app.clock.now().year
    indicators = compute_indicators(
        any_app.indicators(), datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    )
    assert indicators.values["feedback_mean"] == row.score
    assert indicators.values["feedback_communication"] == row.theme_scores["communication"]
    assert indicators.values.get("feedback_compensation") is None


def test_the_team_questionnaire_offers_not_applicable_only_on_the_statement_that_allows_it(
    sqlite_app,
):
    opened = open_engagement(sqlite_app)
    link = mailed_link(sqlite_app, opened.lead)
    client = client_for(sqlite_app)
    form = client.get(link).text
    assert form.count('value="na"') == 1
    assert '<input type="radio" name="compensation_process" value="na">' in form
    # a value the page never offered (an altered form) is refused, naming the question
    page = client.post(link, data={"views_space": "na", "compensation_process": "na"})
    assert page.status_code == 400
    assert error_box(page.text) == (
        "Votre réponse n'a pas été enregistrée « Les patients partenaires ont eu la place "
        "de s'exprimer pendant les rencontres. » : cet énoncé n'offre pas la réponse « Ne "
        "s'applique pas »; choisissez une des réponses proposées."
    )
    assert response_row(sqlite_app, opened.lead).answered_at is None


NO_NA = """\
name: partnership-experience-team
version: 2
title: {fr: Sans « ne s'applique pas », en: Without not applicable}
scale:
  fr: [un, deux, trois, quatre, cinq]
  en: [one, two, three, four, five]
themes:
  - {id: respect, title: {fr: Respect, en: Respect}}
items:
  - {id: respect_member, theme: respect, type: scale, text: {fr: Énoncé, en: Statement}}
"""


def test_a_questionnaire_that_does_not_allow_not_applicable_does_not_offer_it(sqlite_app):
    folder = sqlite_app.settings.data_dir / "questionnaires"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "partnership-experience-team.v2.yaml").write_text(NO_NA, encoding="utf-8")
    opened = open_engagement(sqlite_app)
    link = mailed_link(sqlite_app, opened.lead)
    client = client_for(sqlite_app)
    for language, label in (("fr", "Ne s&#39;applique pas"), ("en", "Not applicable")):
        page = client.get(f"{link}?lang={language}").text
        assert 'value="na"' not in page
        assert label not in page
    refused = client.post(link, data={"lang": "en", "respect_member": "na"})
    assert refused.status_code == 400
    assert 'this statement does not offer "Not applicable"' in error_box(refused.text)
    assert client.post(link, data={"respect_member": "5"}).status_code == 200
    assert response_row(sqlite_app, opened.lead).questionnaire_version == 2


def test_the_evaluation_counts_no_not_applicable_answer_as_a_score(sqlite_app):
    from ppflow.domain.commands import Meta
    from ppflow.services import feedback, integration

    opened = open_engagement(sqlite_app)
    client = client_for(sqlite_app)
    every_na = dict.fromkeys(ADVISOR_ITEMS, "na")  # the advisor preferred not to say
    assert client.post(mailed_link(sqlite_app, opened.advisor), data=every_na).status_code == 200
    assert response_row(sqlite_app, opened.advisor).score is None
    lead = {"views_space": "4", "respect_member": "4", "partial": "yes"}
    assert client.post(mailed_link(sqlite_app, opened.lead), data=lead).status_code == 200

    meta = Meta("test")
    integration.end_engagement(sqlite_app.uow(), opened.engagement, meta, clock=sqlite_app.clock)
    report = feedback.evaluate_engagement(
        sqlite_app.uow(), opened.engagement, meta, clock=sqlite_app.clock
    )
    [criterion] = [c for c in report.criteria if c["name"] == "feedback"]
    assert "mean agreement 4.0/5 over 1 response(s)" in str(criterion)


def test_a_form_that_cannot_be_read_or_names_no_question_is_refused_in_the_page_language(
    sqlite_app,
):
    opened = open_engagement(sqlite_app, language="en")
    link = mailed_link(sqlite_app, opened.advisor)
    client = client_for(sqlite_app)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    unreadable = client.post(link, content=b"com_role=\xff\xfe", headers=headers)
    assert unreadable.status_code == 400
    assert error_box(unreadable.text) == (
        "Your response was not recorded The form that was sent could not be read. Please try again."
    )
    altered = client.post(link, data={"lang": "fr", "com_role": "4", "not_an_item": "1"})
    assert altered.status_code == 400
    assert error_box(altered.text) == (
        "Votre réponse n'a pas été enregistrée Le formulaire contenait une réponse qui ne "
        "correspond à aucune question de ce questionnaire."
    )
    assert checked(altered.text) == {"com_role": "4"}
    assert response_row(sqlite_app, opened.advisor).answered_at is None
