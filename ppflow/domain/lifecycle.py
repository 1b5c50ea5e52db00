"""The three lifecycles of ppflow, each one explicit transition table with its guards.

A *move* is one allowed (source, target) pair. Its *guards* name the facts that must hold
for the move; the service layer gathers those facts from the database and the command,
and :meth:`Lifecycle.check` refuses the move with an error that says what is missing.

The README's state diagram and the transition tests are generated from these tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
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
    initial: StrEnum  # a member of the stage enum: ``state`` makes members of it
    final: frozenset[str]
    moves: tuple[Move, ...]
    # closed: ended, but a coordinator may reopen the file (the only way out of them)
    closed: frozenset[str] = frozenset()

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

    def state(self, value: str) -> StrEnum:
        """The member of this lifecycle's stage enum named ``value`` (ValueError if none)."""
        return type(self.initial)(value)

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
        """The open states: neither final nor closed ("any non-final state" in a diagram)."""
        return tuple(s for s in self.states if s not in self.final and s not in self.closed)

    @property
    def ended(self) -> frozenset[str]:
        """The states in which a case is over, for now or for good (retention counts from
        them)."""
        return self.final | self.closed

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
    contact_held: bool = False
    reason: str | None = None


class AdvisorStage(StrEnum):
    IDENTIFIED = "identified"
    INVITED = "invited"
    SCREENING = "screening"
    RECRUITED = "recruited"
    PREPARING = "preparing"
    READY = "ready"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DECLINED = "declined"
    NOT_RETAINED = "not_retained"
    WITHDRAWN = "withdrawn"
    ALUMNI = "alumni"


A = AdvisorStage
ADVISOR_STATES = tuple(AdvisorStage)
ADVISOR_FINAL = frozenset({A.WITHDRAWN, A.ALUMNI})
# Closed, not final: a coordinator may reopen the file, while the person's data is held.
ADVISOR_CLOSED = frozenset({A.DECLINED, A.NOT_RETAINED})
ADVISOR_ENDED = ADVISOR_FINAL | ADVISOR_CLOSED
_HOLDABLE = tuple(s for s in ADVISOR_STATES if s not in ADVISOR_ENDED and s != A.ON_HOLD)


def _advisor_moves() -> tuple[Move, ...]:
    leaving = fact("leaving", "no departure from the program recorded")
    moves = [
        Move(A.IDENTIFIED, A.INVITED, (fact("invitation_queued", "no invitation queued"),)),
        Move(A.INVITED, A.SCREENING, (fact("said_yes", "the person has not said yes"),)),
        Move(
            A.INVITED,
            A.DECLINED,
            (
                fact(
                    "said_no_or_no_answer",
                    "the person has neither said no nor left the reminders unanswered",
                ),
            ),
        ),
        Move(
            A.SCREENING,
            A.RECRUITED,
            (
                fact("consent_recorded", "no consent recorded"),
                fact("confidentiality_signed", "no confidentiality agreement recorded"),
            ),
        ),
        Move(A.SCREENING, A.NOT_RETAINED, (REASON,)),
        Move(
            A.RECRUITED,
            A.PREPARING,
            (fact("modules_enrolled", "required training modules not enrolled"),),
        ),
        Move(
            A.PREPARING,
            A.READY,
            (fact("modules_complete", "required training modules not all complete"),),
        ),
        Move(A.READY, A.ACTIVE, (fact("engagement_started", "no engagement has started"),)),
        Move(
            A.ACTIVE,
            A.READY,
            (
                fact("no_active_engagement", "an engagement is still active"),
                fact("available", "the advisor is not available again"),
            ),
        ),
        Move(A.ACTIVE, A.ALUMNI, (leaving,)),
        Move(A.READY, A.ALUMNI, (leaving,)),
    ]
    held = fact(
        "contact_held",
        "the person's data has been erased; a new referral registers them under a new code",
    )
    moves += [Move(s, A.IDENTIFIED, (REASON, held)) for s in sorted(ADVISOR_CLOSED)]
    withdrawn = fact("consent_withdrawn", "no withdrawal of consent recorded")
    moves += [
        Move(s, A.WITHDRAWN, (withdrawn,), (ANY, A.WITHDRAWN)) for s in (*_HOLDABLE, A.ON_HOLD)
    ]
    moves += [Move(s, A.ON_HOLD, (REASON,), (ANY, A.ON_HOLD)) for s in _HOLDABLE]
    moves += [Move(A.ON_HOLD, s, (RETURNS_TO_HELD_STATE,), (A.ON_HOLD, ANY)) for s in _HOLDABLE]
    return tuple(moves)


ADVISOR = Lifecycle(
    entity="advisor",
    states=ADVISOR_STATES,
    initial=A.IDENTIFIED,
    final=ADVISOR_FINAL,
    closed=ADVISOR_CLOSED,
    moves=_advisor_moves(),
)

# ------------------------------------------------------------------------ engagement


@dataclass(frozen=True)
class EngagementFacts:
    confirmed: bool = False
    consent_valid: bool = False
    evaluation_recorded: bool = False
    reason: str | None = None


class EngagementStage(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    COMPLETED = "completed"
    EVALUATED = "evaluated"
    CANCELLED = "cancelled"
    ENDED_EARLY = "ended_early"


E = EngagementStage
ENGAGEMENT = Lifecycle(
    entity="engagement",
    states=tuple(EngagementStage),
    initial=E.PROPOSED,
    final=frozenset({E.EVALUATED, E.CANCELLED, E.ENDED_EARLY}),
    moves=(
        Move(
            E.PROPOSED,
            E.ACTIVE,
            (
                fact("confirmed", "the match has not been confirmed by a coordinator"),
                fact("consent_valid", "the advisor has no valid consent"),
            ),
        ),
        Move(E.PROPOSED, E.CANCELLED, (REASON,)),
        Move(E.ACTIVE, E.COMPLETED),
        Move(E.ACTIVE, E.ENDED_EARLY, (REASON,)),
        Move(E.COMPLETED, E.EVALUATED, (fact("evaluation_recorded", "no evaluation recorded"),)),
    ),
)
# An engagement that reaches one of these has ended: its end date and reason are recorded.
ENGAGEMENT_ENDS = frozenset({E.COMPLETED, E.ENDED_EARLY, E.CANCELLED})

# --------------------------------------------------------------------------- QI team


@dataclass(frozen=True)
class TeamFacts:
    briefed: bool = False
    no_active_engagement: bool = False


class TeamStage(StrEnum):
    FORMING = "forming"
    ACTIVE = "active"
    CLOSED = "closed"


T = TeamStage
TEAM = Lifecycle(
    entity="team",
    states=tuple(TeamStage),
    initial=T.FORMING,
    final=frozenset({T.CLOSED}),
    moves=(
        Move(
            T.FORMING,
            T.ACTIVE,
            (fact("briefed", "the team has not received the patient-partnership briefing"),),
        ),
        Move(
            T.ACTIVE,
            T.CLOSED,
            (fact("no_active_engagement", "an advisor engagement is still active"),),
        ),
    ),
)

LIFECYCLES: dict[str, tuple[Lifecycle, type]] = {
    "advisor": (ADVISOR, AdvisorFacts),
    "engagement": (ENGAGEMENT, EngagementFacts),
    "team": (TEAM, TeamFacts),
}
