"""Every e-mail an advisor receives carries a personal link with which they withdraw."""

from __future__ import annotations

import re

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
