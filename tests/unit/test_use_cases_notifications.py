"""Queueing notifications, and one dispatcher pass through fake outbox, directory,
renderer and mailer over the in-memory unit of work's notifications."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import InvalidInputError
from ppflow.services import advisors
from ppflow.services.dispatcher import dispatch_once, dispatch_once_async
from ppflow.services.notifications import (
    LEASE_RUNNING_OUT,
    DispatchPolicy,
    DispatchPorts,
    InvalidRecipientError,
    queue_notification,
)
from tests.unit.fakes import (
    START,
    FakeDirectory,
    FakeMailer,
    FakeOutbox,
    FakeRenderer,
    advisor_at,
    organization,
    referral,
)


@pytest.fixture
def o():
    return organization()


def ports(o, mailer=None, renderer=None, erased=()) -> DispatchPorts:
    return DispatchPorts(
        outbox=FakeOutbox(o.uow.tables),
        directory=FakeDirectory(o.uow.tables, erased),
        renderer=renderer or FakeRenderer(),
        mailer=mailer or FakeMailer(),
        sender="partenariat@chu.example.org",
    )


def queue(o, **changes):
    values = dict(
        template="invitation",
        recipient_kind="advisor",
        recipient_code=None,
        context={},
        idempotency_key="k",
        at=START,
    )
    values.update(changes)
    with o.uow:
        queued = queue_notification(o.uow, **values)
        o.uow.commit()
    return queued


# ------------------------------------------------------------------------- queueing


def test_a_notification_goes_out_in_the_recipients_language_and_its_key_queues_once(o):
    code = advisor_at(o, "identified", language="en")

    assert queue(o, recipient_code=code, context={"advisor": code}, idempotency_key="x:1")
    assert not queue(o, recipient_code=code, context={"advisor": code}, idempotency_key="x:1")

    [row] = [n for n in o.uow.queued("invitation")]
    assert (row.language, row.status, row.next_attempt_at) == ("en", "pending", START)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"template": "birthday"}, "unknown notification 'birthday'"),
        ({"recipient_kind": "staff"}, "'invitation' goes to advisor, not to staff"),
        ({"context": {}}, "'invitation' needs advisor in its context"),
        ({"context": {"advisor": "x", "lang": "de"}}, "context keys lang are reserved"),
        ({"context": {"advisor": START}}, "is not plain data"),
    ],
)
def test_a_notification_that_could_never_be_sent_is_refused_when_queued(o, changes, message):
    code = advisor_at(o, "identified")
    before = len(o.uow.queued())
    with pytest.raises(InvalidInputError, match=message):
        queue(o, **{"recipient_code": code, "context": {"advisor": code}, **changes})
    assert len(o.uow.queued()) == before


def test_a_recipient_without_a_valid_address_is_refused_without_naming_the_address(o):
    code = advisor_at(o, "identified")
    o.uow.tables.contacts[code].email = "marie at home"

    with pytest.raises(InvalidRecipientError) as error:
        advisors.invite_advisor(o.uow, code, Meta(), o.clock)

    assert "has no valid e-mail address" in str(error.value)
    assert "marie at home" not in str(error.value)
    assert o.uow.advisors.get(code).stage == "identified"  # the move rolled back with it


# ------------------------------------------------------------------------- dispatch


def test_a_pass_sends_what_is_due_marks_it_sent_and_sends_it_only_once(o):
    code = advisor_at(o, "invited", first_name="Aisha", last_name="Khan")
    mailer = FakeMailer()

    report = dispatch_once(ports(o, mailer), clock=o.clock)
    again = dispatch_once(ports(o, mailer), clock=o.clock)

    assert report.sent == report.claimed == len(o.uow.queued()) == 3
    assert again.claimed == 0
    invitation = next(m for m in mailer.sent if ("X-Ppflow-Template", "invitation") in m.headers)
    assert invitation.to_name == "Aisha Khan"
    assert invitation.subject == "[fr] invitation for Aisha Khan"
    assert ("X-Ppflow-Recipient", code) in invitation.headers
    assert invitation.message_id.endswith("@chu.example.org>")
    assert {n.status for n in o.uow.queued()} == {"sent"}
    assert all(n.sent_at == START for n in o.uow.queued())


def test_mail_refused_by_the_server_fails_and_the_coordinators_are_told_once(o):
    code = advisor_at(o, "invited")
    address = o.uow.tables.contacts[code].email

    report = dispatch_once(ports(o, FakeMailer(refuse={address})), clock=o.clock)

    assert (report.failed, report.notices) == (1, 1)
    [invitation] = o.uow.queued("invitation")
    assert invitation.status == "failed" and address not in invitation.last_error
    [notice] = o.uow.queued("delivery_failed")
    assert notice.recipient_code == o.coordinator
    assert notice.context["failed_recipient"] == code
    assert notice.idempotency_key == f"delivery_failed:{invitation.id}:1:{o.coordinator}"


def test_a_deferred_message_waits_for_its_backoff_and_goes_on_a_later_pass(o):
    code = advisor_at(o, "invited")
    address = o.uow.tables.contacts[code].email
    mailer = FakeMailer(defer={address})
    policy = DispatchPolicy(retry_base_seconds=60, jitter=0.5)

    first = dispatch_once(ports(o, mailer), clock=o.clock, policy=policy, rng=random.Random(1))

    [invitation] = o.uow.queued("invitation")
    assert (first.retried, invitation.status, invitation.attempts) == (1, "pending", 1)
    assert (
        START + timedelta(seconds=30) <= invitation.next_attempt_at <= START + timedelta(seconds=60)
    )
    assert dispatch_once(ports(o, mailer), clock=o.clock).claimed == 0
    mailer.defer.clear()
    o.later(minutes=2)
    assert dispatch_once(ports(o, mailer), clock=o.clock).sent == 1


def test_mail_to_an_erased_person_or_from_a_broken_template_is_not_sent(o):
    erased = advisor_at(o, "invited")
    renderer = FakeRenderer(broken={"referral_received"})

    report = dispatch_once(ports(o, renderer=renderer, erased={erased}), clock=o.clock)

    by_template = {n.template: n for n in o.uow.queued()}
    assert by_template["invitation"].last_error == "recipient's personal data was erased; not sent"
    assert by_template["referral_received"].status == "failed"
    assert (
        "template referral_received/fr failed: KeyError"
        in by_template["referral_received"].last_error
    )
    assert by_template["referral_acknowledgement"].status == "sent"
    assert (report.sent, report.failed) == (1, 2)


def test_a_row_whose_attempts_never_finished_is_given_up_on(o):
    advisor_at(o, "identified")
    for row in o.uow.queued():
        row.attempts = 8  # claimed eight times by dispatchers that died

    report = dispatch_once(ports(o), clock=o.clock)

    assert report.dead == 2
    assert {n.status for n in o.uow.queued("referral_received")} == {"dead"}


def test_the_pass_respects_its_row_limit(o):
    advisor_at(o, "invited")
    assert dispatch_once(ports(o), clock=o.clock, max_rows=2).claimed == 2
    assert [n.status for n in o.uow.queued()].count("pending") == 1


def test_inside_an_event_loop_the_synchronous_pass_says_to_await_the_async_one(o):
    async def inside():
        with pytest.raises(RuntimeError, match="await dispatch_once_async"):
            dispatch_once(ports(o), clock=o.clock)
        return await dispatch_once_async(ports(o), clock=o.clock)

    advisor_at(o, "identified")
    assert asyncio.run(inside()).sent == 2


# ---------------------------------------------------- what a dispatcher may send twice


def digests(o, count: int) -> None:
    for n in range(count):
        queue(
            o,
            template="reminder_digest",
            recipient_kind="staff",
            recipient_code=o.coordinator,
            context={"date": f"day {n}", "items": []},
            idempotency_key=f"digest:{n}",
        )


@dataclass
class RunningClock:
    """A clock that runs with real time from START, for the lease renewal's timer."""

    began: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        return START + timedelta(seconds=time.monotonic() - self.began)


def test_each_answer_is_written_before_its_connection_gets_another_message(o):
    digests(o, 60)
    rows = {n.id: n for n in o.uow.queued()}
    mailer = FakeMailer(concurrency=3)
    unwritten: list[int] = []  # sent but not yet recorded, as each message goes out
    mailer.watch = lambda _: unwritten.append(
        sum(1 for m in mailer.sent if rows[m.key].status == "sending")
    )

    report = dispatch_once(ports(o, mailer), clock=o.clock, policy=DispatchPolicy(batch_size=25))

    assert report.sent == len(unwritten) == 60
    # Were the dispatcher to die now, these and the three in flight would go out again.
    assert max(unwritten) <= mailer.concurrency - 1


def test_answers_that_arrive_during_a_write_are_written_together_in_the_next(o):
    digests(o, 40)
    mailer = FakeMailer(concurrency=4)
    dispatch = ports(o, mailer)
    groups: list[int] = []  # outcomes in each write
    settle = dispatch.outbox.settle

    def slow_settle(token, now, outcomes, notices=()):
        time.sleep(0.01)  # a commit that waits on the disk
        groups.append(len(outcomes))
        return settle(token, now, outcomes, notices)

    dispatch.outbox.settle = slow_settle
    report = dispatch_once(dispatch, clock=o.clock)

    assert report.sent == sum(groups) == 40
    assert len(groups) <= 40 // 2  # the connections' answers went together
    assert max(groups) <= mailer.concurrency  # never more unrecorded than connections


def test_a_pass_longer_than_its_lease_renews_the_lease_and_sends_everything(o):
    digests(o, 20)
    rows = {n.id: n for n in o.uow.queued()}
    clock = RunningClock()
    held: list[bool] = []  # whether the outbox still holds each row as it goes out
    mailer = FakeMailer(
        delay=0.005, watch=lambda m: held.append(rows[m.key].lease_until > clock.now())
    )
    dispatch = ports(o, mailer)
    policy = DispatchPolicy(batch_size=20, lease_seconds=0.045)  # renewed every 0.015 s

    report = dispatch_once(dispatch, clock=clock, policy=policy)

    assert report.sent == 20 and not report.problems
    assert held == [True] * 20
    assert dispatch.outbox.renewals >= 3


def test_a_message_is_not_sent_once_the_claims_lease_may_have_run_out(o):
    digests(o, 6)
    mailer = FakeMailer()
    mailer.watch = lambda _: o.later(seconds=10)  # each message takes ten seconds
    policy = DispatchPolicy(lease_seconds=30)  # renewed every 10 s: not within this pass

    report = dispatch_once(ports(o, mailer), clock=o.clock, policy=policy)

    # The third goes out at +20 s with 10 s of lease left; at +30 s the claim may be over.
    assert report.sent == len(mailer.sent) == 3
    assert [status for _, status, _ in report.problems] == ["sending"] * 3
    assert all(reason == LEASE_RUNNING_OUT for _, _, reason in report.problems)
    statuses = sorted(n.status for n in o.uow.queued())
    assert statuses == ["sending"] * 3 + ["sent"] * 3  # the next pass takes them


def test_a_pass_whose_lease_cannot_be_renewed_stops_sending_and_ends(o):
    digests(o, 20)
    dispatch = ports(o, FakeMailer(delay=0.005))
    dispatch.outbox.unreachable = True
    policy = DispatchPolicy(batch_size=20, lease_seconds=0.045)

    report = dispatch_once(dispatch, clock=RunningClock(), policy=policy)

    assert 0 < report.sent < 20
    assert len(report.problems) == 20 - report.sent
    assert dispatch.outbox.renewals >= 1


# ------------------------------------------- what can never be sent is refused at intake


@pytest.mark.parametrize(
    ("field_name", "value", "what"),
    [
        ("first_name", "Eve\r\nBcc: x@y.example", "first name"),
        ("last_name", "Roy\x1b[31m", "last name"),
        ("email", "eve@example.org\nBcc: x@y.example", "e-mail"),
        ("phone", "514-555-0101\r\n", "phone"),
        ("first_name", "Ève\u2028Bcc", "first name"),
        ("context", "sent from the clinic\x00", "context"),
    ],
)
def test_a_referral_with_control_characters_is_refused_without_quoting_them(
    o, field_name, value, what
):
    before = len(o.uow.tables.advisors)
    with pytest.raises(InvalidInputError) as error:
        advisors.register_referral(o.uow, referral(o, **{field_name: value}), o.clock)

    assert f"{what} contains control characters" in str(error.value)
    assert value.strip() not in str(error.value) and "Bcc" not in str(error.value)
    assert len(o.uow.tables.advisors) == before and not o.uow.queued()


def test_line_breaks_in_a_referrals_context_and_accented_addresses_are_accepted(o):
    code = advisors.register_referral(
        o.uow,
        referral(o, email="éric.caron.7@example.org", context="Vu en clinique.\r\nRappeler."),
        o.clock,
    ).code
    assert o.uow.tables.contacts[code].email == "éric.caron.7@example.org"


def test_a_pass_that_cannot_reach_the_outbox_raises_that_error_itself(o):
    advisor_at(o, "invited")
    dispatch = ports(o)

    def unreachable(*args):
        raise ConnectionError("the outbox cannot be reached")

    dispatch.outbox.claim = unreachable
    # not wrapped in an exception group, so that the CLI's error handler knows it
    with pytest.raises(ConnectionError, match="cannot be reached"):
        dispatch_once(dispatch, clock=o.clock)
