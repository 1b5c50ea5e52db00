"""The one move mechanism of the three lifecycles, and the one way a use case runs once.

An entity moves itself through its table (:meth:`ppflow.domain.model.Moves.move`); here
the move is saved under the entity's optimistic lock and its transition is logged, inside
the caller's unit of work. :func:`run_once` wraps a use case in one transaction keyed by
its request id, so that a retried or replayed request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ppflow.domain.commands import Meta
from ppflow.domain.errors import PPFlowError
from ppflow.domain.model import Advisor, Engagement, Moves, QITeam, Transition
from ppflow.services.ports import Clock, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class StageChange:
    """What a state-changing use case returns: the move it ends with, and ``moves``, every
    transition it made, in order (none when it changed nothing, e.g. a replayed request).
    The moves carry their reason, which never leaves ppflow: a flow hands on the plain
    values (code and stages), never the moves themselves."""

    code: str
    from_state: str | None
    to_state: str
    at: datetime
    replayed: bool = False
    moves: tuple[Transition, ...] = ()

    @classmethod
    def of(cls, transition: Transition, replayed: bool = False) -> StageChange:
        """The change of one transition: made now, or (``replayed``) logged before."""
        moves = () if replayed else (transition,)
        return cls(
            transition.code,
            transition.from_state,
            transition.to_state,
            transition.at,
            replayed,
            moves,
        )


def carrying(change: StageChange, made: Iterable[StageChange]) -> StageChange:
    """``change`` (the move a use case reports), carrying the moves of every change in
    ``made``, in the order they were made: a use case may move more than one entity, or
    one entity more than once (an invited advisor passes through screening)."""
    return replace(change, moves=tuple(m for c in made for m in c.moves))


def _repository(uow: UnitOfWork, entity: Moves):
    if isinstance(entity, Advisor):
        return uow.advisors
    if isinstance(entity, Engagement):
        return uow.engagements
    if isinstance(entity, QITeam):
        return uow.teams
    raise TypeError(f"{type(entity).__name__} has no lifecycle")


def apply_move(
    uow: UnitOfWork, entity: Moves, target: str, facts: Any, meta: Meta, now: datetime
) -> tuple[StageChange, int]:
    """Check and apply one move inside an open unit of work: the entity is saved only if
    nobody changed it since it was read, and the transition is logged. Returns the change
    and the id of its transition row (for the notifications it causes)."""
    transition = entity.move(target, facts, meta, now)
    _repository(uow, entity).save(entity)
    return StageChange.of(transition), uow.transitions.add(transition)


def log_start(uow: UnitOfWork, entity: Moves, meta: Meta, now: datetime) -> tuple[StageChange, int]:
    """Log the first entry of a new entity's history (it enters its initial stage)."""
    transition = entity.begin(meta, now)
    return StageChange.of(transition), uow.transitions.add(transition)


def _replay(uow: UnitOfWork, meta: Meta) -> StageChange | None:
    if meta.request_id:
        prior = uow.transitions.by_request_id(meta.request_id)
        if prior is not None:
            return StageChange.of(prior, replayed=True)
    return None


def run_once(
    uow: UnitOfWork, meta: Meta, clock: Clock, work: Callable[[UnitOfWork, datetime], T]
) -> T | StageChange:
    """Run ``work`` in one transaction, unless ``meta.request_id`` was already used: then
    nothing changes and the first result comes back. A duplicate request racing past the
    first check loses at the unique index on transitions.request_id and gets the same."""
    try:
        with uow:
            replayed = _replay(uow, meta)
            if replayed:
                return replayed
            result = work(uow, clock.now())
            uow.commit()
            return result
    except PPFlowError:
        raise
    except Exception:
        if meta.request_id:
            with uow:
                replayed = _replay(uow, meta)
            if replayed:
                return replayed
        raise


def rebuild_after_replay(result: T | StageChange, rebuild: Callable[[StageChange], T]) -> T:
    """A use case that returns more than a stage change gets, on a replayed request, only
    the stage change the first run logged: ``rebuild`` turns it into the use case's own
    result from what the first run wrote."""
    return rebuild(result) if isinstance(result, StageChange) else result


# ------------------------------------------------------------- moves made elsewhere

EVENTS_CURSOR = "transition_events"
# A move is announced once it is this old, so that a transaction still open when the log is
# read (an id taken before a later one commits) is never passed over.
ANNOUNCE_AFTER = timedelta(seconds=60)


def announce_moves_made_elsewhere(
    uow: UnitOfWork,
    announce: Callable[[Transition], None],
    clock: Clock,
    limit: int = 500,
    after: timedelta = ANNOUNCE_AFTER,
) -> int:
    """Hand ``announce`` every move that no flow announced itself: those made from the
    command line or the survey portal (no flow run), in the order of the log, once they
    are ``after`` old; then move the cursor past them and the flows' own moves. Returns how
    many were announced. When ``announce`` fails, the cursor stays where it was, and the
    next pass announces the same moves again (their events have stable ids, so Prefect
    keeps one of each)."""
    with uow:
        start = uow.transitions.cursor(EVENTS_CURSOR)
        batch = uow.transitions.after(start, clock.now() - after, limit)
    announced = 0
    for _, transition in batch:
        if transition.flow_run_id is None:
            announce(transition)  # read without its reason, which never leaves ppflow
            announced += 1
    if batch:
        with uow:
            uow.transitions.move_cursor(EVENTS_CURSOR, batch[-1][0], clock.now())
            uow.commit()
    return announced
