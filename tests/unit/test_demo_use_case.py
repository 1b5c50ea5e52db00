"""The demonstration as one use case, on the in-memory unit of work: the quick look that
``ppflow demo --seed-only`` runs, and the main job with its onboarding played here in
place of the flows (tests/flows/test_demo.py runs it through Prefect)."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import Meta
from ppflow.services import demo
from ppflow.services.referral_import import import_referrals
from tests.unit.fakes import FakeUnitOfWork, organization


def test_the_quick_look_seeds_the_program_and_its_pool_once():
    uow, clock = FakeUnitOfWork(), organization().clock

    assert demo.run_demo(uow, clock).seeded
    assert not demo.run_demo(uow, clock).seeded
    assert sum(uow.advisors.count_by_stage().values()) == len(demo.ADVISORS)


def test_the_main_job_hands_the_cohort_to_the_onboarding_and_the_coordinator_follows_the_script():
    uow, clock = FakeUnitOfWork(), organization().clock
    heard: dict[str, dict | None] = {}

    def onboard(cohort: bytes, coordinator: demo.ScriptedCoordinator) -> list[str]:
        codes = import_referrals(uow, cohort, Meta("demo"), clock=clock).imported
        coordinator.cast(codes)
        joining, declining, not_retained, leaving = codes[0], codes[5], codes[6], codes[7]
        heard["screening"] = coordinator.answer("screening", declining)
        heard["not retained"] = coordinator.answer("screening", not_retained)
        heard["retained"] = coordinator.answer("screening", joining)
        heard["match"] = coordinator.answer("match", "QT-1", joining)
        heard["unknown"] = coordinator.answer("feedback", joining)
        heard["teams"] = [coordinator.team_for(c) for c in codes]
        heard["training"] = coordinator.answer("training", leaving)  # withdraws first
        return codes

    run = demo.run_demo(uow, clock, onboard, deliver=lambda: 12)

    structure = demo.existing_structure(uow)
    assert len(run.advisors) == len(demo.COHORT) and run.sent == 12
    assert run.stages == {"identified": 7, "withdrawn": 1}
    assert heard["screening"] == {"outcome": "declined", "reason": ""}
    assert heard["not retained"] == {
        "outcome": "not_retained",
        "reason": "availability too limited",
    }
    assert heard["retained"]["outcome"] == "retained"
    assert heard["match"] == {"advisor": run.advisors[0], "hourly_rate": demo.HOURLY_RATE}
    assert heard["unknown"] is None
    assert heard["teams"] == [structure["team1"]] * 2 + [structure["team2"]] * 3 + [None] * 3
    assert heard["training"] == {"modules": ["PP-101", "CONF-1"]}


def test_the_main_job_runs_once_then_says_to_start_afresh():
    uow, clock = FakeUnitOfWork(), organization().clock

    def onboard(cohort: bytes, coordinator: demo.ScriptedCoordinator) -> list[str]:
        return import_referrals(uow, cohort, Meta("demo"), clock=clock).imported

    demo.run_demo(uow, clock, onboard)
    again: list[bytes] = []
    with pytest.raises(demo.DemoAlreadyRunError, match="already there; use --reset"):
        demo.run_demo(uow, clock, lambda cohort, _: again.append(cohort) or [])
    assert again == []  # nothing onboarded the second time
