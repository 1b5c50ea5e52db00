"""The coordinator's read use cases on the in-memory unit of work: finding a person by name
or e-mail, the pool's skill, availability and load filters, and the engagements."""

from __future__ import annotations

from datetime import date

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.compensation import CompensationPolicy
from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.services import compensation as pay
from ppflow.services import integration, queries
from ppflow.services.feedback import evaluate_engagement, open_feedback
from ppflow.services.ports import AdvisorFilter
from tests.unit.fakes import advisor_at, organization

META = Meta(actor="camille")


@pytest.fixture
def o():
    return organization()


def codes(entries):
    return [e.advisor.code for e in entries]


# ----------------------------------------------------------------------------- find


def test_a_search_ignores_case_and_accents_and_needs_every_word(o):
    helene = advisor_at(o, "invited", first_name="Hélène", last_name="Côté", email="hc@ex.org")
    advisor_at(o, "identified", first_name="Hélène", last_name="Roy", email="hr@ex.org")

    assert [m.code for m in queries.find_advisors(o.uow, "HELENE cote")] == [helene]
    [match] = queries.find_advisors(o.uow, "côté")
    assert (match.code, match.stage, match.first_name, match.email) == (
        helene,
        "invited",
        "Hélène",
        "hc@ex.org",
    )
    assert len(queries.find_advisors(o.uow, "helene")) == 2
    assert queries.find_advisors(o.uow, "helene zed") == []


def test_a_search_finds_by_e_mail_and_stops_at_its_limit(o):
    first = advisor_at(o, "identified", email="Marie.Dupont@Example.org")
    advisor_at(o, "identified", email="marie.dupont2@example.org")

    assert [m.code for m in queries.find_advisors(o.uow, "marie.dupont@example", 5)] == [first]
    assert [m.code for m in queries.find_advisors(o.uow, "dupont", limit=1)] == [first]


def test_an_empty_search_is_refused(o):
    with pytest.raises(InvalidInputError, match="give a name or an e-mail address"):
        queries.find_advisors(o.uow, "   ")


# ----------------------------------------------------------------------- pool filters


def test_the_pool_is_filtered_by_skill_availability_and_load(o):
    busy = advisor_at(o, "active", skills=("writing", "facilitation"), availability_hours=10)
    free = advisor_at(o, "ready", skills=("writing",), availability_hours=4)
    advisor_at(o, "ready", skills=(), availability_hours=12)

    assert codes(queries.list_advisors(o.uow, AdvisorFilter(skills=("writing",)))) == [busy, free]
    both = AdvisorFilter(skills=("writing", "facilitation"))
    assert codes(queries.list_advisors(o.uow, both)) == [busy]
    ten = codes(queries.list_advisors(o.uow, AdvisorFilter(available_hours=10)))
    assert busy in ten and free not in ten and len(ten) == 2
    idle = codes(queries.list_advisors(o.uow, AdvisorFilter(max_load=0, skills=("writing",))))
    assert idle == [free]
    assert busy in codes(queries.list_advisors(o.uow, AdvisorFilter(max_load=1)))


# ------------------------------------------------------------------------ engagements


def test_engagements_are_listed_by_team_advisor_and_state(o):
    first = advisor_at(o, "active")
    second = advisor_at(o, "active")
    [one] = o.uow.engagements.for_advisor(first)
    o.later(days=30)
    integration.end_engagement(o.uow, one.code, META, False, clock=o.clock)

    everything = queries.list_engagements(o.uow)
    assert [e.advisor for e in everything] == [first, second]
    assert [e.advisor for e in queries.list_engagements(o.uow, team=o.team)] == [first, second]
    assert [e.code for e in queries.list_engagements(o.uow, advisor=first)] == [one.code]
    assert [e.advisor for e in queries.list_engagements(o.uow, state="active")] == [second]
    assert queries.list_engagements(o.uow, advisor=second, state="completed") == []
    with pytest.raises(NotFoundError, match="no advisor 'PA-NONE'"):
        queries.list_engagements(o.uow, advisor="PA-NONE")
    with pytest.raises(NotFoundError, match="no QI team 'QT-NONE'"):
        queries.list_engagements(o.uow, team="QT-NONE")
    with pytest.raises(NotFoundError, match="no QI team 'QT-NONE'"):
        queries.list_engagements(o.uow, team="QT-NONE", advisor=first)


def test_an_engagement_shows_its_evaluation_feedback_rounds_and_pay(o):
    advisor = advisor_at(o, "active")
    [engagement] = o.uow.engagements.for_advisor(advisor)
    code = engagement.code
    o.later(days=30)
    pay.add_rate_tier(
        o.uow, pay.AddRateTier("meeting", "hourly", "25.00", date(2026, 1, 1)), o.clock
    )
    policy = CompensationPolicy()
    pay.log_hours(
        o.uow, pay.LogHours(code, date(2026, 3, 10), "meeting", "2", meta=META), policy, o.clock
    )
    pay.record_expense(
        o.uow, pay.RecordExpense(code, date(2026, 3, 10), "parking", "12.50"), policy, o.clock
    )
    open_feedback(o.uow, code, META, clock=o.clock)

    before = queries.get_engagement(o.uow, code)
    assert before.evaluation is None
    assert sorted(s.respondent_kind for s in before.surveys) == ["advisor", "staff"]
    assert all(s.round == 1 and s.answered_at is None for s in before.surveys)
    assert (before.pay.centihours, before.pay.owed_cents, before.pay.expenses_cents) == (
        200,
        5000,
        1250,
    )

    integration.end_engagement(o.uow, code, META, False, clock=o.clock)
    evaluate_engagement(o.uow, code, META, notes="went well", clock=o.clock)
    after = queries.get_engagement(o.uow, code)
    assert after.engagement.stage == "evaluated"
    assert after.evaluation.notes == "went well"
    assert "feedback" in [c["name"] for c in after.evaluation.criteria]
    with pytest.raises(NotFoundError, match="no engagement 'EN-NONE'"):
        queries.get_engagement(o.uow, "EN-NONE")
