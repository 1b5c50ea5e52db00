"""Each indicator against a small fixture worked out by hand, on SQLite and PostgreSQL.

Day 0: two teams are briefed (active), a third is still forming; three advisors are
walked to ready. Day 10: A joins team 1. Day 30: B joins team 1; D is referred.
Day 40: A answers the questionnaire. Day 100: B withdraws ("moved away").
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from sqlalchemy import insert, select, update

from ppflow.adapters.orm import EngagementRow, ProgramTargetRow, TransitionRow
from ppflow.domain.commands import AddProgram, Meta, TargetSpec
from ppflow.services import advisors, feedback, integration, organization, portal
from ppflow.services.indicators import (
    OTHER_REASONS,
    aggregate_reasons,
    compute_indicators,
    compute_trend,
)
from tests import factories

META = Meta("test")


def _fixture(app):
    t0 = app.clock.now()
    factories.modules(app, "PP-101")
    organization.add_program(
        app.uow(),
        AddProgram(
            "PP-I",
            "Program",
            "Quality",
            (),
            (
                TargetSpec("days_to_integration_median", 15, "2026"),
                TargetSpec("feedback_communication", 4, "2026"),
            ),
        ),
        app.clock,
    )
    lead = factories.staff(app, role="front_line_manager")
    one, two = factories.team(app, lead), factories.team(app, lead)
    factories.team(app, lead)  # forming: not counted among active teams
    for team in (one, two):
        integration.brief_team(app.uow(), team, META, app.clock)
    provider = factories.staff(app)
    a, b, c = (factories.ready_advisor(app, provider) for _ in range(3))
    app.clock.moment = t0 + timedelta(days=10)
    joined_a = integration.confirm_match(app.uow(), one, a, META, clock=app.clock)
    app.clock.moment = t0 + timedelta(days=30)
    integration.confirm_match(app.uow(), one, b, META, clock=app.clock)
    factories.referral(app, provider)
    app.clock.moment = t0 + timedelta(days=40)
    feedback.open_feedback(app.uow(), joined_a.engagement, META, clock=app.clock)
    answers = {"com_information": 4, "com_role": 2, "views_invited": 5, "open_improve": "-"}
    portal.record_response(
        app.uow(),
        app.questionnaires(),
        joined_a.engagement,
        a,
        answers,
        clock=app.clock,
        partial=True,
    )
    app.clock.moment = t0 + timedelta(days=100)
    advisors.withdraw_advisor(app.uow(), b, Meta("test", reason="moved away"), app.clock)
    with app.engine.begin() as connection:  # the target is revised: version 2
        connection.execute(
            insert(ProgramTargetRow),
            [
                {
                    "program_id": 1,
                    "indicator": "days_to_integration_median",
                    "target": 25,
                    "period": "2026",
                    "version": 2,
                    "created_at": app.clock.now(),
                }
            ],
        )
    return t0, joined_a.engagement, (a, b, c)


def test_each_indicator_matches_the_fixture_worked_out_by_hand(any_app):
    app = any_app
    t0, _, _ = _fixture(app)
    first = compute_indicators(app.indicators(), t0, t0 + timedelta(days=31))
    values = first.values
    # the funnel at day 31, rewound from today's stages (B has since withdrawn)
    assert first.funnel == {"active": 2, "ready": 1, "identified": 1}
    assert values["new_referrals"] == 4
    assert values["advisors_integrated"] == 2
    # 10 and 30 days: median 20, 90th percentile 10 + 0.9 * 20 = 28
    assert values["days_to_integration_median"] == 20.0
    assert values["days_to_integration_p90"] == 28.0
    assert (values["teams"], values["teams_with_advisors"], values["teams_with_two_advisors"]) == (
        2,
        1,
        1,
    )
    assert values["share_teams_with_advisors"] == 0.5
    assert values["advisors_per_team"] == 1.0
    # the target was revised from 15 to 25 on day 100: this period is judged by the 15
    target = first.target_versions["days_to_integration_median"]
    assert (target.target, target.version, target.previous) == (15.0, 1, None)
    comparisons = {c.indicator: c for c in first.comparisons()}
    assert comparisons["days_to_integration_median"].met is False

    later = compute_indicators(app.indicators(), t0 + timedelta(days=31), t0 + timedelta(days=400))
    target = later.target_versions["days_to_integration_median"]
    assert (target.target, target.version, target.previous) == (25.0, 2, 15.0)
    assert later.funnel == {"active": 1, "ready": 1, "identified": 1, "withdrawn": 1}
    assert later.values["withdrawals"] == 1
    # one person gave this reason: the report counts it with the others, never alone
    assert later.reasons_for_leaving == [("withdrawn", OTHER_REASONS, 1)]
    assert later.values["teams_with_advisors"] == 1
    assert later.values["teams_with_two_advisors"] == 0
    # A (active day 10) stayed; B (active day 30) left 70 days later
    assert (later.values["retention_6m_cohort"], later.values["retention_6m"]) == (2, 0.5)
    assert (later.values["retention_12m_cohort"], later.values["retention_12m"]) == (2, 0.5)
    # A's answers: communication (4 + 2) / 2 = 3, sharing views 5; the open answer is ignored
    assert later.values["feedback_communication"] == 3.0
    assert later.values["feedback_sharing_views"] == 5.0
    assert later.values["feedback_mean"] == 3.67
    assert {c.indicator: c.met for c in later.comparisons()}["feedback_communication"] is False
    quarter = f"{(t0 + timedelta(days=40)).year}Q{((t0 + timedelta(days=40)).month - 1) // 3 + 1}"
    assert later.themes["communication"] == {quarter: 3.0}
    assert quarter in later.quarters


def test_retention_waits_until_advisors_have_been_active_long_enough(any_app):
    app = any_app
    t0, _, _ = _fixture(app)
    early = compute_indicators(app.indicators(), t0, t0 + timedelta(days=150))
    assert early.values["retention_6m_cohort"] == 0
    assert early.values["retention_6m"] is None


def test_hours_and_pay_come_from_the_compensation_tables(any_app):
    from ppflow.adapters.orm_compensation import ActivityLogRow

    app = any_app
    t0, engagement, _ = _fixture(app)
    with app.engine.begin() as connection:
        engagement_id = connection.scalar(
            select(EngagementRow.id).where(EngagementRow.code == engagement)
        )
        day = t0.date() + timedelta(days=12)
        logs = [(day, 150, 3750, False), (day, 100, 2500, True), (date(2020, 1, 1), 900, 1, False)]
        connection.execute(
            insert(ActivityLogRow),
            [
                {
                    "engagement_id": engagement_id,
                    "activity_date": when,
                    "activity": "meeting",
                    "centihours": hours,
                    "rate_cents": 2500,
                    "basis": "hourly",
                    "amount_cents": cents,
                    "declined": declined,
                    "recorded_at": t0,
                    "actor": "test",
                }
                for when, hours, cents, declined in logs
            ],
        )
        connection.execute(update(EngagementRow).values(hourly_rate=25))
    result = compute_indicators(app.indicators(), t0, t0 + timedelta(days=31))
    assert result.values["hours"] == 2.5  # both logs in the period, declined pay included
    assert result.values["compensation_paid"] == 37.5  # the declined payment is left out


def test_a_reason_for_leaving_shows_only_when_three_people_gave_it():
    rows = [
        ("withdrawn", "moved away", 3),
        ("withdrawn", "cancer came back", 1),
        ("alumni", "end of term", 4),
        ("withdrawn", "too busy", 2),
    ]
    assert aggregate_reasons(rows) == [
        ("withdrawn", "moved away", 3),
        ("alumni", "end of term", 4),
        ("withdrawn", OTHER_REASONS, 3),
    ]


class _OneEndAfterTheOther:
    """The SQL queries without their many-period forms (``..._over``): the trend then asks
    each figure quarter by quarter."""

    def __init__(self, queries):
        self.queries = queries

    def __getattr__(self, name):
        if name.endswith("_over"):
            raise AttributeError(name)
        return getattr(self.queries, name)


def test_teams_over_many_ends_equals_teams_at_each_end(any_app):
    """The trend's one reading of the teams and engagements gives what ``teams_at`` gives
    at each end: before, at, just after and between every move of a team or an engagement
    (A joins, B joins, B leaves on withdrawing), in any order of the ends."""
    app = any_app
    t0, _, _ = _fixture(app)
    with app.engine.connect() as connection:
        moments = connection.execute(
            select(TransitionRow.at).where(TransitionRow.entity.in_(("team", "engagement")))
        ).scalars()
        moves = sorted(set(moments))
    assert len(moves) >= 4  # briefings, two joins, an exit
    tick = timedelta(microseconds=1)
    ends = sorted({m + d for m in moves for d in (-tick, timedelta(0), tick)})
    ends += [t0 - timedelta(days=1), t0 + timedelta(days=20), t0 + timedelta(days=365)]
    ends.reverse()
    queries = app.indicators()

    each = [queries.teams_at(end) for end in ends]

    assert queries.teams_over(ends) == each
    assert {c.advisors_on_active_teams for c in each} >= {0, 1, 2}  # the ends tell apart


def test_the_trend_from_one_reading_equals_the_trend_quarter_by_quarter(any_app):
    app = any_app
    t0, _, _ = _fixture(app)
    queries = app.indicators()
    for end in (t0 + timedelta(days=35), t0 + timedelta(days=120), t0 + timedelta(days=800)):
        one_reading = compute_trend(queries, end, UTC)
        quarter_by_quarter = compute_trend(_OneEndAfterTheOther(queries), end, UTC)
        assert one_reading == quarter_by_quarter


def test_days_to_integration_over_periods_equals_each_period_alone(any_app):
    """Between edges around each activation (A on day 10, B on day 30): the same counts,
    medians and 90th percentiles as one period at a time."""
    app = any_app
    t0, _, _ = _fixture(app)
    queries = app.indicators()
    tick = timedelta(microseconds=1)
    edges = [t0, t0 + timedelta(days=10), t0 + timedelta(days=10) + tick, t0 + timedelta(days=20)]
    edges += [t0 + timedelta(days=30) - tick, t0 + timedelta(days=30), t0 + timedelta(days=400)]

    each = [queries.days_to_integration(a, b) for a, b in zip(edges, edges[1:], strict=False)]

    assert queries.days_to_integration_over(edges) == each
    assert sum(d.count for d in each) == 2  # A and B, each in one period
    whole = [queries.days_to_integration(edges[0], edges[-1])]
    assert queries.days_to_integration_over([edges[0], edges[-1]]) == whole


def test_counts_over_periods_equal_each_period_alone(any_app):
    """New referrals and advisors integrated, between edges at and around the moves."""
    app = any_app
    t0, _, _ = _fixture(app)
    queries = app.indicators()
    tick = timedelta(microseconds=1)
    edges = [t0 - timedelta(days=1), t0, t0 + tick, t0 + timedelta(days=10)]
    edges += [t0 + timedelta(days=10) + tick, t0 + timedelta(days=30), t0 + timedelta(days=400)]
    spans = list(zip(edges, edges[1:], strict=False))

    referred = [queries.new_referrals(a, b) for a, b in spans]
    integrated = [queries.entered("active", a, b) for a, b in spans]

    assert queries.new_referrals_over(edges) == referred
    assert queries.entered_over("active", edges) == integrated
    assert sum(referred) >= 4 and sum(integrated) == 2
