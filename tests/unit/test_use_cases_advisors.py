"""The advisor lifecycle's use cases, run on the in-memory unit of work."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ppflow.domain.commands import ChangeAdvisorStage, Meta
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    DuplicateError,
    GuardFailedError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from ppflow.services import advisors as a
from tests.unit.fakes import START, advisor_at, organization, referral

COORDINATOR = Meta(actor="camille", reason="checked by phone")


@pytest.fixture
def o():
    return organization()


# ---------------------------------------------------------------------- referral


def test_a_referral_enters_the_pool_as_identified_and_tells_the_referrer_and_coordinators(o):
    change = a.register_referral(o.uow, referral(o, first_name="Aisha"), o.clock)

    assert (change.from_state, change.to_state) == (None, "identified")
    assert o.uow.committed
    assert o.uow.advisors.contact(change.code).first_name == "Aisha"
    assert o.uow.advisors.referrer(change.code) == o.referrer
    ack, received = o.uow.queued("referral_acknowledgement"), o.uow.queued("referral_received")
    assert [(n.recipient_code, n.idempotency_key) for n in ack] == [
        (o.referrer, f"referral_acknowledgement:{change.code}")
    ]
    assert [(n.recipient_code, n.idempotency_key) for n in received] == [
        (o.coordinator, f"referral_received:{change.code}:{o.coordinator}")
    ]
    [logged] = o.uow.log("advisor")
    assert (logged.actor, logged.reason) == ("system", f"referred by {o.referrer}")
    assert ack[0].transition_id == received[0].transition_id == len(o.uow.log())


def test_a_referral_names_every_problem_with_it_and_writes_nothing(o):
    bad = referral(o, first_name=" ", email="not-an-address", language="de")

    with pytest.raises(InvalidInputError) as error:
        a.register_referral(o.uow, bad, o.clock)

    assert "first name is required" in str(error.value)
    assert "e-mail 'not-an-address' is not a valid address" in str(error.value)
    assert "language 'de'" in str(error.value)
    assert o.uow.advisors.count_by_stage() == {}


def test_a_referral_from_an_unknown_referrer_is_refused(o):
    with pytest.raises(NotFoundError, match="no staff member \\(referrer\\) 'nobody@x.org'"):
        a.register_referral(o.uow, referral(o, referred_by="nobody@x.org"), o.clock)
    assert o.uow.queued() == []


def test_a_referrer_may_be_named_by_e_mail_in_any_case(o):
    change = a.register_referral(o.uow, referral(o, referred_by="DOMINIQUE@example.org"), o.clock)
    assert o.uow.advisors.referrer(change.code) == o.referrer


def test_the_same_person_referred_twice_is_refused_naming_the_advisor_already_in_the_pool(o):
    first = a.register_referral(o.uow, referral(o, phone="514 555 0101"), o.clock)

    with pytest.raises(DuplicateError, match=first.code):
        a.register_referral(o.uow, referral(o, phone="1 (514) 555-0101"), o.clock)
    assert o.uow.advisors.count_by_stage() == {"identified": 1}


def test_a_replayed_referral_request_adds_no_second_advisor(o):
    cmd = referral(o, meta=Meta(request_id="form-42"))
    first = a.register_referral(o.uow, cmd, o.clock)
    again = a.register_referral(o.uow, replace(cmd, email="other@example.org"), o.clock)

    assert again.replayed and again.code == first.code
    assert o.uow.advisors.count_by_stage() == {"identified": 1}


# -------------------------------------------------------------------- recruitment


def test_an_invitation_is_queued_and_tied_to_the_move_to_invited(o):
    code = advisor_at(o, "identified")

    change = a.invite_advisor(o.uow, code, COORDINATOR, o.clock)

    assert (change.from_state, change.to_state) == ("identified", "invited")
    [invitation] = o.uow.queued("invitation")
    assert (invitation.recipient_code, invitation.idempotency_key) == (code, f"invitation:{code}")
    assert invitation.language == "fr"
    logged = o.uow.log("advisor")[-1]
    assert (logged.actor, logged.reason, logged.to_state) == (
        "camille",
        "checked by phone",
        "invited",
    )
    assert invitation.transition_id == len(o.uow.log())


def test_inviting_twice_names_the_current_state_and_what_is_allowed_from_it(o):
    code = advisor_at(o, "invited")

    with pytest.raises(IllegalTransitionError) as error:
        a.invite_advisor(o.uow, code, COORDINATOR, o.clock)

    assert error.value.current == "invited"
    assert set(error.value.allowed) == {"screening", "declined", "withdrawn", "on_hold"}
    assert len(o.uow.queued("invitation")) == 1


def test_a_replayed_invitation_changes_nothing_and_says_so(o):
    code = advisor_at(o, "identified")
    meta = Meta(actor="flow", request_id="invite-1")
    a.invite_advisor(o.uow, code, meta, o.clock)
    o.later(hours=1)

    again = a.invite_advisor(o.uow, code, meta, o.clock)

    assert again.replayed and again.to_state == "invited" and again.at == START
    assert len([t for t in o.uow.log("advisor") if t.code == code]) == 2


def test_a_yes_to_the_invitation_moves_to_screening_and_a_no_to_declined(o):
    yes, no = advisor_at(o, "invited"), advisor_at(o, "invited")

    assert (
        a.record_invitation_answer(o.uow, yes, True, COORDINATOR, o.clock).to_state == "screening"
    )
    assert a.record_invitation_answer(o.uow, no, False, COORDINATOR, o.clock).to_state == "declined"
    assert o.uow.advisors.get(no).stage == "declined"


def test_a_retained_advisor_gets_consents_and_a_welcome_listing_the_required_modules(o):
    code = advisor_at(o, "screening")

    change = a.apply_screening_outcome(o.uow, code, "retained", COORDINATOR, "v2", clock=o.clock)

    assert change.to_state == "recruited"
    consents = o.uow.advisors.consents(code)
    assert [(c.purpose, c.wording_version) for c in consents] == [
        ("participation", "v2"),
        ("confidentiality", "v2"),
    ]
    assert all(c.valid_at(START) for c in consents)
    [welcome] = o.uow.queued("welcome")
    assert welcome.idempotency_key == f"welcome:{code}"
    assert [m["code"] for m in welcome.context["modules"]] == ["CONF-1", "PP-101"]


def test_an_invited_advisor_retained_passes_through_screening_in_one_transaction(o):
    code = advisor_at(o, "invited")

    a.apply_screening_outcome(o.uow, code, "retained", COORDINATOR, clock=o.clock)

    moves = [(t.from_state, t.to_state) for t in o.uow.log("advisor") if t.code == code]
    assert moves[-2:] == [("invited", "screening"), ("screening", "recruited")]


def test_not_retaining_without_a_reason_is_refused_and_rolls_back_the_passage_to_screening(o):
    code = advisor_at(o, "invited")

    with pytest.raises(GuardFailedError, match="no reason recorded"):
        a.apply_screening_outcome(o.uow, code, "not_retained", Meta(actor="camille"), clock=o.clock)

    assert o.uow.advisors.get(code).stage == "invited"
    assert o.uow.log("advisor")[-1].to_state == "invited"


def test_a_screening_outcome_that_does_not_exist_is_refused(o):
    code = advisor_at(o, "screening")
    refused = "'maybe' is not a screening outcome; choose one of retained"
    with pytest.raises(InvalidInputError, match=refused):
        a.apply_screening_outcome(o.uow, code, "maybe", COORDINATOR, clock=o.clock)


def test_a_person_who_declines_at_screening_is_declined(o):
    code = advisor_at(o, "invited")
    change = a.apply_screening_outcome(o.uow, code, "declined", COORDINATOR, clock=o.clock)
    assert (change.from_state, change.to_state) == ("invited", "declined")


# ------------------------------------------------------------------- preparation


def test_enrolling_puts_every_required_module_on_the_advisors_record(o):
    code = advisor_at(o, "recruited")

    change = a.enrol_required_modules(o.uow, code, COORDINATOR, o.clock)

    assert change.to_state == "preparing"
    assert [r.module for r in o.uow.advisors.training(code)] == ["CONF-1", "PP-101"]


def test_the_advisor_is_ready_only_when_the_last_required_module_is_complete(o):
    code = advisor_at(o, "preparing")

    assert a.complete_module(o.uow, code, "PP-101", COORDINATOR, o.clock) is None
    assert o.uow.advisors.get(code).stage == "preparing"
    change = a.complete_module(o.uow, code, "CONF-1", COORDINATOR, o.clock)
    assert (change.from_state, change.to_state) == ("preparing", "ready")


def test_completing_an_unknown_module_is_refused(o):
    code = advisor_at(o, "preparing")
    with pytest.raises(NotFoundError, match="no training module 'XX-9'"):
        a.complete_module(o.uow, code, "XX-9", COORDINATOR, o.clock)


def test_the_general_move_refuses_ready_while_modules_are_outstanding(o):
    code = advisor_at(o, "preparing")
    with pytest.raises(GuardFailedError, match="required training modules not all complete"):
        a.change_advisor_stage(o.uow, ChangeAdvisorStage(code, "ready", meta=COORDINATOR), o.clock)


# ------------------------------------------------------------------ hold, withdrawal


def test_an_advisor_on_hold_returns_to_the_stage_held_from(o):
    code = advisor_at(o, "preparing")

    assert a.put_on_hold(o.uow, code, COORDINATOR, o.clock).to_state == "on_hold"
    assert o.uow.advisors.get(code).held_from == "preparing"
    change = a.resume(o.uow, code, Meta(actor="camille", reason="back"), o.clock)

    assert (change.from_state, change.to_state) == ("on_hold", "preparing")
    assert o.uow.advisors.get(code).held_from is None


def test_putting_on_hold_needs_a_reason(o):
    code = advisor_at(o, "ready")
    with pytest.raises(GuardFailedError, match="no reason recorded"):
        a.put_on_hold(o.uow, code, Meta(actor="camille"), o.clock)


def test_resuming_an_advisor_who_is_not_on_hold_is_refused(o):
    code = advisor_at(o, "ready")
    with pytest.raises(InvalidInputError, match=f"advisor {code} is not on hold"):
        a.resume(o.uow, code, COORDINATOR, o.clock)


def test_a_withdrawal_ends_engagements_cancels_unsent_mail_and_tells_the_coordinators(o):
    code = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(code)

    change = a.withdraw_advisor(o.uow, code, Meta(actor="camille", reason="moving away"), o.clock)

    assert (change.from_state, change.to_state) == ("active", "withdrawn")
    assert all(c.withdrawn_at == START for c in o.uow.advisors.consents(code))
    ended = o.uow.engagements.get(engagement.code)
    assert (ended.stage, ended.reason) == ("ended_early", "the advisor withdrew")
    mine = [n for n in o.uow.queued() if n.recipient_code == code]
    assert mine and {n.status for n in mine} == {"dead"}
    [told] = o.uow.queued("advisor_withdrawn")
    assert told.recipient_code == o.coordinator
    assert told.context == {"advisor": code, "stage": "active"}
    assert "moving away" not in str(told.context)


def test_withdrawing_an_advisor_without_consent_adds_no_consent_row(o):
    code = advisor_at(o, "invited")

    a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)

    assert o.uow.advisors.consents(code) == []  # the transition to withdrawn is the record
    assert a.advisor_history(o.uow, code)[-1].to_state == "withdrawn"


def test_a_withdrawn_advisor_cannot_withdraw_again(o):
    code = advisor_at(o, "ready")
    a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)
    with pytest.raises(IllegalTransitionError, match="final state"):
        a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)


# ------------------------------------------------------------------------ history


def test_the_history_lists_every_move_in_order_with_who_and_why(o):
    code = advisor_at(o, "screening")

    history = a.advisor_history(o.uow, code)

    assert [t.to_state for t in history] == ["identified", "invited", "screening"]
    assert [t.actor for t in history] == ["system", "coordinator", "coordinator"]


def test_the_history_of_an_unknown_advisor_is_refused(o):
    with pytest.raises(NotFoundError, match="no advisor 'PA-XXXXXX'"):
        a.advisor_history(o.uow, "PA-XXXXXX")


def test_two_moves_read_at_the_same_version_cannot_both_be_saved(o):
    code = advisor_at(o, "ready")
    with o.uow:
        first, second = o.uow.advisors.get(code), o.uow.advisors.get(code)
        first.stage = second.stage = "on_hold"
        o.uow.advisors.save(first)
        with pytest.raises(ConcurrentUpdateError, match=f"advisor {code} was changed"):
            o.uow.advisors.save(second)


# -------------------------------------------------------------- reopen and leave


def test_a_declined_file_is_reopened_with_its_reason(o):
    code = advisor_at(o, "invited")
    a.record_invitation_answer(o.uow, code, False, COORDINATOR, o.clock)

    change = a.reopen_advisor(o.uow, code, Meta("camille", "referred again"), o.clock)

    assert (change.from_state, change.to_state) == ("declined", "identified")
    assert o.uow.log("advisor")[-1].reason == "referred again"


def test_a_file_is_not_reopened_without_a_reason_nor_once_the_person_is_erased(o):
    code = advisor_at(o, "invited")
    a.record_invitation_answer(o.uow, code, False, COORDINATOR, o.clock)
    with pytest.raises(GuardFailedError, match="no reason recorded"):
        a.reopen_advisor(o.uow, code, Meta("camille"), o.clock)
    o.uow.tables.contacts[code] = replace(o.uow.tables.contacts[code], erased=True)
    with pytest.raises(GuardFailedError, match="data has been erased"):
        a.reopen_advisor(o.uow, code, Meta("camille", "back"), o.clock)


def test_the_same_person_referred_after_a_decline_is_told_to_reopen_the_file(o):
    code = advisor_at(o, "invited", email="twice@example.org")
    a.record_invitation_answer(o.uow, code, False, COORDINATOR, o.clock)
    with pytest.raises(DuplicateError, match=f"reopen it: ppflow advisor reopen {code}"):
        a.register_referral(o.uow, referral(o, email="Twice@Example.org"), o.clock)


def test_an_advisor_who_leaves_completes_their_engagements_and_is_thanked(o):
    code = advisor_at(o, "active")

    change = a.leave_program(o.uow, code, Meta("camille", "moving abroad"), o.clock)

    assert (change.from_state, change.to_state) == ("active", "alumni")
    [engagement] = o.uow.engagements.for_advisor(code)
    assert engagement.stage == "completed"
    assert [n.recipient_code for n in o.uow.queued("program_thank_you")] == [code]
    assert [n.recipient_code for n in o.uow.queued("engagement_thank_you")] == [code]
