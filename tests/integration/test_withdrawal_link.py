"""Every e-mail an advisor receives carries a personal link with which they withdraw."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ppflow.adapters.orm import NotificationRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors, queries
from tests import factories


def test_an_advisor_withdraws_with_the_link_in_their_invitation(mail_app, smtp_server):
    app = mail_app
    factories.staff(app, role="coordinator")
    code = factories.referral(app, factories.staff(app), language="en")
    advisors.invite_advisor(app.uow(), code, Meta("t"), app.clock)
    app.dispatch_pending()
    [invitation] = [
        m for m in smtp_server.messages() if m.header("X-Ppflow-Template") == "invitation"
    ]
    [link] = [found.rstrip(".") for found in re.findall(r"https?://\S+/w/\S+", invitation.text)]
    assert link in invitation.html
    staff_mail = [
        m for m in smtp_server.messages() if m.header("X-Ppflow-Template") == "referral_received"
    ]
    assert staff_mail and "/w/" not in staff_mail[0].text  # only advisors get one

    portal = TestClient(app.portal())
    path = "/" + link.split("/", 3)[3]
    page = portal.get(path)
    assert page.status_code == 200 and "withdraw" in page.text.lower()
    assert queries.get_advisor(app.uow(), code).advisor.stage == "invited"
    done = portal.post(path, data={"confirm": "yes", "lang": "en"})
    assert done.status_code == 200
    assert queries.get_advisor(app.uow(), code).advisor.stage == "withdrawn"
    with app.session_factory() as session:
        notices = session.scalars(
            select(NotificationRow.template).where(NotificationRow.template == "advisor_withdrawn")
        ).all()
    assert notices == ["advisor_withdrawn"]
    forged = portal.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code >= 400


def withdrawal_count(app, code: str) -> tuple[int, int]:
    """How many moves to withdrawn were logged for ``code``, and how many notices went out."""
    from sqlalchemy import func

    from ppflow.adapters.orm import TransitionRow

    with app.session_factory() as session:
        moves = session.scalar(
            select(func.count())
            .select_from(TransitionRow)
            .where(TransitionRow.code == code, TransitionRow.to_state == "withdrawn")
        )
        notices = session.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.template == "advisor_withdrawn")
        )
    return moves, notices


def path_of(link: str) -> str:
    return link[link.index("/w/") :]


def test_a_withdrawal_link_is_spent_once_used_and_so_is_every_other_link_of_theirs(sqlite_app):
    from datetime import timedelta

    from ppflow.adapters.orm import ConsentRow
    from ppflow.services import links

    app = sqlite_app
    factories.staff(app, role="coordinator")
    code = factories.referral(app, factories.staff(app), language="en")
    advisors.invite_advisor(app.uow(), code, Meta("t"), app.clock)
    now = app.clock.now()
    invitation_link = path_of(links.withdrawal_link(app.settings, code, now))
    reminder_link = path_of(links.withdrawal_link(app.settings, code, now + timedelta(days=1)))
    assert invitation_link != reminder_link
    portal = TestClient(app.portal())

    # a POST without confirm=yes withdraws no one, and spends nothing
    assert portal.post(invitation_link, data={"lang": "en"}).status_code == 400
    assert portal.get(invitation_link).status_code == 200
    assert queries.get_advisor(app.uow(), code).advisor.stage == "invited"

    done = portal.post(invitation_link, data={"confirm": "yes", "lang": "en"})
    assert done.status_code == 200 and "withdrawal is confirmed" in done.text
    assert withdrawal_count(app, code) == (1, 1)

    for link in (invitation_link, reminder_link):
        page = portal.get(link + "?lang=en")
        assert page.status_code == 410 and "You have already withdrawn" in page.text
        assert "confirm" not in page.text  # no form left to send
        again = portal.post(link + "?lang=en", data={"confirm": "yes", "lang": "en"})
        assert again.status_code == 410 and "You have already withdrawn" in again.text
        french = portal.get(link + "?lang=fr")
        assert french.status_code == 410 and "Vous vous êtes déjà retiré(e)" in french.text
        own = portal.get(link)  # in the advisor's own language, as their other pages
        assert own.status_code == 410 and '<html lang="en">' in own.text
    assert withdrawal_count(app, code) == (1, 1)
    with app.session_factory() as session:
        assert session.scalars(select(ConsentRow)).all() == []  # never consented: no row made


def test_a_withdrawal_link_is_used_once_a_coordinator_has_withdrawn_the_advisor(sqlite_app):
    from ppflow.services import links

    app = sqlite_app
    code = factories.referral(app, factories.staff(app), language="fr")
    link = path_of(links.withdrawal_link(app.settings, code, app.clock.now()))
    advisors.withdraw_advisor(app.uow(), code, Meta("cli:camille", "by phone"), app.clock)

    page = TestClient(app.portal()).post(link, data={"confirm": "yes"})

    assert page.status_code == 410 and "Vous vous êtes déjà retiré(e)" in page.text
    assert withdrawal_count(app, code) == (1, 0)


def test_the_link_of_someone_whose_participation_ended_opens_no_withdrawal_form(sqlite_app):
    from ppflow.services import links

    app = sqlite_app
    code = factories.referral(app, factories.staff(app), language="en")
    advisors.invite_advisor(app.uow(), code, Meta("t"), app.clock)
    advisors.record_invitation_answer(app.uow(), code, False, Meta("t"), app.clock)
    link = path_of(links.withdrawal_link(app.settings, code, app.clock.now()))
    portal = TestClient(app.portal())

    page = portal.get(link + "?lang=en")

    assert page.status_code == 409 and "Your participation has already ended" in page.text
    assert portal.post(link, data={"confirm": "yes"}).status_code == 409
    assert queries.get_advisor(app.uow(), code).advisor.stage == "declined"


def test_once_an_advisor_withdraws_their_survey_links_say_so_and_store_nothing(sqlite_app):
    """Withdrawal ends the person's survey requests: their link answers 410, in their
    language, saying they withdrew; a response posted to it is not stored. The team lead's
    link on the same engagement still works."""
    from tests.integration.portal_helpers import (
        client_for,
        mailed_link,
        open_engagement,
        response_row,
    )

    app = sqlite_app
    opened = open_engagement(app, language="en")
    link, lead_link = mailed_link(app, opened.advisor), mailed_link(app, opened.lead)
    portal = client_for(app)
    assert portal.get(link).status_code == 200
    advisors.withdraw_advisor(
        app.uow(), opened.advisor, Meta("cli:coordinator", "moving"), app.clock
    )

    page = portal.get(link)
    assert page.status_code == 410 and '<html lang="en">' in page.text
    assert "You have withdrawn from the partnership program" in page.text
    sent = portal.post(link, data={"com_information": "4", "open_went_well": "x", "partial": "yes"})
    assert sent.status_code == 410 and "Merci" not in sent.text and "Thank" not in sent.text
    french = portal.get(link + "?lang=fr")
    assert french.status_code == 410 and "Vous vous êtes retiré(e) du programme" in french.text
    row = response_row(app, opened.advisor)
    assert (row.answers, row.answered_at, row.ended_because) == (None, None, "withdrawn")
    assert portal.get(lead_link).status_code == 200
    # nor does a coordinator's entry of a paper form for them go in
    from ppflow.domain.errors import InvalidInputError
    from ppflow.services.portal import record_response

    with pytest.raises(InvalidInputError, match="withdrew"):
        record_response(
            app.uow(),
            app.questionnaires(),
            opened.engagement,
            opened.advisor,
            {"com_information": "4"},
            app.clock,
            partial=True,
        )
