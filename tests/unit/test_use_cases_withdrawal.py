"""Withdrawal, on the in-memory unit of work: the consent ledger closes what it holds and
never gains a consent the person did not give; the transition records who and when."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import GuardFailedError, IllegalTransitionError
from ppflow.services import advisors as a
from ppflow.services import portal
from ppflow.services.links import LinkError
from tests.unit.fakes import START, advisor_at, organization

COORDINATOR = Meta(actor="camille", reason="asked by phone")


@pytest.fixture
def o():
    return organization()


@pytest.mark.parametrize("stage", ["identified", "invited", "screening"])
def test_withdrawing_someone_who_never_consented_adds_no_consent_row(o, stage):
    code = advisor_at(o, stage)
    o.later(hours=4)

    change = a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)

    assert (change.from_state, change.to_state) == (stage, "withdrawn")
    assert o.uow.advisors.consents(code) == []
    last = a.advisor_history(o.uow, code)[-1]
    assert (last.from_state, last.to_state, last.actor, last.at) == (
        stage,
        "withdrawn",
        "camille",
        o.clock.now(),
    )
    assert o.uow.advisors.get(code).stage == "withdrawn"


def test_a_withdrawal_through_the_link_by_someone_who_never_consented_adds_no_consent_row(o):
    code = advisor_at(o, "invited")

    portal.withdraw_through_link(o.uow, code, o.clock)

    assert o.uow.advisors.consents(code) == []
    last = a.advisor_history(o.uow, code)[-1]
    assert (last.to_state, last.actor, last.at) == ("withdrawn", "portal", START)


def test_withdrawing_someone_who_consented_closes_their_consents_and_adds_none(o):
    code = advisor_at(o, "ready")
    given = o.uow.advisors.consents(code)
    assert {c.purpose for c in given} == {"participation", "confidentiality"}
    o.later(days=3)

    a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)

    after = o.uow.advisors.consents(code)
    assert [(c.purpose, c.given_at) for c in after] == [(c.purpose, c.given_at) for c in given]
    assert {c.withdrawn_at for c in after} == {o.clock.now()}


def test_someone_on_hold_who_never_consented_can_withdraw(o):
    code = advisor_at(o, "invited")
    a.put_on_hold(o.uow, code, Meta("camille", "travelling"), o.clock)

    a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)

    assert o.uow.advisors.get(code).stage == "withdrawn"
    assert o.uow.advisors.consents(code) == []


def test_a_withdrawal_sent_again_with_its_request_id_changes_nothing(o):
    code = advisor_at(o, "invited")
    meta = Meta("camille", "asked by phone", request_id="withdraw-1")
    first = a.withdraw_advisor(o.uow, code, meta, o.clock)
    moves = len(a.advisor_history(o.uow, code))

    again = a.withdraw_advisor(o.uow, code, meta, o.clock)

    assert again.replayed and (again.code, again.to_state) == (first.code, "withdrawn")
    assert len(a.advisor_history(o.uow, code)) == moves
    assert o.uow.advisors.consents(code) == []


def test_an_advisor_who_left_cannot_be_withdrawn_and_their_ledger_is_untouched(o):
    code = advisor_at(o, "invited")
    a.record_invitation_answer(o.uow, code, False, COORDINATOR, o.clock)

    with pytest.raises(IllegalTransitionError):
        a.withdraw_advisor(o.uow, code, COORDINATOR, o.clock)
    with pytest.raises(LinkError, match="closed"):
        portal.withdraw_through_link(o.uow, code, o.clock)
    assert o.uow.advisors.consents(code) == []


def test_the_general_move_to_withdrawn_still_needs_a_withdrawal_of_consent(o):
    from ppflow.domain.commands import ChangeAdvisorStage

    code = advisor_at(o, "invited")
    with pytest.raises(GuardFailedError, match="no withdrawal of consent recorded"):
        a.change_advisor_stage(
            o.uow, ChangeAdvisorStage(code, "withdrawn", meta=COORDINATOR), o.clock
        )
