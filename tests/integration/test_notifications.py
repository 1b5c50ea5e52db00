"""The outbox and the dispatcher against a real SMTP server on loopback (the project's
aiosmtpd sink) and a real SQLite database. Every test counts and reads the sink."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ppflow.adapters.email.maildir import read_maildir
from ppflow.adapters.email.sending import NO_SMTPUTF8
from ppflow.adapters.email.sink import MailSink
from ppflow.adapters.orm import AdvisorRow, ContactRow
from ppflow.adapters.outbox import SqlOutbox
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.dispatcher import dispatch_once
from ppflow.services.notifications import InvalidRecipientError, queue_notification
from ppflow.services.ports import Outcome
from tests import factories
from tests.integration.conftest import free_port


def dispatch(app, **policy):
    """One pass with the app's settings; a seeded random source keeps jitter repeatable."""
    chosen = replace(app.dispatch_policy(), **policy)
    return dispatch_once(app.mail_ports(), clock=app.clock, policy=chosen, rng=random.Random(3))


def invited(app, referrer: str, **overrides) -> str:
    """A referral that has been invited: its invitation is queued."""
    code = factories.referral(app, referrer, **overrides)
    advisors.invite_advisor(app.uow(), code, Meta(actor="test"), app.clock)
    return code


def rows(app):
    return {e.id: e for e in SqlOutbox(app.session_factory).list(limit=10_000)}


def later(app, **delta) -> None:
    app.clock.moment += timedelta(**delta)


def by_template(messages, template: str):
    return [m for m in messages if m.header("X-Ppflow-Template") == template]


def change_contact(app, code: str, **values) -> None:
    """Write the contact row directly, as a bad correction or an erasure would."""
    with app.uow() as uow:
        advisor_id = uow.session.scalar(select(AdvisorRow.id).where(AdvisorRow.code == code))
        uow.session.execute(
            update(ContactRow).where(ContactRow.advisor_id == advisor_id).values(**values)
        )
        uow.commit()


def email_of(app, code: str) -> str:
    with app.uow() as uow:
        return uow.advisors.contact(code).email


def test_each_queued_notification_is_delivered_once_in_the_recipients_language(
    mail_app, smtp_server
):
    coordinator = factories.staff(mail_app, "coordinator")
    referrer = factories.staff(mail_app, "provider")
    french = invited(mail_app, referrer, first_name="Camille", language="fr")
    english = invited(mail_app, referrer, first_name="Jordan", language="en")

    report = dispatch(mail_app)

    # two acknowledgements to the referrer, two notices to the coordinator, two invitations
    assert (report.claimed, report.sent) == (6, 6)
    messages = smtp_server.messages()
    assert len(messages) == 6
    assert Counter(m.header("X-Ppflow-Template") for m in messages) == {
        "referral_acknowledgement": 2,
        "referral_received": 2,
        "invitation": 2,
    }
    invitations = {m.header("X-Ppflow-Recipient"): m for m in by_template(messages, "invitation")}
    assert invitations[french].header("Subject") == "Invitation à devenir patient partenaire"
    assert "Bonjour Camille," in invitations[french].text
    assert invitations[english].header("Subject") == "Invitation to become a patient advisor"
    assert "Hello Jordan," in invitations[english].text
    assert email_of(mail_app, english) in invitations[english].header("To")
    assert "withdraw at any time" in invitations[english].html
    received = by_template(messages, "referral_received")
    assert {m.header("X-Ppflow-Recipient") for m in received} == {coordinator}
    # the outbox knows each Message-ID the sink received
    sent = rows(mail_app)
    assert {e.status for e in sent.values()} == {"sent"}
    assert {e.message_id for e in sent.values()} == {m.header("Message-ID") for m in messages}

    assert dispatch(mail_app).claimed == 0
    assert smtp_server.count() == 6


def test_server_down_for_a_whole_pass_loses_nothing_and_each_message_arrives_once_after(
    mail_app, smtp_server
):
    factories.staff(mail_app, "coordinator")
    referrer = factories.staff(mail_app, "provider")
    for _ in range(4):
        invited(mail_app, referrer)
    smtp_server.down()
    start = mail_app.clock.now()

    report = dispatch(mail_app, retry_base_seconds=60)

    assert (report.claimed, report.sent, report.retried) == (12, 0, 12)
    assert smtp_server.count() == 0
    retries = set()
    for entry in rows(mail_app).values():
        assert entry.status == "pending"
        assert entry.attempts == 1
        assert "cannot connect" in entry.last_error
        # first retry: the 60 s base, shortened by up to half of it (the default jitter)
        wait = entry.next_attempt_at - start
        assert timedelta(seconds=30) <= wait <= timedelta(seconds=60), wait
        retries.add(entry.next_attempt_at)
    assert len(retries) > 1  # the jitter spreads rows that failed together

    smtp_server.up()
    assert dispatch(mail_app).claimed == 0  # not due yet: nothing is sent early
    later(mail_app, seconds=61)
    assert dispatch(mail_app).sent == 12
    messages = smtp_server.messages()
    assert len(messages) == 12
    assert len({m.header("Message-ID") for m in messages}) == 12
    later(mail_app, hours=1)
    assert dispatch(mail_app).claimed == 0
    assert smtp_server.count() == 12


def test_a_recipient_rejected_with_550_fails_alone_and_every_coordinator_is_told(
    mail_app, smtp_server
):
    coordinators = {factories.staff(mail_app, "coordinator") for _ in range(2)}
    referrer = factories.staff(mail_app, "provider")
    kept = [invited(mail_app, referrer) for _ in range(3)]
    refused = invited(mail_app, referrer)
    address = email_of(mail_app, refused)
    smtp_server.reject(address)

    report = dispatch(mail_app)

    assert (report.failed, report.notices) == (1, 2), report.problems
    invitations = by_template(smtp_server.messages(), "invitation")
    assert sorted(m.header("X-Ppflow-Recipient") for m in invitations) == sorted(kept)
    failed = [e for e in rows(mail_app).values() if e.status == "failed"]
    assert [(e.template, e.recipient_code) for e in failed] == [("invitation", refused)]
    # the reply is kept, the address is not, and nothing in angle brackets is left of it
    assert failed[0].last_error == "550 5.1.1 (address): mailbox unavailable"
    assert failed[0].attempts == 1

    dispatch(mail_app)  # delivers the notices

    notices = by_template(smtp_server.messages(), "delivery_failed")
    assert {m.header("X-Ppflow-Recipient") for m in notices} == coordinators
    for notice in notices:
        assert refused in notice.text and refused not in notice.header("Subject")
        assert "550 5.1.1" in notice.text and "(address)" in notice.text
        assert f"ppflow outbox retry {failed[0].id}" in notice.text
        assert address not in notice.text


def test_a_coordinator_can_requeue_a_failed_notification_and_it_is_delivered_once(
    mail_app, smtp_server
):
    referrer = factories.staff(mail_app, "provider")
    code = invited(mail_app, referrer)
    smtp_server.reject(email_of(mail_app, code))
    dispatch(mail_app)
    failed = [e.id for e in rows(mail_app).values() if e.status == "failed"]
    assert len(failed) == 1

    smtp_server.accept(email_of(mail_app, code))
    outbox = SqlOutbox(mail_app.session_factory)
    sent_ids = [e.id for e in rows(mail_app).values() if e.status == "sent"]
    assert outbox.retry(mail_app.clock.now(), failed + sent_ids) == failed  # sent rows stay
    dispatch(mail_app)

    invitations = by_template(smtp_server.messages(), "invitation")
    assert [m.header("X-Ppflow-Recipient") for m in invitations] == [code]
    assert rows(mail_app)[failed[0]].status == "sent"
    assert smtp_server.count() == 2  # the acknowledgement once, the invitation once


def test_a_4xx_reply_is_retried_with_growing_backoff_until_the_row_is_dead(mail_app, smtp_server):
    coordinator = factories.staff(mail_app, "coordinator")
    referrer = factories.staff(mail_app, "provider")
    code = invited(mail_app, referrer)
    smtp_server.reject(email_of(mail_app, code), "451 4.3.0 mailbox busy, try later")
    dispatch(mail_app)  # everything else goes out now
    invitation = next(e for e in rows(mail_app).values() if e.template == "invitation")
    waits = []
    for attempt in range(1, 5):
        entry = rows(mail_app)[invitation.id]
        assert (entry.status, entry.attempts) == ("pending", attempt)
        assert entry.last_error.startswith("451")
        waits.append((entry.next_attempt_at - mail_app.clock.now()).total_seconds())
        mail_app.clock.moment = entry.next_attempt_at
        dispatch(mail_app, max_attempts=5, retry_base_seconds=10)
    # 60 s (the settings' base), then 20, 40 and 80 s (a base of 10 s, doubling), each
    # shortened by at most half by the jitter
    for nominal, wait in zip((60, 20, 40, 80), waits, strict=True):
        assert nominal / 2 <= wait <= nominal
    assert waits[1] < waits[2] < waits[3]
    entry = rows(mail_app)[invitation.id]
    assert (entry.status, entry.attempts) == ("dead", 5)
    dispatch(mail_app)
    notices = by_template(smtp_server.messages(), "delivery_failed")
    assert [n.header("X-Ppflow-Recipient") for n in notices] == [coordinator]
    assert "abandonné après plusieurs essais" in notices[0].text  # status dead, in French
    assert by_template(smtp_server.messages(), "invitation") == []


def test_a_connection_lost_mid_batch_retries_the_unsent_and_never_resends_the_sent(
    mail_app, smtp_server
):
    referrer = factories.staff(mail_app, "provider")
    for _ in range(10):
        factories.referral(mail_app, referrer)  # ten acknowledgements to the referrer
    smtp_server.go_down_after(4)

    report = dispatch(mail_app)

    assert (report.sent, report.retried) == (4, 6)
    first = {m.header("Message-ID") for m in smtp_server.messages()}
    assert len(first) == 4
    state = rows(mail_app)
    assert {e.message_id for e in state.values() if e.status == "sent"} == first
    assert sum(e.status == "pending" for e in state.values()) == 6

    smtp_server.up()
    later(mail_app, hours=2)
    assert dispatch(mail_app).sent == 6
    later(mail_app, hours=2)
    assert dispatch(mail_app).claimed == 0

    messages = smtp_server.messages()
    ids = [m.header("Message-ID") for m in messages]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert {e.message_id for e in rows(mail_app).values()} == set(ids)


def test_an_invalid_recipient_address_is_refused_when_the_notification_is_queued(mail_app):
    referrer = factories.staff(mail_app, "provider")
    code = factories.referral(mail_app, referrer)
    change_contact(mail_app, code, email="ada@")
    before = len(rows(mail_app))

    with mail_app.uow() as uow, pytest.raises(InvalidRecipientError) as refused:
        queue_notification(
            uow,
            template="invitation",
            recipient_kind="advisor",
            recipient_code=code,
            context={"advisor": code},
            idempotency_key=f"invitation:{code}",
            at=mail_app.clock.now(),
        )
    assert f"advisor {code} has no valid e-mail address" in str(refused.value)
    assert "ada@" not in str(refused.value)
    assert len(rows(mail_app)) == before


def test_queueing_twice_with_the_same_key_makes_one_row_and_one_message(mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    code = factories.referral(mail_app, referrer)
    for _ in range(2):
        with mail_app.uow() as uow:
            queue_notification(
                uow,
                template="invitation",
                recipient_kind="advisor",
                recipient_code=code,
                context={"advisor": code},
                idempotency_key=f"invitation:{code}",
                at=mail_app.clock.now(),
            )
            uow.commit()
    dispatch(mail_app)
    assert len(by_template(smtp_server.messages(), "invitation")) == 1
    assert len([e for e in rows(mail_app).values() if e.template == "invitation"]) == 1


def test_a_template_that_raises_fails_its_row_only_and_the_others_go_out(mail_app, smtp_server):
    coordinator = factories.staff(mail_app, "coordinator")
    with mail_app.uow() as uow:
        for day, items in (
            ("2026-03-01", [{"advisor": "PA-2B8NQW", "stage": "invited", "days": 9}]),
            ("2026-03-02", [{"advisor": "PA-2B8NQW"}]),  # no stage, no days: raises
            ("2026-03-03", []),
        ):
            queue_notification(
                uow,
                template="reminder_digest",
                recipient_kind="staff",
                recipient_code=coordinator,
                context={"date": day, "items": items},
                idempotency_key=f"reminder_digest:{day}",
                at=mail_app.clock.now(),
            )
        uow.commit()

    report = dispatch(mail_app)

    assert (report.sent, report.failed, report.notices) == (2, 1, 0)
    subjects = sorted(m.header("Subject") for m in smtp_server.messages())
    assert subjects == [
        "Dossiers en attente au 1er mars 2026 (1)",
        "Dossiers en attente au 3 mars 2026 (0)",
    ]
    failed = [e for e in rows(mail_app).values() if e.status == "failed"]
    assert [e.context["date"] for e in failed] == ["2026-03-02"]
    assert "template reminder_digest/fr failed: ValueError" in failed[0].last_error


def test_a_name_containing_html_is_escaped_in_the_html_part_only(mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    name = '<img src=x onerror="alert(1)">Zoé & Co'
    code = invited(mail_app, referrer, first_name=name, language="fr")

    dispatch(mail_app)

    (message,) = by_template(smtp_server.messages(), "invitation")
    assert message.header("X-Ppflow-Recipient") == code
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Zoé &amp; Co" in message.html
    assert "<img" not in message.html
    assert f"Bonjour {name}," in message.text


def test_an_erased_contact_gets_no_mail(mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    kept = invited(mail_app, referrer)
    erased = invited(mail_app, referrer)
    change_contact(
        mail_app,
        erased,
        first_name="",
        last_name="",
        email="",
        phone="",
        erased_at=mail_app.clock.now(),
    )

    report = dispatch(mail_app)

    recipients = [m.header("X-Ppflow-Recipient") for m in smtp_server.messages()]
    assert erased not in recipients and kept in recipients
    assert report.notices == 0
    (entry,) = [e for e in rows(mail_app).values() if e.recipient_code == erased]
    assert entry.status == "failed" and "erased" in entry.last_error


def test_a_claim_whose_lease_ran_out_is_claimed_again_and_sent_once(mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    factories.referral(mail_app, referrer)
    outbox = SqlOutbox(mail_app.session_factory)
    now = mail_app.clock.now()
    # a dispatcher claims the row and dies before sending it
    (claimed,) = outbox.claim(now, 10, now + timedelta(seconds=300), "dead-dispatcher")
    assert claimed.status == "sending"

    assert dispatch(mail_app, lease_seconds=300).claimed == 0  # still held
    assert smtp_server.count() == 0
    later(mail_app, seconds=301)
    report = dispatch(mail_app, lease_seconds=300)
    assert report.sent == 1
    assert smtp_server.count() == 1
    assert rows(mail_app)[claimed.id].attempts == 2

    # the first dispatcher wakes up: its outcome no longer counts
    outbox.settle("dead-dispatcher", mail_app.clock.now(), [Outcome(claimed.id, "failed", "x")])
    assert rows(mail_app)[claimed.id].status == "sent"
    later(mail_app, hours=1)
    assert dispatch(mail_app).claimed == 0
    assert smtp_server.count() == 1


def test_several_dispatchers_at_once_send_every_message_exactly_once(mail_app, smtp_server):
    coordinator = factories.staff(mail_app, "coordinator")
    with mail_app.uow() as uow:
        for n in range(120):
            queue_notification(
                uow,
                template="reminder_digest",
                recipient_kind="staff",
                recipient_code=coordinator,
                context={"date": f"day {n}", "items": []},
                idempotency_key=f"digest:{n}",
                at=mail_app.clock.now(),
            )
        uow.commit()

    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(lambda _: dispatch(mail_app, batch_size=10), range(3)))

    assert sum(r.sent for r in reports) == 120
    subjects = [m.header("Subject") for m in smtp_server.messages()]
    assert len(subjects) == 120 and len(set(subjects)) == 120


def test_a_dispatcher_whose_lease_ran_out_cannot_record_over_the_newer_claim(mail_app):
    referrer = factories.staff(mail_app, "provider")
    factories.referral(mail_app, referrer)
    outbox = SqlOutbox(mail_app.session_factory)
    now = mail_app.clock.now()
    (slow,) = outbox.claim(now, 10, now + timedelta(seconds=60), "slow")
    later(mail_app, seconds=61)
    now = mail_app.clock.now()
    (fresh,) = outbox.claim(now, 10, now + timedelta(seconds=60), "fresh")
    assert fresh.id == slow.id and fresh.attempts == 2

    outbox.settle("slow", now, [Outcome(slow.id, "failed", "550 too late")])
    assert rows(mail_app)[slow.id].status == "sending"
    outbox.settle("fresh", now, [Outcome(fresh.id, "sent", message_id="<m@x>")])
    entry = rows(mail_app)[slow.id]
    assert (entry.status, entry.message_id, entry.last_error) == ("sent", "<m@x>", None)


@pytest.mark.parametrize("address", ["éric.caron.7@example.org", "ève.accent@example.org"])
def test_an_internationalised_address_is_accepted_at_intake_and_delivered_with_smtputf8(
    mail_app, smtp_server, address
):
    referrer = factories.staff(mail_app, "provider")
    code = invited(mail_app, referrer, first_name="Ève", email=address)

    report = dispatch(mail_app)

    assert (report.sent, report.problems) == (2, [])  # the acknowledgement and the invitation
    [invitation] = by_template(smtp_server.messages(), "invitation")
    assert invitation.header("Delivered-To") == address
    assert address in invitation.header("To")
    assert "Bonjour Ève," in invitation.text
    assert rows(mail_app)[int(invitation.header("X-Ppflow-Notification"))].status == "sent"
    assert invitation.header("X-Ppflow-Recipient") == code


def test_an_internationalised_address_fails_for_good_when_the_server_lacks_smtputf8(
    mail_app, tmp_path
):
    coordinator = factories.staff(mail_app, "coordinator")
    referrer = factories.staff(mail_app, "provider")
    code = invited(mail_app, referrer, email="ève.accent@example.org")
    port = free_port()
    settings = mail_app.settings.smtp.model_copy(update={"port": port})
    mail_app.settings = mail_app.settings.model_copy(update={"smtp": settings})

    with MailSink(tmp_path / "old", port=port, smtputf8=False) as old_server:
        report = dispatch(mail_app)
        delivered = read_maildir(old_server.maildir)

    [invitation] = [e for e in rows(mail_app).values() if e.template == "invitation"]
    assert invitation.status == "failed" and invitation.recipient_code == code
    assert invitation.last_error == NO_SMTPUTF8
    assert "ève" not in invitation.last_error
    assert report.failed == 1 and report.notices == 1  # the coordinator is told
    assert {m.header("X-Ppflow-Template") for m in delivered} == {
        "referral_acknowledgement",
        "referral_received",
    }
    assert all(m.header("X-Ppflow-Recipient") != code for m in delivered)
    [notice] = [e for e in rows(mail_app).values() if e.template == "delivery_failed"]
    assert notice.recipient_code == coordinator


def test_a_row_left_sending_by_a_dispatcher_that_died_is_requeued_once_its_lease_is_over(
    mail_app, smtp_server
):
    factories.staff(mail_app, "coordinator")
    referrer = factories.staff(mail_app, "provider")
    factories.referral(mail_app, referrer)  # an acknowledgement and a notice to coordinators
    outbox = SqlOutbox(mail_app.session_factory)
    now = mail_app.clock.now()
    died, alive = outbox.claim(now, 1, now + timedelta(seconds=30), "died") + outbox.claim(
        now, 1, now + timedelta(seconds=300), "alive"
    )
    later(mail_app, seconds=31)

    assert outbox.retry(mail_app.clock.now(), [died.id, alive.id]) == [died.id]
    assert outbox.retry(mail_app.clock.now(), status="sending") == []  # the other is held
    entry = rows(mail_app)[died.id]
    assert (entry.status, entry.attempts, entry.next_attempt_at) == (
        "pending",
        0,
        mail_app.clock.now(),
    )
    assert dispatch(mail_app).sent == 1  # the other is still held by its dispatcher
    assert smtp_server.count() == 1
    # the dispatcher that died cannot record over the requeued row
    outbox.settle("died", mail_app.clock.now(), [Outcome(died.id, "failed", "x")])
    assert rows(mail_app)[died.id].status == "sent"


def test_a_sender_and_a_recipient_named_with_accents_arrive_encoded_and_decode_to_their_names(
    mail_app, smtp_server
):
    sender = "Équipe partenariat <partenariat@hopital.example>"
    smtp = mail_app.settings.smtp.model_copy(update={"sender": sender})
    mail_app.settings = mail_app.settings.model_copy(update={"smtp": smtp})
    referrer = factories.staff(mail_app, "provider")
    invited(mail_app, referrer, first_name="Ève", last_name="Lévesque-Côté")

    report = dispatch(mail_app)

    assert (report.sent, report.problems) == (2, [])
    [invitation] = by_template(smtp_server.messages(), "invitation")
    [path] = [p for p in (smtp_server.maildir / "new").iterdir() if invitation.key in p.name]
    head = path.read_bytes().split(b"\n\n", 1)[0]
    assert head.isascii()  # the names went out as encoded words, not as raw UTF-8
    assert b"=?utf-8?" in head
    [from_] = invitation.message["From"].addresses
    assert (from_.display_name, from_.addr_spec) == (
        "Équipe partenariat",
        "partenariat@hopital.example",
    )
    [to] = invitation.message["To"].addresses
    assert to.display_name == "Ève Lévesque-Côté"
    assert invitation.header("Message-ID").endswith("@hopital.example>")
    assert "Bonjour Ève," in invitation.text
