"""Generated from the transition tables: every allowed move, every forbidden pair, every
guard, for the advisor, engagement and QI-team lifecycles."""

from __future__ import annotations

import dataclasses

import pytest

from ppflow.domain.errors import GuardFailedError, IllegalTransitionError
from ppflow.domain.lifecycle import ADVISOR, ENGAGEMENT, LIFECYCLES, TEAM

CASES = [(name, lc, facts) for name, (lc, facts) in LIFECYCLES.items()]


def satisfying(facts_type, move):
    """Facts under which every guard of ``move`` holds."""
    values = {}
    for field in dataclasses.fields(facts_type):
        if field.name == "held_from":
            values[field.name] = move.target
        elif field.name == "reason":
            values[field.name] = "recorded reason"
        else:
            values[field.name] = True
    return facts_type(**values)


def falsified(facts, guard):
    empty = None if guard.fact in ("held_from", "reason") else False
    return dataclasses.replace(facts, **{guard.fact: empty})


ALLOWED = [
    pytest.param(lc, facts, move, id=f"{name}:{move.source}->{move.target}")
    for name, lc, facts in CASES
    for move in lc.moves
]
FORBIDDEN = [
    pytest.param(lc, facts, source, target, id=f"{name}:{source}-x->{target}")
    for name, lc, facts in CASES
    for source, target in lc.forbidden_pairs()
]
GUARDS = [
    pytest.param(lc, facts, move, guard, id=f"{name}:{move.source}->{move.target}:{guard.fact}")
    for name, lc, facts in CASES
    for move in lc.moves
    for guard in move.guards
]


@pytest.mark.parametrize(("lifecycle", "facts_type", "move"), ALLOWED)
def test_an_allowed_move_passes_when_its_guards_hold(lifecycle, facts_type, move):
    assert lifecycle.check(move.source, move.target, satisfying(facts_type, move)) is move


@pytest.mark.parametrize(("lifecycle", "facts_type", "source", "target"), FORBIDDEN)
def test_a_forbidden_move_names_current_requested_and_allowed_states(
    lifecycle, facts_type, source, target
):
    with pytest.raises(IllegalTransitionError) as raised:
        lifecycle.check(source, target, facts_type(), label="it")
    error = raised.value
    assert (error.current, error.requested) == (source, target)
    assert error.allowed == lifecycle.allowed_from(source)
    message = str(error)
    assert f"'{source}'" in message and f"'{target}'" in message
    for allowed in lifecycle.allowed_from(source):
        assert allowed in message
    if source in lifecycle.final:
        assert "final state" in message


@pytest.mark.parametrize(("lifecycle", "facts_type", "move", "guard"), GUARDS)
def test_a_failing_guard_says_which_condition_is_missing(lifecycle, facts_type, move, guard):
    facts = falsified(satisfying(facts_type, move), guard)
    with pytest.raises(GuardFailedError) as raised:
        lifecycle.check(move.source, move.target, facts)
    assert raised.value.missing == (guard.missing,)
    assert guard.missing in str(raised.value)


def test_an_unknown_state_is_refused_with_the_allowed_ones():
    with pytest.raises(IllegalTransitionError, match="allowed from 'identified': invited"):
        ADVISOR.check("identified", "promoted", None)


@pytest.mark.parametrize(("name", "lifecycle", "facts_type"), CASES)
def test_every_state_is_reachable_and_final_states_cannot_be_left(name, lifecycle, facts_type):
    reached, frontier = {lifecycle.initial}, [lifecycle.initial]
    while frontier:
        for target in lifecycle.allowed_from(frontier.pop()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(lifecycle.states)
    for state in lifecycle.final:
        assert lifecycle.allowed_from(state) == ()


def test_the_advisor_table_matches_the_design():
    non_final = set(ADVISOR.non_final)
    assert non_final == {
        "identified",
        "invited",
        "screening",
        "recruited",
        "preparing",
        "ready",
        "active",
        "on_hold",
    }
    assert ADVISOR.final == {"declined", "not_retained", "withdrawn", "alumni"}
    # any non-final state can be withdrawn and put on hold, and comes back where it was
    for state in non_final:
        assert "withdrawn" in ADVISOR.allowed_from(state)
        if state != "on_hold":
            assert "on_hold" in ADVISOR.allowed_from(state)
            assert state in ADVISOR.allowed_from("on_hold")
    screening = ADVISOR.find("screening", "recruited")
    assert [g.missing for g in screening.guards] == [
        "no consent recorded",
        "no confidentiality agreement recorded",
    ]


def test_an_advisor_on_hold_returns_only_to_the_state_held_before():
    facts = satisfying(LIFECYCLES["advisor"][1], ADVISOR.find("on_hold", "preparing"))
    with pytest.raises(GuardFailedError, match="state held before"):
        ADVISOR.check("on_hold", "ready", facts)  # held from preparing, not ready


def test_engagement_and_team_tables_match_the_design():
    assert {(m.source, m.target) for m in ENGAGEMENT.moves} == {
        ("proposed", "active"),
        ("proposed", "cancelled"),
        ("active", "completed"),
        ("completed", "evaluated"),
        ("active", "ended_early"),
    }
    assert {(m.source, m.target) for m in TEAM.moves} == {
        ("forming", "active"),
        ("active", "closed"),
    }


def test_an_engagement_cannot_start_without_the_advisors_consent():
    move = ENGAGEMENT.find("proposed", "active")
    facts = dataclasses.replace(satisfying(LIFECYCLES["engagement"][1], move), consent_valid=False)
    with pytest.raises(GuardFailedError, match="no valid consent"):
        ENGAGEMENT.check("proposed", "active", facts)
