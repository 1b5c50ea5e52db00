"""Read-only views, and the answers people give to the questions flows wait on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.services import advisors, decisions, queries
from ppflow.services.decisions import DecisionTakenError, QuestionClosedError
from ppflow.services.ports import AdvisorFilter
from tests.unit.fakes import START, advisor_at, organization


@pytest.fixture
def o():
    return organization()


# ------------------------------------------------------------------------ queries


def test_the_pool_is_filtered_by_stage_language_and_tags_and_shows_each_advisors_load(o):
    busy = advisor_at(o, "active", tags=("cancer", "youth"))
    ready = advisor_at(o, "ready", languages=("en",), language="en")
    advisor_at(o, "invited")

    assert [e.advisor.code for e in queries.list_advisors(o.uow, AdvisorFilter("ready"))] == [ready]
    assert [e.advisor.code for e in queries.list_advisors(o.uow, AdvisorFilter(language="en"))] == [
        ready
    ]
    [entry] = queries.list_advisors(o.uow, AdvisorFilter(tags=("youth",)))
    assert (entry.advisor.code, entry.active_engagements) == (busy, 1)
    assert len(queries.list_advisors(o.uow, AdvisorFilter(limit=2))) == 2


def test_an_advisors_file_gathers_referrer_consents_training_and_engagements(o):
    code = advisor_at(o, "active", first_name="Luc")

    detail = queries.get_advisor(o.uow, code, with_contact=True)

    assert detail.advisor.stage == "active" and detail.referrer == o.referrer
    assert [c.purpose for c in detail.consents] == ["participation", "confidentiality"]
    assert all(r.completed_at for r in detail.training)
    assert [e.team for e in detail.engagements] == [o.team]
    assert detail.contact.first_name == "Luc"
    assert queries.get_advisor(o.uow, code).contact is None


def test_an_unknown_advisor_has_no_file(o):
    with pytest.raises(NotFoundError, match="no advisor 'PA-ZZZZZZ'"):
        queries.get_advisor(o.uow, "PA-ZZZZZZ")


def test_teams_are_listed_by_stage_with_their_active_advisors(o):
    code = advisor_at(o, "active")

    [summary] = queries.list_teams(o.uow, "active")
    assert (summary.team.code, summary.active_advisors) == (o.team, 1)
    assert queries.list_teams(o.uow, "forming") == []
    detail = queries.get_team(o.uow, o.team)
    assert [e.advisor for e in detail.engagements] == [code]
    with pytest.raises(NotFoundError, match="no QI team 'QT-NONE'"):
        queries.get_team(o.uow, "QT-NONE")


# ---------------------------------------------------------------------- decisions


def test_the_first_answer_to_a_question_is_stored_and_the_same_answer_again_is_accepted(o):
    first = decisions.record_decision(
        o.uow, "run-1", "screening", "PA-2222AA", {"outcome": "retained"}, "camille", o.clock
    )
    o.later(hours=1)
    again = decisions.record_decision(
        o.uow, "run-1", "screening", "PA-2222AA", {"outcome": "retained"}, "flow", o.clock
    )

    assert again == first and again.actor == "camille"
    assert len(o.uow.tables.decisions) == 1


def test_a_different_second_answer_is_refused_naming_who_answered_first_and_when(o):
    decisions.record_decision(
        o.uow, "run-1", "screening", "PA-2222AA", {"outcome": "retained"}, "camille", o.clock
    )

    with pytest.raises(DecisionTakenError) as error:
        decisions.record_decision(
            o.uow, "run-1", "screening", "PA-2222AA", {"outcome": "declined"}, "jordan", o.clock
        )

    assert "already answered by camille at 2026-03-02 09:00 UTC" in str(error.value)
    assert error.value.decision.answer == {"outcome": "retained"}


def test_the_latest_decision_spans_the_rounds_of_a_question(o):
    decisions.record_decision(o.uow, "run-1", "match", "QT-1", {"advisor": "A"}, "c", o.clock)
    o.later(days=1)
    decisions.record_decision(o.uow, "run-2", "match-2", "QT-1", {"advisor": "B"}, "c", o.clock)
    decisions.record_decision(o.uow, "run-3", "matchmaking", "QT-1", {"advisor": "C"}, "c", o.clock)

    assert decisions.latest_decision(o.uow, "QT-1", "match").answer == {"advisor": "B"}
    assert decisions.latest_decision(o.uow, "QT-2", "match") is None


def test_a_screening_answer_is_checked_against_the_advisors_stage(o):
    invited, ready = advisor_at(o, "invited"), advisor_at(o, "ready")

    decisions.check_screening(o.uow, invited, "retained", "")
    with pytest.raises(InvalidInputError, match="'hired' is not a screening outcome"):
        decisions.check_screening(o.uow, invited, "hired", "")
    with pytest.raises(InvalidInputError, match="a reason is required"):
        decisions.check_screening(o.uow, invited, "not_retained", "  ")
    with pytest.raises(QuestionClosedError, match=f"advisor {ready} is 'ready'"):
        decisions.check_screening(o.uow, ready, "retained", "")


def test_the_modules_left_to_complete_are_the_required_ones_not_yet_done(o):
    code = advisor_at(o, "preparing")

    advisors.complete_module(o.uow, code, "CONF-1", Meta(actor="camille"), o.clock)

    assert [m.code for m in decisions.modules_to_complete(o.uow, code)] == ["PP-101"]


def test_a_training_answer_names_unknown_modules_and_what_is_left(o):
    code = advisor_at(o, "preparing")

    decisions.check_training(o.uow, code, ["PP-101"])
    with pytest.raises(InvalidInputError, match="name at least one completed module"):
        decisions.check_training(o.uow, code, [])
    with pytest.raises(
        InvalidInputError,
        match="unknown module\\(s\\) XX; required modules still to complete: CONF-1, PP-101",
    ):
        decisions.check_training(o.uow, code, ["XX"])
    ready = advisor_at(o, "ready")
    with pytest.raises(QuestionClosedError, match="the training question no longer applies"):
        decisions.check_training(o.uow, ready, ["PP-101"])


def test_decision_times_come_from_the_clock(o):
    o.clock.moment = START + timedelta(days=3)
    made = decisions.record_decision(o.uow, "r", "q", "s", {}, "a", o.clock)
    assert made.at == START + timedelta(days=3)
