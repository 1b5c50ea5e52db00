"""Fewer, better e-mails: a file of referrals tells each coordinator once, with the count
and the codes; each referrer is thanked for each person, by name, although the outbox
keeps codes only (the name is read when the e-mail is rendered)."""

from __future__ import annotations

from sqlalchemy import select

from ppflow.adapters.orm import NotificationRow
from ppflow.domain.commands import Meta
from ppflow.services.referral_import import import_referrals
from tests import factories


def test_an_import_tells_each_coordinator_once_and_thanks_the_referrer_by_name(
    mail_app, smtp_server
):
    app = mail_app
    referrer = factories.staff(app)
    coordinators = [factories.staff(app, role="coordinator") for _ in range(2)]
    people = [("Odile", "Brassard"), ("Paulin", "Aubertin"), ("Quitterie", "Lemay")]
    data = "first_name,last_name,email,language,referred_by\n" + "".join(
        f"{first},{last},{first.lower()}@example.org,fr,{referrer}\n" for first, last in people
    )
    codes = import_referrals(app.uow(), data.encode(), Meta("test"), clock=app.clock).imported
    app.dispatch_pending()

    messages = smtp_server.messages()
    to = {c: [m for m in messages if m.header("X-Ppflow-Recipient") == c] for c in coordinators}
    for coordinator in coordinators:
        [notice] = to[coordinator]
        assert notice.header("X-Ppflow-Template") == "referrals_imported"
        assert all(code in notice.text for code in codes) and "3" in notice.header("Subject")
    thanks = [m for m in messages if m.header("X-Ppflow-Recipient") == referrer]
    assert len(thanks) == 3
    for first, last in people:
        assert sum(f"{first} {last}" in m.text for m in thanks) == 1
    with app.session_factory() as session:
        contexts = repr(session.scalars(select(NotificationRow.context)).all())
    assert not any(last in contexts for _, last in people)  # the outbox keeps codes only
