"""Compensation rules, without a database: money and hours, tiers and their dates, the
amount owed for each kind of tier, declined payment, fiscal years and the thresholds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ppflow.domain.compensation import (
    KNOWN_ACTIVITIES,
    CompensationPolicy,
    NoRateError,
    RateTier,
    applicable_tier,
    check_known_activity,
    check_no_overlap,
    declined_on,
    fiscal_year,
    fiscal_year_bounds,
    fiscal_year_label,
    hourly_amount,
    hours,
    money,
    new_tier,
    parse_hours,
    parse_money,
    rate_to_cents,
    value_activity,
)
from ppflow.domain.errors import InvalidInputError

MEETING_2025 = RateTier("meeting", "hourly", 2000, date(2025, 1, 1))
MEETING_2026 = RateTier("meeting", "hourly", 3000, date(2026, 5, 1))
TALK = RateTier("presentation", "flat", 7500, date(2026, 1, 1), date(2026, 12, 31))
TIERS = [MEETING_2025, MEETING_2026, TALK]


def owed(activity, day, centihours, rate=None, declined=False):
    return value_activity(
        activity=activity,
        day=day,
        centihours=centihours,
        tiers=TIERS,
        engagement_rate_cents=rate,
        declined=declined,
    )


def test_money_and_hours_are_read_exactly_and_printed_back():
    assert parse_money("25") == 2500
    assert parse_money("0.10") == 10
    assert parse_money("1234,56") == 123456
    assert money(41250) == "412.50" and money(5) == "0.05"
    assert parse_hours("1.5") == 150 and parse_hours("0.25") == 25
    assert hours(150) == "1.5" and hours(200) == "2" and hours(25) == "0.25"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "negative"),
        ("1.005", "more than two decimals"),
        ("abc", "not a number"),
        ("nan", "not a number"),
    ],
)
def test_a_bad_amount_is_refused_with_the_reason(text, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_money(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0", "more than 0"), ("-2", "more than 0"), ("25", "more than 24"), ("1.333", "decimals")],
)
def test_bad_hours_are_refused_with_the_reason(text, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_hours(text)


@pytest.mark.parametrize(
    "text", ["1e300", "1e9999999999", "100000000.01", "1" + "0" * 30 + ".5", "1E+27"]
)
def test_an_amount_out_of_range_is_refused_naming_the_value_and_the_range(text):
    with pytest.raises(InvalidInputError) as refused:
        parse_money(text, "rate")
    message = str(refused.value)
    assert message.startswith(f"rate '{text[:20]}")
    assert message.endswith("is out of range: give 0 to 100000000.00 dollars")
    assert len(message) < 100  # one line, however long the value given


def test_the_largest_amount_and_hours_in_range_are_read():
    assert parse_money("100000000") == 100_000_000_00
    assert parse_money("1e3") == 100_000
    assert parse_hours("24") == 2400 and parse_hours("2.4e1") == 2400


@pytest.mark.parametrize("text", ["1e300", "1e9999999999", "1" + "0" * 30 + ".5"])
def test_hours_far_out_of_range_are_refused_with_the_range(text):
    with pytest.raises(InvalidInputError, match="more than 24 in one entry"):
        parse_hours(text)


def test_a_float_amount_is_refused_because_it_is_already_inexact():
    with pytest.raises(InvalidInputError, match="not float"):
        parse_money(0.1)


def test_an_engagement_rate_stored_as_float_becomes_exact_cents():
    assert rate_to_cents(25.1) == 2510
    assert rate_to_cents(19.99) == 1999


def test_hourly_amounts_round_half_up_to_the_cent():
    assert hourly_amount(2333, 150) == 3500  # 34.995 -> 35.00
    assert hourly_amount(2500, 1999) == 49975
    # a hundred small entries add up exactly, where float would drift
    assert sum(hourly_amount(1999, 10) for _ in range(100)) == 100 * 200


def test_the_tier_in_effect_is_the_latest_started_on_that_day():
    assert applicable_tier(TIERS, "meeting", date(2024, 12, 31)) is None
    assert applicable_tier(TIERS, "meeting", date(2026, 4, 30)) == MEETING_2025
    assert applicable_tier(TIERS, "meeting", date(2026, 5, 1)) == MEETING_2026
    assert applicable_tier(TIERS, "presentation", date(2026, 12, 31)) == TALK
    assert applicable_tier(TIERS, "presentation", date(2027, 1, 1)) is None


def test_an_hourly_tier_pays_hours_times_its_rate_on_the_activity_date():
    assert owed("meeting", date(2026, 4, 15), 200).amount_cents == 4000
    assert owed("meeting", date(2026, 5, 10), 200).amount_cents == 6000
    assert owed("meeting", date(2026, 5, 10), 200).basis == "hourly"


def test_a_flat_tier_pays_its_amount_once_whatever_the_hours():
    short = owed("presentation", date(2026, 6, 1), 50)
    long = owed("presentation", date(2026, 6, 1), 300)
    assert short.amount_cents == long.amount_cents == 7500
    assert long.basis == "flat"


def test_the_engagement_rate_takes_precedence_for_hourly_work():
    valued = owed("meeting", date(2026, 5, 10), 200, rate=2500)
    assert (valued.amount_cents, valued.basis) == (5000, "engagement-rate")
    # but a flat activity still pays its flat amount
    assert owed("presentation", date(2026, 6, 1), 200, rate=2500).amount_cents == 7500


def test_without_a_tier_hourly_work_is_paid_at_the_engagement_rate_or_refused():
    assert owed("workshop", date(2026, 6, 1), 100, rate=2500).amount_cents == 2500
    with pytest.raises(NoRateError, match="no rate tier for 'workshop' on 2026-06-01"):
        owed("workshop", date(2026, 6, 1), 100)


def test_declined_payment_owes_nothing_but_keeps_the_rate_it_would_have_paid():
    valued = owed("meeting", date(2026, 5, 10), 200, declined=True)
    assert (valued.amount_cents, valued.rate_cents, valued.declined) == (0, 3000, True)
    assert declined_on([date(2026, 4, 20)], date(2026, 4, 20))
    assert not declined_on([date(2026, 4, 20)], date(2026, 4, 19))
    assert not declined_on([], date(2026, 4, 19))


def test_a_new_tier_is_checked():
    assert new_tier("Meeting", "hourly", "25", date(2026, 1, 1)).activity == "meeting"
    with pytest.raises(InvalidInputError, match="not one of hourly, flat"):
        new_tier("meeting", "daily", "25", date(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="more than 0"):
        new_tier("meeting", "hourly", "0", date(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="ends"):
        new_tier("meeting", "hourly", "25", date(2026, 1, 1), date(2025, 12, 31))
    with pytest.raises(InvalidInputError, match="lowercase word"):
        new_tier("team meeting!", "hourly", "25", date(2026, 1, 1))


def test_fiscal_years_start_in_the_configured_month():
    assert fiscal_year(date(2027, 3, 31), 4) == 2026
    assert fiscal_year(date(2027, 4, 1), 4) == 2027
    assert fiscal_year(date(2026, 12, 31), 1) == 2026
    assert fiscal_year_bounds(2026, 4) == (date(2026, 4, 1), date(2027, 4, 1))
    assert fiscal_year_label(2026, 4) == "2026-27"
    assert fiscal_year_label(2099, 4) == "2099-00"
    assert fiscal_year_label(2026, 1) == "2026"
    with pytest.raises(InvalidInputError):
        fiscal_year(date(2026, 1, 1), 13)


def test_the_budget_alert_is_due_at_the_ratio_and_not_below():
    policy = CompensationPolicy.from_values(500.0, 0.8, 4)
    assert policy.budget_alert_ratio == Decimal("0.8")
    assert not policy.budget_alert_due(79_999, 100_000)
    assert policy.budget_alert_due(80_000, 100_000)
    assert not policy.budget_alert_due(80_000, None)
    assert not policy.budget_alert_due(0, 0)


def test_the_t4a_alert_is_due_at_500_dollars_and_not_below():
    policy = CompensationPolicy.from_values(500.0, 0.8, 4)
    assert policy.t4a_threshold_cents == 50_000
    assert not policy.t4a_due(49_999)
    assert policy.t4a_due(50_000)


def test_settings_out_of_range_are_refused():
    with pytest.raises(InvalidInputError, match="ratio"):
        CompensationPolicy.from_values(500.0, 1.5, 4)
    with pytest.raises(InvalidInputError, match="start month"):
        CompensationPolicy.from_values(500.0, 0.8, 0)
    with pytest.raises(InvalidInputError, match="T4A threshold .* out of range"):
        CompensationPolicy.from_values(1e300, 0.8, 4)
    with pytest.raises(InvalidInputError, match="ratio 'nan' is not a number"):
        CompensationPolicy.from_values(500.0, float("nan"), 4)


def test_the_budget_alerts_at_its_ratio_and_at_all_of_the_budget():
    policy = CompensationPolicy.from_values(500.0, 0.8, 4)
    assert policy.budget_levels_reached(79_999, 100_000) == ()
    assert policy.budget_levels_reached(80_000, 100_000) == (Decimal("0.8"),)
    assert policy.budget_levels_reached(99_999, 100_000) == (Decimal("0.8"),)
    assert policy.budget_levels_reached(190_000, 100_000) == (Decimal("0.8"), Decimal(1))
    assert policy.budget_levels_reached(0, 0) == ()
    assert policy.budget_levels_reached(5, None) == ()
    whole = CompensationPolicy.from_values(500.0, 1, 4)
    assert whole.budget_levels_reached(100_000, 100_000) == (Decimal(1),)


def _tier(start, end=None, activity="meeting"):
    return RateTier(activity, "hourly", 2500, start, end)


@pytest.mark.parametrize(
    ("start", "end", "overlaps"),
    [
        (date(2026, 1, 1), date(2026, 1, 31), False),  # ends the day before
        (date(2026, 1, 1), date(2026, 2, 1), True),  # ends on its first day
        (date(2026, 3, 31), None, True),  # starts on its last day, open-ended
        (date(2026, 4, 1), None, False),  # starts the day after
        (date(2025, 1, 1), None, True),  # open-ended, from before
    ],
)
def test_tiers_overlap_when_their_days_intersect(start, end, overlaps):
    existing = _tier(date(2026, 2, 1), date(2026, 3, 31))
    assert _tier(start, end).overlaps(existing) is overlaps
    assert existing.overlaps(_tier(start, end)) is overlaps
    assert not _tier(start, end, "talk").overlaps(existing)


def test_an_open_ended_tier_overlaps_every_later_one():
    assert _tier(date(2030, 1, 1)).overlaps(_tier(date(2026, 1, 1)))
    with pytest.raises(InvalidInputError, match="overlaps tier 'meeting' .* from 2026-01-01"):
        check_no_overlap(_tier(date(2030, 1, 1)), [_tier(date(2026, 1, 1))])


def test_an_activity_is_known_from_the_list_or_from_a_tier():
    assert check_known_activity(" Meeting ", []) == "meeting"
    assert check_known_activity("cooking", [_tier(date(2026, 1, 1), activity="cooking")])
    with pytest.raises(InvalidInputError, match="'cooking' is unknown: give one of interview"):
        check_known_activity("cooking", [])
    assert set(KNOWN_ACTIVITIES) >= {"meeting", "workshop", "presentation"}
