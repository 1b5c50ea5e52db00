"""The survey portal over a real SQLite database, through Starlette's test client: the form
in each language, a recorded response with its questionnaire version, every misuse of a
link, withdrawal, and escaping of what people type."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ppflow.adapters.orm import AdvisorRow, SurveyRequestRow
from ppflow.services import links
from tests.integration.portal_helpers import (
    client_for,
    error_box,
    mailed_link,
    open_engagement,
    response_row,
    token_of,
)

ADVISOR_FR = "Mon rôle dans l&#39;équipe m&#39;a été expliqué clairement."
ADVISOR_EN = "My role in the team was explained to me clearly."
TEAM_FR = "Les patients partenaires ont eu la place de s&#39;exprimer pendant les rencontres."


@pytest.fixture
def opened(sqlite_app):
    return open_engagement(sqlite_app)


def answered_count(app) -> int:
    with app.engine.connect() as connection:
        return connection.scalar(
            select(func.count()).where(SurveyRequestRow.answered_at.is_not(None))
        )


def stage_of(app, advisor: str) -> str:
    with app.engine.connect() as connection:
        return connection.scalar(select(AdvisorRow.stage).where(AdvisorRow.code == advisor))


def test_the_mailed_link_opens_the_advisor_form_in_french(sqlite_app, opened):
    page = client_for(sqlite_app).get(mailed_link(sqlite_app, opened.advisor))
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert ADVISOR_FR in page.text
    assert "Envoyer mes réponses" in page.text
    assert ADVISOR_EN not in page.text
    # keyboard and phone: every radio group is a fieldset with a legend, every radio has
    # its label, textareas have a label, and the page scales to the device
    assert page.text.count('<fieldset class="question"') == 14
    assert '<label class="open" for="a-open_improve">' in page.text
    assert 'name="viewport" content="width=device-width' in page.text
    assert ":focus-visible" in page.text


def test_an_english_speaking_advisor_gets_the_form_in_english(sqlite_app):
    opened = open_engagement(sqlite_app, language="en")
    page = client_for(sqlite_app).get(mailed_link(sqlite_app, opened.advisor))
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert ADVISOR_EN in page.text
    assert "Send my answers" in page.text


def test_the_language_switch_shows_the_other_language(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    page = client_for(sqlite_app).get(link)
    assert f'href="{link}?lang=en"' in page.text
    switched = client_for(sqlite_app).get(f"{link}?lang=en")
    assert ADVISOR_EN in switched.text


def test_the_team_lead_gets_the_team_questionnaire(sqlite_app, opened):
    page = client_for(sqlite_app).get(mailed_link(sqlite_app, opened.lead))
    assert page.status_code == 200
    assert TEAM_FR in page.text


def test_a_submitted_form_is_recorded_with_its_version_and_theme_scores(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    answers = {
        "lang": "fr",
        "partial": "yes",  # "send my answers as they are"
        "com_information": "5",
        "com_role": "3",
        "respect_equal": "4",
        "compensation_fair": "2",
        "open_went_well": "Les rencontres en soirée.",
    }
    page = client_for(sqlite_app).post(link, data=answers)
    assert page.status_code == 200
    assert "Merci de votre participation" in page.text
    row = response_row(sqlite_app, opened.advisor)
    assert row.questionnaire == "partnership-experience-advisor"
    assert row.questionnaire_version == 1
    assert row.answers == {
        "com_information": 5,
        "com_role": 3,
        "respect_equal": 4,
        "compensation_fair": 2,
        "open_went_well": "Les rencontres en soirée.",
    }
    assert row.score == 3.5
    assert row.theme_scores == {"communication": 4, "respect": 4, "compensation": 2}
    assert row.answered_at == sqlite_app.clock.now()


def test_a_reused_link_gets_a_clear_page_and_changes_nothing(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    client = client_for(sqlite_app)
    assert client.post(link, data={"com_role": "5", "partial": "yes"}).status_code == 200
    before = response_row(sqlite_app, opened.advisor)
    again = client.post(link, data={"com_role": "1", "respect_equal": "1"})
    assert again.status_code == 410
    assert "Ce lien a déjà été utilisé" in again.text
    assert client.get(link).status_code == 410
    assert response_row(sqlite_app, opened.advisor) == before


def test_a_forged_link_gets_a_clear_page_and_changes_nothing(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    token, expiry, mac = link.removeprefix("/s/").split(".")
    other = token_of(sqlite_app, opened.lead)
    forgeries = [
        f"/s/{token}.{expiry}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # one character
        f"/s/{token}.{int(expiry, 16) + 86400:x}.{mac}",  # a later expiry
        f"/s/{other}.{expiry}.{mac}",  # someone else's token
        f"/s/{token}",  # the bare token, as links were before signing
        "/s/" + links.sign("not-the-portal-key", links.SURVEY, token, sqlite_app.clock.now()),
    ]
    client = client_for(sqlite_app)
    for forged in forgeries:
        page = client.post(forged, data={"com_role": "5"})
        assert page.status_code == 403, forged
        assert "Ce lien n'est pas valide" in page.text
    assert answered_count(sqlite_app) == 0


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    client = client_for(sqlite_app)
    sqlite_app.clock.moment += timedelta(days=sqlite_app.settings.portal.link_days, seconds=1)
    page = client.get(f"{link}?lang=en")
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert client.post(link, data={"com_role": "5"}).status_code == 410
    assert answered_count(sqlite_app) == 0


def test_a_survey_link_does_not_open_the_withdrawal_page(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    response = client_for(sqlite_app).post(link.replace("/s/", "/w/"), data={"confirm": "yes"})
    assert response.status_code == 403
    assert stage_of(sqlite_app, opened.advisor) == "active"


def test_a_bad_answer_is_refused_and_the_form_shown_again_with_what_was_typed(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    typed = '<script>alert("x")</script><b>bold</b>'
    page = client_for(sqlite_app).post(link, data={"com_role": "9", "open_improve": typed})
    assert page.status_code == 400
    assert error_box(page.text) == (
        "Votre réponse n'a pas été enregistrée « Mon rôle dans l'équipe m'a été expliqué "
        "clairement. » : choisissez une des réponses proposées."
    )
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "<script>alert" not in page.text
    assert page.text.count("<script") == 1  # the portal's own, allowed by its hash
    assert answered_count(sqlite_app) == 0


def test_an_empty_form_records_nothing(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    page = client_for(sqlite_app).post(link, data={"lang": "en"})
    assert page.status_code == 400
    assert error_box(page.text) == (
        "Your response was not recorded You have not answered any question. Start with the "
        'first one: "I received the information I needed to prepare for meetings in good '
        'time."'
    )
    assert "Send my answers as they are" not in page.text  # there is nothing to send
    assert answered_count(sqlite_app) == 0


def test_html_in_a_recorded_answer_is_stored_as_typed_and_never_rendered(sqlite_app, opened):
    link = mailed_link(sqlite_app, opened.advisor)
    typed = "<img src=x onerror=alert(1)>"
    page = client_for(sqlite_app).post(link, data={"open_improve": typed, "partial": "yes"})
    assert page.status_code == 200
    assert response_row(sqlite_app, opened.advisor).answers == {"open_improve": typed}


def test_a_reminder_carries_a_fresh_link_that_opens_the_form(sqlite_app, opened):
    from ppflow.services import feedback

    first = mailed_link(sqlite_app, opened.advisor)  # the link as the first e-mail had it
    sqlite_app.clock.moment += timedelta(days=25)
    reminded = feedback.remind_feedback(
        sqlite_app.uow(), opened.engagement, timedelta(days=7), sqlite_app.clock
    )
    assert reminded == 2
    reminder = mailed_link(sqlite_app, opened.advisor)  # signed when the reminder renders
    sqlite_app.clock.moment += timedelta(days=10)  # the first link has expired by now
    client = client_for(sqlite_app)
    assert client.get(first).status_code == 410
    assert client.get(reminder).status_code == 200


# ------------------------------------------------------------------------------ withdrawal


def test_an_advisor_withdraws_through_the_link_after_confirming(sqlite_app, opened):
    link = links.withdrawal_link(sqlite_app.settings, opened.advisor, sqlite_app.clock.now())
    path = link[link.index("/w/") :]
    client = client_for(sqlite_app)
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Je confirme mon retrait" in confirm.text
    assert stage_of(sqlite_app, opened.advisor) == "active"  # looking changes nothing
    unconfirmed = client.post(path, data={"lang": "fr"})
    assert unconfirmed.status_code == 400
    assert stage_of(sqlite_app, opened.advisor) == "active"
    done = client.post(path, data={"lang": "en", "confirm": "yes"})
    assert done.status_code == 200
    assert "Your withdrawal is confirmed" in done.text
    assert stage_of(sqlite_app, opened.advisor) == "withdrawn"
    with sqlite_app.uow() as uow:
        last = uow.transitions.history("advisor", opened.advisor)[-1]
    assert (last.to_state, last.actor) == ("withdrawn", "portal")
    again = client.post(path, data={"confirm": "yes"})
    assert again.status_code == 410
    assert "Vous vous êtes déjà retiré(e)" in again.text


def test_a_forged_or_expired_withdrawal_link_withdraws_nobody(sqlite_app, opened):
    now = sqlite_app.clock.now()
    link = links.withdrawal_link(sqlite_app.settings, opened.advisor, now)
    code, expiry, mac = link[link.index("/w/") + 3 :].split(".")
    other = links.withdrawal_link(sqlite_app.settings, "PA-ZZZZZZ", now)
    other_mac = other.rsplit(".", 1)[1]
    client = client_for(sqlite_app)
    assert (
        client.post(f"/w/{code}.{expiry}.{other_mac}", data={"confirm": "yes"}).status_code == 403
    )
    sqlite_app.clock.moment += timedelta(days=31)
    expired = client.post(f"/w/{code}.{expiry}.{mac}", data={"confirm": "yes"})
    assert expired.status_code == 410
    assert stage_of(sqlite_app, opened.advisor) == "active"


def test_the_portal_sends_no_referrer_and_refuses_framing(sqlite_app, opened):
    page = client_for(sqlite_app).get(mailed_link(sqlite_app, opened.advisor))
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
