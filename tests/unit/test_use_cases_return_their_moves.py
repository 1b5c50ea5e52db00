"""Every state-changing use case returns the transitions it made, in the order it made them,
and none when it made none: the flows announce exactly these, one event each, without
reading the log back. Checked against the log itself, on the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ppflow.domain.commands import Meta
from ppflow.services import advisors as a
from ppflow.services import feedback, integration
from tests.unit.fakes import REQUIRED_MODULES, Organization, advisor_at, organization

META = Meta(actor="camille", reason="good fit")


@pytest.fixture
def o() -> Organization:
    return organization()


def made(o: Organization, use_case: Callable[[], Any]) -> tuple[Any, list]:
    """What ``use_case`` returned, and the transitions it added to the log meanwhile."""
    before = len(o.uow.log())
    result = use_case()
    return result, o.uow.log()[before:]


def moves(transitions) -> list[tuple[str, str, str | None, str]]:
    return [(t.entity, t.code, t.from_state, t.to_state) for t in transitions]


def placed(o: Organization) -> tuple[str, str]:
    """An advisor placed in the team: their code and their engagement's."""
    code = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(code)
    return code, engagement.code


def test_a_screening_of_an_invited_advisor_returns_both_of_its_moves(o):
    code = advisor_at(o, "invited")

    change, logged = made(
        o, lambda: a.apply_screening_outcome(o.uow, code, "retained", META, clock=o.clock)
    )

    assert change.moves == tuple(logged)
    assert moves(change.moves) == [
        ("advisor", code, "invited", "screening"),
        ("advisor", code, "screening", "recruited"),
    ]
    assert (change.from_state, change.to_state) == ("screening", "recruited")


def test_a_single_move_returns_that_move_and_its_reason_stays_on_it(o):
    code = advisor_at(o, "identified")

    change, logged = made(o, lambda: a.invite_advisor(o.uow, code, META, o.clock))

    assert change.moves == tuple(logged)
    [invited] = change.moves
    assert (invited.from_state, invited.to_state, invited.reason) == (
        "identified",
        "invited",
        "good fit",
    )


def test_confirming_a_match_returns_the_engagements_moves_then_the_advisors(o):
    code = advisor_at(o, "ready")
    integration.brief_team(o.uow, o.team, META, o.clock)

    result, logged = made(
        o, lambda: integration.confirm_match(o.uow, o.team, code, META, clock=o.clock)
    )

    assert result.moves == tuple(logged)
    assert moves(result.moves) == [
        ("engagement", result.engagement, None, "proposed"),
        ("engagement", result.engagement, "proposed", "active"),
        ("advisor", code, "ready", "active"),
    ]


def test_a_withdrawal_returns_the_engagement_it_ended_too(o):
    code, engagement = placed(o)

    change, logged = made(
        o, lambda: a.withdraw_advisor(o.uow, code, Meta("camille", "moving away"), o.clock)
    )

    assert change.moves == tuple(logged)
    assert moves(change.moves) == [
        ("advisor", code, "active", "withdrawn"),
        ("engagement", engagement, "active", "ended_early"),
    ]


def test_leaving_the_program_returns_the_engagement_completed_before_the_advisors_move(o):
    code, engagement = placed(o)

    change, logged = made(
        o, lambda: a.leave_program(o.uow, code, Meta("camille", "moving abroad"), o.clock)
    )

    assert change.moves == tuple(logged)
    assert moves(change.moves) == [
        ("engagement", engagement, "active", "completed"),
        ("advisor", code, "active", "alumni"),
    ]


def test_ending_an_engagement_and_evaluating_it_return_their_moves(o):
    code, engagement = placed(o)

    ended, logged = made(
        o, lambda: integration.end_engagement(o.uow, engagement, META, clock=o.clock)
    )
    assert ended.moves == tuple(logged)
    assert moves(ended.moves) == [
        ("engagement", engagement, "active", "completed"),
        ("advisor", code, "active", "ready"),
    ]

    report, logged = made(
        o, lambda: feedback.evaluate_engagement(o.uow, engagement, META, clock=o.clock)
    )
    assert report.moves == tuple(logged)
    assert moves(report.moves) == [("engagement", engagement, "completed", "evaluated")]


def test_a_replayed_request_returns_no_move(o):
    code = advisor_at(o, "identified")
    keyed = Meta("camille", request_id="run-1:invite")
    first = a.invite_advisor(o.uow, code, keyed, o.clock)

    again, logged = made(o, lambda: a.invite_advisor(o.uow, code, keyed, o.clock))

    assert len(first.moves) == 1
    assert again.replayed and again.moves == () and logged == []


def test_use_cases_that_change_no_stage_return_no_move(o):
    code, engagement = placed(o)  # the team is briefed already
    prepared = advisor_at(o, "preparing")

    briefed, logged = made(o, lambda: integration.brief_team(o.uow, o.team, META, o.clock))
    assert briefed.moves == () and logged == []

    one_module, logged = made(
        o, lambda: a.complete_module(o.uow, prepared, REQUIRED_MODULES[0], META, o.clock)
    )
    assert one_module is None and logged == []  # a module still to complete: no move

    integration.end_engagement(o.uow, engagement, META, clock=o.clock)
    feedback.evaluate_engagement(o.uow, engagement, META, clock=o.clock)
    again, logged = made(
        o, lambda: feedback.evaluate_engagement(o.uow, engagement, META, clock=o.clock)
    )
    assert again.replayed and again.moves == () and logged == []

    keyed = Meta("camille", request_id="run-2:confirm")
    ready = advisor_at(o, "ready")
    integration.confirm_match(o.uow, o.team, ready, keyed, clock=o.clock)
    replayed, logged = made(
        o, lambda: integration.confirm_match(o.uow, o.team, ready, keyed, clock=o.clock)
    )
    assert replayed.replayed and replayed.moves == () and logged == []
