"""The one move mechanism and run_once, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import GuardFailedError
from ppflow.domain.lifecycle import TeamFacts
from ppflow.services import advisors
from ppflow.services.moves import StageChange, apply_move, log_start, rebuild_after_replay, run_once
from tests.unit.fakes import START, FakeIntegrityError, advisor_at, organization

META = Meta(actor="camille", reason="briefed", request_id="brief-1")


def test_a_move_saves_the_entity_and_logs_one_transition_with_actor_and_reason():
    o = organization()
    with o.uow:
        team = o.uow.teams.get(o.team)
        change, transition_id = apply_move(
            o.uow, team, "active", TeamFacts(briefed=True), META, START
        )
        o.uow.commit()

    assert (change.from_state, change.to_state) == ("forming", "active")
    assert o.uow.teams.get(o.team).stage == "active"
    logged = o.uow.log("team")[-1]
    assert transition_id == len(o.uow.log())
    assert (logged.actor, logged.reason, logged.request_id) == ("camille", "briefed", "brief-1")


def test_a_refused_move_changes_neither_the_entity_nor_the_log():
    o = organization()
    before = len(o.uow.log())
    with o.uow, pytest.raises(GuardFailedError, match="patient-partnership briefing"):
        apply_move(o.uow, o.uow.teams.get(o.team), "active", TeamFacts(), META, START)

    assert o.uow.teams.get(o.team).stage == "forming"
    assert len(o.uow.log()) == before


def test_a_new_entity_starts_its_history_in_its_initial_stage():
    o = organization()
    [start] = o.uow.log("team")
    assert (start.code, start.from_state, start.to_state) == (o.team, None, "forming")
    with o.uow:
        change, _ = log_start(o.uow, o.uow.teams.get(o.team), META, START)
    assert change == StageChange(o.team, None, "forming", START, moves=change.moves)
    [begun] = change.moves  # the one transition it logged
    assert (begun.entity, begun.code, begun.from_state, begun.to_state, begun.actor) == (
        "team",
        o.team,
        None,
        "forming",
        "camille",
    )


def test_work_that_fails_half_way_leaves_nothing_behind():
    o = organization()
    code = advisor_at(o, "identified")

    def work(uow, now):
        advisor = uow.advisors.get(code)
        advisor.stage = "invited"
        uow.advisors.save(advisor)
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        run_once(o.uow, Meta(), o.clock, work)

    assert o.uow.advisors.get(code).stage == "identified"
    assert not o.uow.committed


def test_a_duplicate_request_that_loses_the_race_at_the_unique_index_gets_the_first_result():
    """Two requests with one id pass the replay check together; the second one's log row
    hits the unique index on request_id, and run_once answers with the first one's move."""
    o = organization()
    code = advisor_at(o, "identified")
    advisors.invite_advisor(o.uow, code, Meta(request_id="same"), o.clock)
    looked = []
    real = o.uow.transitions.by_request_id

    def blind_first_time(request_id):  # the racer had not committed yet when we looked
        looked.append(request_id)
        return None if len(looked) == 1 else real(request_id)

    o.uow.transitions.by_request_id = blind_first_time

    def work(uow, now):
        t = uow.log()[-1]
        uow.transitions.add(type(t)("advisor", code, "invited", "invited", now, "x", None, "same"))

    result = run_once(o.uow, Meta(request_id="same"), o.clock, work)

    assert result.replayed and result.to_state == "invited"
    assert looked == ["same", "same"]


def test_the_unique_index_on_request_id_is_not_a_ppflow_error():
    o = organization()
    with o.uow:
        t = o.uow.log()[0]
        o.uow.transitions.add(type(t)("team", o.team, None, "forming", START, "x", None, "r"))
        with pytest.raises(FakeIntegrityError):
            o.uow.transitions.add(type(t)("team", o.team, None, "forming", START, "x", None, "r"))


def test_a_replay_is_rebuilt_into_the_use_cases_own_result():
    replay = StageChange("PA-2222AA", "ready", "active", START, replayed=True)
    assert rebuild_after_replay(replay, lambda change: change.to_state) == "active"
    assert rebuild_after_replay("fresh", lambda change: "rebuilt") == "fresh"


# ------------------------------------------------------------- moves made elsewhere


def test_moves_made_outside_a_flow_are_announced_once_a_minute_old_and_once_only():
    from ppflow.services.moves import announce_moves_made_elsewhere

    o = organization()
    code = advisor_at(o, "identified")
    advisors.put_on_hold(o.uow, code, Meta("camille", reason="moving house"), o.clock)
    flow_meta = Meta("flow", flow_run_id="run-1")
    advisors.resume(o.uow, code, flow_meta, o.clock)
    heard: list = []

    assert announce_moves_made_elsewhere(o.uow, heard.append, o.clock) == 0  # too recent
    o.later(minutes=2)
    announced = announce_moves_made_elsewhere(o.uow, heard.append, o.clock)

    moves = [(t.code, t.from_state, t.to_state) for t in heard]
    assert (code, "identified", "on_hold") in moves
    assert (code, "on_hold", "identified") not in moves  # the flow announced its own move
    assert announced == len(heard) and all(t.reason is None for t in heard)
    assert announce_moves_made_elsewhere(o.uow, heard.append, o.clock) == 0


def test_a_failed_announcement_leaves_the_moves_to_the_next_pass():
    from ppflow.services.moves import announce_moves_made_elsewhere

    o = organization()
    advisor_at(o, "identified")
    o.later(minutes=2)

    def broken(_):
        raise ConnectionError("the Prefect server cannot be reached")

    with pytest.raises(ConnectionError):
        announce_moves_made_elsewhere(o.uow, broken, o.clock)
    heard: list = []
    assert announce_moves_made_elsewhere(o.uow, heard.append, o.clock) > 0
