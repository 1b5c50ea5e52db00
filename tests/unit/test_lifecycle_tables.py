"""The advisor, engagement and QI-team transition tables.

The tables are first pinned here, written out by hand: every allowed (source, target) pair
with the facts its guards read. A move added, lost or guarded differently fails a test
that names it. The remaining tests are generated from the tables: every allowed move,
every forbidden pair, every guard."""

from __future__ import annotations

import dataclasses

import pytest

from ppflow.domain.errors import GuardFailedError, IllegalTransitionError
from ppflow.domain.lifecycle import ADVISOR, ENGAGEMENT, LIFECYCLES, TEAM

CASES = [(name, lc, facts) for name, (lc, facts) in LIFECYCLES.items()]

# ---------------------------------------------------------------- the pinned tables
# Each entry is one allowed move and the names of the facts its guards read. Changing a
# table means changing this by hand, beside the README's diagram.
#
# The design also reopens a closed file (declined -> identified, not_retained -> identified,
# with a reason); the table does not have those moves yet, and neither does this.

ADVISOR_MOVES = {
    ("identified", "invited"): {"invitation_queued"},
    ("invited", "screening"): {"said_yes"},
    ("invited", "declined"): {"said_no_or_no_answer"},
    ("screening", "recruited"): {"consent_recorded", "confidentiality_signed"},
    ("screening", "not_retained"): {"reason"},
    ("recruited", "preparing"): {"modules_enrolled"},
    ("preparing", "ready"): {"modules_complete"},
    ("ready", "active"): {"engagement_started"},
    ("active", "ready"): {"no_active_engagement", "available"},
    ("active", "alumni"): {"leaving"},
    ("ready", "alumni"): {"leaving"},
    # a closed file is reopened, with a reason, while the person's data is held
    ("declined", "identified"): {"reason", "contact_held"},
    ("not_retained", "identified"): {"reason", "contact_held"},
    # consent can be withdrawn from every open state
    ("identified", "withdrawn"): {"consent_withdrawn"},
    ("invited", "withdrawn"): {"consent_withdrawn"},
    ("screening", "withdrawn"): {"consent_withdrawn"},
    ("recruited", "withdrawn"): {"consent_withdrawn"},
    ("preparing", "withdrawn"): {"consent_withdrawn"},
    ("ready", "withdrawn"): {"consent_withdrawn"},
    ("active", "withdrawn"): {"consent_withdrawn"},
    ("on_hold", "withdrawn"): {"consent_withdrawn"},
    # on hold from every other non-final state, with a reason ...
    ("identified", "on_hold"): {"reason"},
    ("invited", "on_hold"): {"reason"},
    ("screening", "on_hold"): {"reason"},
    ("recruited", "on_hold"): {"reason"},
    ("preparing", "on_hold"): {"reason"},
    ("ready", "on_hold"): {"reason"},
    ("active", "on_hold"): {"reason"},
    # ... and back only to the state held from
    ("on_hold", "identified"): {"held_from"},
    ("on_hold", "invited"): {"held_from"},
    ("on_hold", "screening"): {"held_from"},
    ("on_hold", "recruited"): {"held_from"},
    ("on_hold", "preparing"): {"held_from"},
    ("on_hold", "ready"): {"held_from"},
    ("on_hold", "active"): {"held_from"},
}

ENGAGEMENT_MOVES = {
    ("proposed", "active"): {"confirmed", "consent_valid"},
    ("proposed", "cancelled"): {"reason"},
    ("active", "completed"): set(),
    ("active", "ended_early"): {"reason"},
    ("completed", "evaluated"): {"evaluation_recorded"},
}

TEAM_MOVES = {
    ("forming", "active"): {"briefed"},
    ("active", "closed"): {"no_active_engagement"},
}

PINNED = {"advisor": ADVISOR_MOVES, "engagement": ENGAGEMENT_MOVES, "team": TEAM_MOVES}


def table_of(lifecycle) -> dict[tuple[str, str], set[str]]:
    return {(m.source, m.target): {g.fact for g in m.guards} for m in lifecycle.moves}


def edge(name: str, source: str, target: str) -> str:
    return f"{name}: {source} -> {target}"


@pytest.mark.parametrize("name", PINNED)
def test_the_table_is_exactly_the_pinned_one(name):
    actual, pinned = table_of(LIFECYCLES[name][0]), PINNED[name]
    added = [edge(name, *pair) for pair in actual if pair not in pinned]
    lost = [edge(name, *pair) for pair in pinned if pair not in actual]
    changed = [
        f"{edge(name, *pair)} guarded by {sorted(actual[pair])}, pinned {sorted(guards)}"
        for pair, guards in pinned.items()
        if pair in actual and actual[pair] != guards
    ]
    assert not added, f"moves not in the pinned table: {added}"
    assert not lost, f"pinned moves missing from the table: {lost}"
    assert not changed, f"moves whose guards changed: {changed}"
    assert actual == pinned


@pytest.mark.parametrize(
    ("name", "source", "target", "guards"),
    [
        pytest.param(name, s, t, guards, id=f"{name}:{s}->{t}")
        for name, table in PINNED.items()
        for (s, t), guards in table.items()
    ],
)
def test_each_pinned_move_exists_with_exactly_its_guards(name, source, target, guards):
    move = LIFECYCLES[name][0].find(source, target)
    assert move is not None, f"{edge(name, source, target)} is no longer allowed"
    actual = {g.fact for g in move.guards}
    assert actual == guards, (
        f"{edge(name, source, target)} is guarded by {sorted(actual)}, pinned {sorted(guards)}"
    )


# ------------------------------------------------------- generated from the tables


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
    assert ADVISOR.final == {"withdrawn", "alumni"}
    assert ADVISOR.closed == {"declined", "not_retained"}  # reopened, never left otherwise
    for state in ADVISOR.closed:
        assert ADVISOR.allowed_from(state) == ("identified",)
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


def test_engagement_and_team_states_match_the_design():
    assert ENGAGEMENT.states == (
        "proposed",
        "active",
        "completed",
        "evaluated",
        "cancelled",
        "ended_early",
    )
    assert ENGAGEMENT.initial == "proposed"
    assert ENGAGEMENT.final == {"evaluated", "cancelled", "ended_early"}
    assert TEAM.states == ("forming", "active", "closed")
    assert TEAM.initial == "forming"
    assert TEAM.final == {"closed"}


def test_an_engagement_cannot_start_without_the_advisors_consent():
    move = ENGAGEMENT.find("proposed", "active")
    facts = dataclasses.replace(satisfying(LIFECYCLES["engagement"][1], move), consent_valid=False)
    with pytest.raises(GuardFailedError, match="no valid consent"):
        ENGAGEMENT.check("proposed", "active", facts)
