"""Integration into a QI team, feedback and evaluation, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ppflow.domain.commands import AddTeam, Meta
from ppflow.domain.errors import (
    GuardFailedError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from ppflow.services import feedback, integration, portal
from ppflow.services.organization import add_team
from tests.unit.fakes import START, FakeQuestionnaires, advisor_at, organization

META = Meta(actor="camille", reason="good fit")


@pytest.fixture
def o():
    return organization()


def brief(o):
    integration.brief_team(o.uow, o.team, META, o.clock)


# ---------------------------------------------------------------------- briefing


def test_briefing_a_team_activates_it_and_sends_the_lead_the_method(o):
    change = integration.brief_team(o.uow, o.team, META, o.clock)

    assert (change.from_state, change.to_state) == ("forming", "active")
    team = o.uow.teams.get(o.team)
    assert team.briefed_at == START and team.version == 2
    [briefing] = o.uow.queued("team_briefing")
    assert (briefing.recipient_code, briefing.idempotency_key) == (
        o.lead,
        f"team_briefing:{o.team}",
    )
    assert briefing.context["team_name"] == "Urgence"


def test_briefing_a_team_twice_changes_nothing(o):
    brief(o)
    again = integration.brief_team(o.uow, o.team, META, o.clock)
    assert again.replayed and again.to_state == "active"
    assert len(o.uow.queued("team_briefing")) == 1
    assert [t.to_state for t in o.uow.log("team")] == ["forming", "active"]


def test_a_team_without_a_lead_cannot_be_briefed(o):
    team = add_team(o.uow, AddTeam("Sans chef"), o.clock)
    with pytest.raises(InvalidInputError, match="has no lead to receive the briefing"):
        integration.brief_team(o.uow, team.code, META, o.clock)
    assert o.uow.teams.get(team.code).stage == "forming"


# ---------------------------------------------------------------------- matching


def test_matches_rank_ready_advisors_who_are_not_already_on_the_team(o):
    brief(o)
    on_team = advisor_at(o, "active")
    strong = advisor_at(o, "ready", tags=("cancer",), availability_hours=8)
    weak = advisor_at(o, "ready", tags=(), availability_hours=0)
    advisor_at(o, "preparing")
    with o.uow:
        team = o.uow.teams.get(o.team)
    assert team.focus_tags == []  # no shared lived experience to score: hours decide

    matches = integration.propose_matches(o.uow, o.team, clock=o.clock)

    assert [m.advisor for m in matches] == [strong, weak]
    assert on_team not in [m.advisor for m in matches]
    assert matches[0].score > matches[1].score
    assert any("offers 8 h a month" in r for r in matches[0].reasons)


def test_a_match_is_checked_before_it_is_confirmed(o):
    ready, preparing = advisor_at(o, "ready"), advisor_at(o, "preparing")

    with pytest.raises(InvalidInputError, match="brief it before its first advisor joins"):
        integration.check_match(o.uow, o.team, ready)
    brief(o)
    integration.check_match(o.uow, o.team, ready)
    with pytest.raises(InvalidInputError, match=f"advisor {preparing} is 'preparing', not 'ready'"):
        integration.check_match(o.uow, o.team, preparing)
    with pytest.raises(NotFoundError, match="no advisor 'PA-NOBODY'"):
        integration.check_match(o.uow, o.team, "PA-NOBODY")


def test_confirming_a_match_starts_the_engagement_activates_the_advisor_and_introduces_them(o):
    brief(o)
    code = advisor_at(o, "ready")

    result = integration.confirm_match(o.uow, o.team, code, META, hourly_rate=25.0, clock=o.clock)

    assert (result.advisor_stage, result.team) == ("active", o.team)
    engagement = o.uow.engagements.get(result.engagement)
    assert (engagement.stage, engagement.start_date, engagement.hourly_rate) == (
        "active",
        START.date(),
        25.0,
    )
    intro_advisor, intro_lead = (
        o.uow.queued("introduction_advisor"),
        o.uow.queued("introduction_lead"),
    )
    assert [n.recipient_code for n in intro_advisor] == [code]
    assert [n.recipient_code for n in intro_lead] == [o.lead]
    assert intro_lead[0].idempotency_key == f"introduction_lead:{result.engagement}"
    moves = [(t.entity, t.to_state) for t in o.uow.log() if t.code in (code, result.engagement)]
    assert moves[-3:] == [
        ("engagement", "proposed"),
        ("engagement", "active"),
        ("advisor", "active"),
    ]
    assert result.warnings == (
        f"team {o.team} has 1 advisor(s); its rule asks for at least 2, so one advisor may be "
        "left alone",
    )


def test_a_replayed_confirmation_reports_the_engagement_it_made_and_makes_no_other(o):
    brief(o)
    code = advisor_at(o, "ready")
    meta = Meta(actor="flow", request_id="match-7")
    first = integration.confirm_match(o.uow, o.team, code, meta, clock=o.clock)

    again = integration.confirm_match(o.uow, o.team, code, meta, clock=o.clock)

    assert again.replayed and again.engagement == first.engagement
    assert len(o.uow.engagements.for_advisor(code)) == 1


def test_a_full_team_takes_no_other_advisor(o):
    o = organization(seats=1)
    brief(o)
    advisor_at(o, "active")
    code = advisor_at(o, "ready")
    with pytest.raises(InvalidInputError, match="has no free advisor seat \\(1 taken\\)"):
        integration.confirm_match(o.uow, o.team, code, META, clock=o.clock)
    assert o.uow.engagements.for_advisor(code) == []


def test_an_advisor_without_valid_consent_cannot_start_an_engagement(o):
    brief(o)
    code = advisor_at(o, "ready")
    o.later(days=800)  # the two-year consent has run out

    with pytest.raises(GuardFailedError, match="the advisor has no valid consent"):
        integration.confirm_match(o.uow, o.team, code, META, clock=o.clock)
    assert o.uow.engagements.for_advisor(code) == []
    assert o.uow.advisors.get(code).stage == "ready"


def test_objectives_set_records_who_was_on_the_team(o):
    code = advisor_at(o, "active")
    o.later(days=7)

    present = integration.record_objectives(o.uow, o.team, META, o.clock)

    assert present == [code]
    assert o.uow.teams.get(o.team).objectives_set_at == START + timedelta(days=7)


def test_an_ended_engagement_thanks_the_advisor_who_is_ready_again(o):
    code = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(code)
    o.later(days=90)

    change = integration.end_engagement(o.uow, engagement.code, META, clock=o.clock)

    assert (change.from_state, change.to_state) == ("active", "completed")
    ended = o.uow.engagements.get(engagement.code)
    assert ended.end_date == (START + timedelta(days=90)).date()
    assert o.uow.advisors.get(code).stage == "ready"
    assert o.uow.log("advisor")[-1].reason == "engagement ended"
    [thanks] = o.uow.queued("engagement_thank_you")
    assert (thanks.recipient_code, thanks.context["team_name"]) == (code, "Urgence")


def test_ending_an_engagement_early_needs_a_reason_and_it_can_end_once(o):
    code = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(code)
    with pytest.raises(GuardFailedError, match="no reason recorded"):
        integration.end_engagement(o.uow, engagement.code, Meta(), early=True, clock=o.clock)

    integration.end_engagement(o.uow, engagement.code, META, early=True, clock=o.clock)
    assert o.uow.engagements.get(engagement.code).reason == "good fit"
    with pytest.raises(IllegalTransitionError, match="final state"):
        integration.end_engagement(o.uow, engagement.code, META, clock=o.clock)


# ---------------------------------------------------------------------- feedback


def active_engagement(o) -> str:
    code = advisor_at(o, "active")
    return o.uow.engagements.for_advisor(code)[0].code


def test_feedback_is_asked_of_the_advisor_and_the_lead_once_per_round(o):
    engagement = active_engagement(o)

    status = feedback.open_feedback(o.uow, engagement, META, clock=o.clock)
    feedback.open_feedback(o.uow, engagement, META, clock=o.clock)

    assert (status.opened, status.answered) == (2, 0)
    requests = o.uow.queued("survey_request")
    assert sorted(n.recipient_kind for n in requests) == ["advisor", "staff"]
    lead = next(n for n in requests if n.recipient_code == o.lead)
    assert lead.idempotency_key == f"survey_request:{engagement}:{o.lead}:1"
    assert lead.context["due_date"] == "2026-03-16"
    assert lead.context["survey_token"]  # the link is signed when the e-mail is rendered
    assert "http" not in repr(lead.context)


def test_feedback_is_not_asked_of_an_engagement_that_has_not_started(o):
    brief(o)
    engagement = active_engagement(o)
    integration.end_engagement(o.uow, engagement, META, early=True, clock=o.clock)
    with pytest.raises(InvalidInputError, match="is ended_early; feedback is asked"):
        feedback.open_feedback(o.uow, engagement, META, clock=o.clock)


def test_reminders_go_once_per_period_to_those_who_have_not_answered(o):
    engagement = active_engagement(o)
    code = o.uow.engagements.get(engagement).advisor
    feedback.open_feedback(o.uow, engagement, META, clock=o.clock)
    portal.record_response(
        o.uow, FakeQuestionnaires(), engagement, code, {"res_heard": 4}, clock=o.clock, partial=True
    )

    o.later(days=6)
    assert feedback.remind_feedback(o.uow, engagement, timedelta(days=7), o.clock) == 0
    o.later(days=1)
    assert feedback.remind_feedback(o.uow, engagement, timedelta(days=7), o.clock) == 1
    assert feedback.remind_feedback(o.uow, engagement, timedelta(days=7), o.clock) == 0

    [reminder] = [n for n in o.uow.queued() if n.idempotency_key.startswith("survey_reminder")]
    assert reminder.idempotency_key == f"survey_reminder:{engagement}:{o.lead}:1:1"
    assert feedback.feedback_status(o.uow, engagement).reminded == 1


def test_a_completed_engagement_is_evaluated_once_against_the_criteria(o):
    engagement = active_engagement(o)
    integration.end_engagement(o.uow, engagement, META, clock=o.clock)

    report = feedback.evaluate_engagement(o.uow, engagement, META, "went well", clock=o.clock)
    again = feedback.evaluate_engagement(o.uow, engagement, META, "other notes", clock=o.clock)

    assert o.uow.engagements.get(engagement).stage == "evaluated"
    names = [c["name"] for c in report.criteria]
    assert "training_completed" in names and "feedback" in names
    assert again.replayed and again.notes == "went well" and again.score == report.score
    assert o.uow.evaluations.get(engagement).actor == "camille"


def test_an_active_engagement_cannot_be_evaluated_and_no_evaluation_is_kept(o):
    engagement = active_engagement(o)
    with pytest.raises(IllegalTransitionError, match="'active' to 'evaluated'"):
        feedback.evaluate_engagement(o.uow, engagement, META, clock=o.clock)
    assert o.uow.evaluations.get(engagement) is None
