"""The three lifecycles of ppflow, each one explicit transition table with its guards.

A *move* is one allowed (source, target) pair. Its *guards* name the facts that must hold
for the move; the service layer gathers those facts from the database and the command,
and :meth:`Lifecycle.check` refuses the move with an error that says what is missing.

The README's state diagram and the transition tests are generated from these tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from ppflow.domain.errors import GuardFailedError, IllegalTransitionError


@dataclass(frozen=True)
class Guard:
    """A condition a move needs. ``fact`` names the field of the facts object it reads."""

    fact: str
    missing: str
    holds: Callable[[Any, Move], bool]


ANY = "any"  # in a diagram, stands for every non-final state but the other end of the edge


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    guards: tuple[Guard, ...] = ()
    drawn_as: tuple[str, str] | None = None  # the summary edge a diagram draws instead


def fact(name: str, missing: str) -> Guard:
    """A guard that holds when the boolean fact ``name`` is true."""
    return Guard(name, missing, lambda facts, _move: bool(getattr(facts, name)))


REASON = Guard(
    "reason", "no reason recorded", lambda facts, _move: bool((facts.reason or "").strip())
)
RETURNS_TO_HELD_STATE = Guard(
    "held_from",
    "an advisor on hold can only return to the state held before",
    lambda facts, move: facts.held_from == move.target,
)


@dataclass(frozen=True)
class Lifecycle:
    entity: str
    states: tuple[str, ...]
    initial: str
    final: frozenset[str]
    moves: tuple[Move, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for move in self.moves:
            if move.source not in self.states or move.target not in self.states:
                raise ValueError(f"{self.entity}: unknown state in {move}")
            if move.source in self.final:
                raise ValueError(f"{self.entity}: a final state cannot be left ({move})")
            if (move.source, move.target) in seen:
                raise ValueError(f"{self.entity}: duplicate move {move.source}->{move.target}")
            seen.add((move.source, move.target))

    def allowed_from(self, state: str) -> tuple[str, ...]:
        return tuple(m.target for m in self.moves if m.source == state)

    def find(self, current: str, requested: str) -> Move | None:
        for move in self.moves:
            if move.source == current and move.target == requested:
                return move
        return None

    def check(self, current: str, requested: str, facts: Any, label: str | None = None) -> Move:
        """Return the move from ``current`` to ``requested`` if it is allowed and its guards
        hold, or raise an error naming what is wrong."""
        label = label or self.entity
        if requested not in self.states:
            raise IllegalTransitionError(label, current, requested, self.allowed_from(current))
        move = self.find(current, requested)
        if move is None:
            raise IllegalTransitionError(label, current, requested, self.allowed_from(current))
        missing = [g.missing for g in move.guards if not g.holds(facts, move)]
        if missing:
            raise GuardFailedError(label, current, requested, missing)
        return move

    def forbidden_pairs(self) -> Iterable[tuple[str, str]]:
        allowed = {(m.source, m.target) for m in self.moves}
        for source in self.states:
            for target in self.states:
                if (source, target) not in allowed:
                    yield source, target

    @property
    def non_final(self) -> tuple[str, ...]:
        return tuple(s for s in self.states if s not in self.final)

    def mermaid(self) -> str:
        """The lifecycle as a Mermaid state diagram, guards as edge labels. Moves that exist
        from (or back to) every non-final state are drawn once, through a state ``any``."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        drawn: set[tuple[str, str]] = set()
        for move in self.moves:
            edge = move.drawn_as or (move.source, move.target)
            if edge in drawn:
                continue
            drawn.add(edge)
            label = ", ".join(g.fact for g in move.guards)
            text = f"    {edge[0]} --> {edge[1]}"
            lines.append(f"{text}: {label}" if label else text)
        if any(ANY in edge for edge in drawn):
            lines.insert(1, f'    state "any non-final state" as {ANY}')
        lines += [f"    {state} --> [*]" for state in self.states if state in self.final]
        return "\n".join(lines)


def fact_names(facts_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(facts_type))


# --------------------------------------------------------------------------- advisor


@dataclass(frozen=True)
class AdvisorFacts:
    """What is true about one advisor when a move is asked for."""

    invitation_queued: bool = False
    said_yes: bool = False
    said_no_or_no_answer: bool = False
    consent_recorded: bool = False
    confidentiality_signed: bool = False
    modules_enrolled: bool = False
    modules_complete: bool = False
    engagement_started: bool = False
    no_active_engagement: bool = False
    available: bool = False
    leaving: bool = False
    consent_withdrawn: bool = False
    held_from: str | None = None
    reason: str | None = None


ADVISOR_STATES = (
    "identified",
    "invited",
    "screening",
    "recruited",
    "preparing",
    "ready",
    "active",
    "on_hold",
    "declined",
    "not_retained",
    "withdrawn",
    "alumni",
)
ADVISOR_FINAL = frozenset({"declined", "not_retained", "withdrawn", "alumni"})
_HOLDABLE = tuple(s for s in ADVISOR_STATES if s not in ADVISOR_FINAL and s != "on_hold")


def _advisor_moves() -> tuple[Move, ...]:
    leaving = fact("leaving", "no departure from the program recorded")
    moves = [
        Move("identified", "invited", (fact("invitation_queued", "no invitation queued"),)),
        Move("invited", "screening", (fact("said_yes", "the person has not said yes"),)),
        Move(
            "invited",
            "declined",
            (
                fact(
                    "said_no_or_no_answer",
                    "the person has neither said no nor left the reminders unanswered",
                ),
            ),
        ),
        Move(
            "screening",
            "recruited",
            (
                fact("consent_recorded", "no consent recorded"),
                fact("confidentiality_signed", "no confidentiality agreement recorded"),
            ),
        ),
        Move("screening", "not_retained", (REASON,)),
        Move(
            "recruited",
            "preparing",
            (fact("modules_enrolled", "required training modules not enrolled"),),
        ),
        Move(
            "preparing",
            "ready",
            (fact("modules_complete", "required training modules not all complete"),),
        ),
        Move("ready", "active", (fact("engagement_started", "no engagement has started"),)),
        Move(
            "active",
            "ready",
            (
                fact("no_active_engagement", "an engagement is still active"),
                fact("available", "the advisor is not available again"),
            ),
        ),
        Move("active", "alumni", (leaving,)),
        Move("ready", "alumni", (leaving,)),
    ]
    withdrawn = fact("consent_withdrawn", "no withdrawal of consent recorded")
    moves += [
        Move(s, "withdrawn", (withdrawn,), (ANY, "withdrawn")) for s in (*_HOLDABLE, "on_hold")
    ]
    moves += [Move(s, "on_hold", (REASON,), (ANY, "on_hold")) for s in _HOLDABLE]
    moves += [Move("on_hold", s, (RETURNS_TO_HELD_STATE,), ("on_hold", ANY)) for s in _HOLDABLE]
    return tuple(moves)


ADVISOR = Lifecycle(
    entity="advisor",
    states=ADVISOR_STATES,
    initial="identified",
    final=ADVISOR_FINAL,
    moves=_advisor_moves(),
)

# ------------------------------------------------------------------------ engagement


@dataclass(frozen=True)
class EngagementFacts:
    confirmed: bool = False
    consent_valid: bool = False
    evaluation_recorded: bool = False
    reason: str | None = None


ENGAGEMENT = Lifecycle(
    entity="engagement",
    states=("proposed", "active", "completed", "evaluated", "cancelled", "ended_early"),
    initial="proposed",
    final=frozenset({"evaluated", "cancelled", "ended_early"}),
    moves=(
        Move(
            "proposed",
            "active",
            (
                fact("confirmed", "the match has not been confirmed by a coordinator"),
                fact("consent_valid", "the advisor has no valid consent"),
            ),
        ),
        Move("proposed", "cancelled", (REASON,)),
        Move("active", "completed"),
        Move("active", "ended_early", (REASON,)),
        Move("completed", "evaluated", (fact("evaluation_recorded", "no evaluation recorded"),)),
    ),
)

# --------------------------------------------------------------------------- QI team


@dataclass(frozen=True)
class TeamFacts:
    briefed: bool = False
    no_active_engagement: bool = False


TEAM = Lifecycle(
    entity="team",
    states=("forming", "active", "closed"),
    initial="forming",
    final=frozenset({"closed"}),
    moves=(
        Move(
            "forming",
            "active",
            (fact("briefed", "the team has not received the patient-partnership briefing"),),
        ),
        Move(
            "active",
            "closed",
            (fact("no_active_engagement", "an advisor engagement is still active"),),
        ),
    ),
)

LIFECYCLES: dict[str, tuple[Lifecycle, type]] = {
    "advisor": (ADVISOR, AdvisorFacts),
    "engagement": (ENGAGEMENT, EngagementFacts),
    "team": (TEAM, TeamFacts),
}
