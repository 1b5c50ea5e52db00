"""The funnel and the trend of the report, counted by the database from the transition
log, on SQLite and PostgreSQL.

Funnel, period P = [day 0, day 20): A was referred and invited before P, says yes and is
retained in P, and starts preparing only after P. In P: B is referred, invited and
declines; C is referred, invited, says yes and is not retained; D is walked from referral
to ready. F, ready before P, is put on hold and comes back to ready in P: coming back is
not reaching the step again. E is referred after P.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ppflow.domain.commands import AddProgram, Meta, TargetSpec
from ppflow.services import advisors, integration, organization
from ppflow.services.indicators import compute_indicators, compute_trend
from tests import factories

META = Meta("test")
MONTREAL = ZoneInfo("America/Montreal")


def _funnel_fixture(app):
    t0 = app.clock.now()
    factories.modules(app, "PP-101")
    provider = factories.staff(app)
    app.clock.moment = t0 - timedelta(days=10)
    a = factories.referral(app, provider)
    advisors.invite_advisor(app.uow(), a, META, app.clock)
    f = factories.ready_advisor(app, provider)
    advisors.put_on_hold(app.uow(), f, Meta("test", reason="travelling"), app.clock)
    app.clock.moment = t0 + timedelta(days=1)
    advisors.record_invitation_answer(app.uow(), a, True, META, app.clock)
    advisors.apply_screening_outcome(app.uow(), a, "retained", META, clock=app.clock)
    b = factories.referral(app, provider)
    advisors.invite_advisor(app.uow(), b, META, app.clock)
    advisors.apply_screening_outcome(app.uow(), b, "declined", META, clock=app.clock)
    app.clock.moment = t0 + timedelta(days=2)
    c = factories.referral(app, provider)
    advisors.invite_advisor(app.uow(), c, META, app.clock)
    advisors.record_invitation_answer(app.uow(), c, True, META, app.clock)
    why = Meta("test", reason="not available")
    advisors.apply_screening_outcome(app.uow(), c, "not_retained", why, clock=app.clock)
    app.clock.moment = t0 + timedelta(days=3)
    factories.ready_advisor(app, provider)  # D
    advisors.resume(app.uow(), f, META, app.clock)  # F is ready again
    app.clock.moment = t0 + timedelta(days=25)  # after the period
    advisors.enrol_required_modules(app.uow(), a, META, app.clock)
    factories.referral(app, provider)  # E
    return t0


def test_the_funnel_counts_who_reached_each_step_in_the_period_and_moved_on(any_app):
    t0 = _funnel_fixture(any_app)
    result = compute_indicators(any_app.indicators(), t0, t0 + timedelta(days=20))

    steps = {s.stage: (s.reached, s.moved_on, s.rate) for s in result.conversions}
    assert steps == {
        "identified": (3, 3, 1.0),  # B, C, D: A was referred before the period
        "invited": (3, 2, 0.667),  # C and D said yes; B declined
        "screening": (3, 2, 0.667),  # A, C, D; C was not retained
        "recruited": (2, 1, 0.5),  # A starts preparing only after the period
        "preparing": (1, 1, 1.0),
        "ready": (1, 0, 0.0),
        "active": (0, None, None),
    }
    assert [s.stage for s in result.conversions][0] == "identified"
    assert result.exits == {"declined": 1, "not_retained": 1, "withdrawn": 0}


def test_a_period_before_any_move_has_an_empty_funnel(any_app):
    t0 = _funnel_fixture(any_app)
    result = compute_indicators(
        any_app.indicators(), t0 - timedelta(days=400), t0 - timedelta(days=200)
    )
    assert all(s.reached == 0 and not s.moved_on for s in result.conversions)


def _trend_fixture(app):
    """Referrals in 2025Q2 (1), 2025Q3 (2) and 2026Q1 (3, one of them integrated 10 days
    after its referral into the only team, briefed that quarter); the program's target of
    2 new referrals a quarter is set in 2025Q2, and revised to 3 in 2025Q4."""
    app.clock.moment = datetime(2025, 5, 10, 15, tzinfo=UTC)
    factories.modules(app, "PP-101")
    organization.add_program(
        app.uow(),
        AddProgram("PP-T", "Program", "Quality", (), (TargetSpec("new_referrals", 2, "2025"),)),
        app.clock,
    )
    provider = factories.staff(app)
    lead = factories.staff(app, role="front_line_manager")
    factories.referral(app, provider)
    app.clock.moment = datetime(2025, 8, 12, 15, tzinfo=UTC)
    factories.referral(app, provider)
    factories.referral(app, provider)
    app.clock.moment = datetime(2025, 11, 3, 15, tzinfo=UTC)
    organization.revise_target(app.uow(), "PP-T", "new_referrals", 3, "2026", clock=app.clock)
    app.clock.moment = datetime(2026, 2, 20, 15, tzinfo=UTC)
    factories.referral(app, provider)
    factories.referral(app, provider)
    joining = factories.ready_advisor(app, provider)
    team = factories.team(app, lead)
    integration.brief_team(app.uow(), team, META, app.clock)
    app.clock.moment = datetime(2026, 3, 2, 15, tzinfo=UTC)
    integration.confirm_match(app.uow(), team, joining, META, clock=app.clock)


def test_the_trend_follows_the_main_indicators_quarter_by_quarter(any_app):
    _trend_fixture(any_app)
    end = datetime(2026, 4, 1, 4, tzinfo=UTC)  # the end of 2026Q1 in Montreal

    trend = compute_trend(any_app.indicators(), end, MONTREAL)

    # eight quarters asked for; the four before the first referral are left out
    assert [q.quarter for q in trend] == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert [q.values["new_referrals"] for q in trend] == [1, 2, 0, 3]
    assert [q.values["advisors_integrated"] for q in trend] == [0, 0, 0, 1]
    assert [q.values["share_teams_with_advisors"] for q in trend] == [None, None, None, 1.0]
    assert [q.values["days_to_integration_median"] for q in trend] == [None, None, None, 10.0]
    # the target in force at the end of each quarter: revised during 2025Q4
    assert [q.targets.get("new_referrals") for q in trend] == [2, 2, 3, 3]
    assert trend[0].start == datetime(2025, 4, 1, 4, tzinfo=UTC)


def test_the_trend_shows_at_most_eight_quarters(any_app):
    _trend_fixture(any_app)
    end = datetime(2027, 4, 1, 4, tzinfo=UTC)  # the end of 2027Q1

    trend = compute_trend(any_app.indicators(), end, MONTREAL)

    assert len(trend) == 8 and trend[0].quarter == "2025Q2" and trend[-1].quarter == "2027Q1"
    assert [q.values["new_referrals"] for q in trend] == [1, 2, 0, 3, 0, 0, 0, 0]
