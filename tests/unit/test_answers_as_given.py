"""What an answer offers and does, on the in-memory unit of work: the advisor an
onboarding was started for is proposed first, the forms' words map to codes, and
``ppflow answer`` says what an answer does."""

from __future__ import annotations

from ppflow.services import decisions, integration
from tests.unit.fakes import advisor_at, organization


def test_the_advisor_an_onboarding_is_for_comes_first_whatever_the_scores():
    o = organization()
    best = advisor_at(o, "ready", tags=("cancer",), availability_hours=8)
    other = advisor_at(o, "ready", tags=(), availability_hours=4)
    wanted = advisor_at(o, "ready", tags=(), availability_hours=0)

    ranked = integration.propose_matches(o.uow, o.team, limit=2, clock=o.clock)
    assert [m.advisor for m in ranked] == [best, other]  # by score: the wanted one left out

    proposed = integration.propose_matches(o.uow, o.team, limit=2, wanted=wanted, clock=o.clock)
    assert [m.advisor for m in proposed] == [wanted, best]  # then the best alternatives
    # an advisor who cannot be proposed (not ready) changes nothing
    preparing = advisor_at(o, "preparing")
    assert integration.propose_matches(o.uow, o.team, 2, wanted=preparing, clock=o.clock) == ranked


def test_the_forms_words_and_the_codes_the_cli_takes_are_one_answer():
    assert decisions.in_words("screening", {"outcome": "not_retained"}) == {
        "outcome": "Not retained"
    }
    assert decisions.outcome_code("Not retained") == "not_retained"
    assert decisions.outcome_code("declined") == "declined"
    assert decisions.in_words("training", {"modules": ["PP-101", "CONF-1", "PP-101"]}) == {
        "modules": ["PP-101", "CONF-1"]
    }


def test_an_answer_says_what_it_does():
    said = decisions.what_it_does
    assert said("training", "PA-1", {"modules": ["CONF-1", "CONF-1"]}) == "PA-1 completed CONF-1"
    assert said("match", "QT-1", {"advisor": "PA-1", "role": "member", "hourly_rate": 25.0}) == (
        "PA-1 joins QT-1 as member, paid at $25 an hour"
    )
    assert "rate tiers" in said("match", "QT-1", {"advisor": "PA-1", "hourly_rate": 0})
    assert said("match", "QT-1", {"advisor": decisions.NOBODY}) == (
        "every advisor proposed for QT-1 is turned down; nobody joins now"
    )
    assert said("screening", "PA-1", {"outcome": "Declined"}) == "PA-1 declined"
