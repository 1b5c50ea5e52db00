"""Compensation of patient advisors, as pure rules: rate tiers with effective dates, the
amount owed for an activity, declined payment, fiscal years, and the two alert thresholds
(a program's budget, and a payee's yearly total at the T4A level).

Money is held in integer cents and hours in hundredths of an hour, so totals are exact;
``Decimal`` is used only to read, multiply and round. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.limits import MAX_YEAR, MIN_YEAR

TIER_KINDS = ("hourly", "flat")
EXPENSE_KINDS = ("travel", "parking", "meals", "childcare", "caregiver", "internet", "other")
ACTIVITY = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
# The activities an advisor may be paid for without a tier of their own (at the
# engagement's hourly rate); any activity that has a rate tier is known too.
KNOWN_ACTIVITIES = (
    "meeting",
    "preparation",
    "presentation",
    "workshop",
    "training",
    "interview",
    "review",
)
MAX_HOURS_PER_ENTRY = 24
MAX_CENTS = 100_000_000_00  # one hundred million dollars: anything above is a typing error
MAX_DOLLARS = Decimal(MAX_CENTS) / 100
CENT = Decimal("0.01")


# --------------------------------------------------------------------------- values


def parse_money(text: str | Decimal | int, what: str = "amount") -> int:
    """'25', '25.5' or '25.50' (dollars) to cents. Refuses negatives, amounts over
    MAX_CENTS, more than two decimals, and non-numbers, with a message naming ``what``.

    The range is checked before rounding: rounding 1e300 to the cent needs more digits
    than ``Decimal`` carries, and would raise ``InvalidOperation`` instead of a message."""
    value = _decimal(text, what)
    if value < 0:
        raise InvalidInputError(f"{what} '{_shown(text)}' is negative")
    if value > MAX_DOLLARS:
        raise InvalidInputError(
            f"{what} '{_shown(text)}' is out of range: give 0 to {money(MAX_CENTS)} dollars"
        )
    if value != value.quantize(CENT):
        raise InvalidInputError(f"{what} '{_shown(text)}' has more than two decimals")
    return int(value * 100)


def parse_hours(text: str | Decimal | int) -> int:
    """'1.5' hours to 150 hundredths. More than 0, at most 24, at most two decimals."""
    value = _decimal(text, "hours")
    if value <= 0:
        raise InvalidInputError(f"hours '{_shown(text)}' must be more than 0")
    if value > MAX_HOURS_PER_ENTRY:
        raise InvalidInputError(
            f"hours '{_shown(text)}' is more than {MAX_HOURS_PER_ENTRY} in one entry"
        )
    if value != value.quantize(CENT):
        raise InvalidInputError(f"hours '{_shown(text)}' has more than two decimals")
    return int(value * 100)


def _decimal(text: str | Decimal | int, what: str) -> Decimal:
    if isinstance(text, float):  # a float has already lost the exact amount
        raise InvalidInputError(f"{what} must be given as text or Decimal, not float")
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInputError(f"{what} '{_shown(text)}' is not a number") from None
    if not value.is_finite():
        raise InvalidInputError(f"{what} '{_shown(text)}' is not a number")
    return value


def _shown(text: str | Decimal | int, most: int = 32) -> str:
    """The value as given, cut short if it is long, for a message of one line."""
    shown = " ".join(str(text).split())
    return shown if len(shown) <= most else shown[: most - 1] + "…"


def rate_to_cents(rate: float | Decimal | str) -> int:
    """An engagement's stored hourly rate (a float column) to cents, through its decimal
    text so that 25.1 becomes 2510 and not 2509."""
    return int(Decimal(str(rate)).quantize(CENT, ROUND_HALF_UP) * 100)


def money(cents: int) -> str:
    """Cents as plain dollars: 41250 -> '412.50'."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def hours(centihours: int) -> str:
    """Hundredths of an hour as text: 150 -> '1.5', 200 -> '2'."""
    text = str(Decimal(centihours) / 100)
    return text.rstrip("0").rstrip(".") if "." in text else text


def check_activity(activity: str) -> str:
    activity = activity.strip().lower()
    if not ACTIVITY.match(activity):
        raise InvalidInputError(
            f"activity '{activity}' must be a short lowercase word "
            "(letters, digits, '-' or '_'), such as 'meeting'"
        )
    return activity


def check_known_activity(activity: str, tiers: Iterable[RateTier]) -> str:
    """A well-formed activity that is either one of KNOWN_ACTIVITIES or has a rate tier
    (whatever its dates); anything else ("cooking") is refused with the valid ones."""
    activity = check_activity(activity)
    valid = sorted(set(KNOWN_ACTIVITIES) | {t.activity for t in tiers})
    if activity not in valid:
        raise InvalidInputError(
            f"activity '{activity}' is unknown: give one of {', '.join(valid)}, "
            "or add a rate tier for it with `ppflow pay tier add`"
        )
    return activity


# ------------------------------------------------------------------------ rate tiers


@dataclass(frozen=True)
class RateTier:
    """What one kind of activity pays from a date: per hour, or a flat amount per
    activity. ``effective_to`` is the last day it applies (inclusive), or open."""

    activity: str
    kind: str  # hourly | flat
    amount_cents: int
    effective_from: date
    effective_to: date | None = None
    id: int | None = None

    def applies_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def overlaps(self, other: RateTier) -> bool:
        """Same activity, and the dates intersect (an open-ended tier runs forever)."""
        return (
            self.activity == other.activity
            and (other.effective_to is None or self.effective_from <= other.effective_to)
            and (self.effective_to is None or other.effective_from <= self.effective_to)
        )

    def describe(self) -> str:
        until = f"to {self.effective_to}" if self.effective_to else "with no end"
        return (
            f"'{self.activity}' {self.kind} {money(self.amount_cents)} "
            f"from {self.effective_from} {until}"
        )


class OverlappingTierError(InvalidInputError):
    """A new tier's dates intersect those of another tier for the same activity."""

    def __init__(self, tier: RateTier, other: RateTier):
        self.tier, self.other = tier, other
        super().__init__(
            f"the new tier overlaps tier {other.describe()}: give the new tier dates "
            "outside it (an open-ended tier runs forever)"
        )


def check_no_overlap(tier: RateTier, existing: Iterable[RateTier]) -> RateTier:
    """Refuse a tier whose dates intersect another's for the same activity, naming the
    earliest such tier; so that on any day at most one tier applies to an activity."""
    clashes = sorted((t for t in existing if tier.overlaps(t)), key=lambda t: t.effective_from)
    if clashes:
        raise OverlappingTierError(tier, clashes[0])
    return tier


def new_tier(
    activity: str, kind: str, amount: str | Decimal, effective_from: date, effective_to=None
) -> RateTier:
    """A checked tier: a known kind, an amount above zero, dates in order."""
    if kind not in TIER_KINDS:
        raise InvalidInputError(f"tier kind '{kind}' is not one of {', '.join(TIER_KINDS)}")
    cents = parse_money(amount)
    if cents == 0:
        raise InvalidInputError("a rate tier's amount must be more than 0")
    if effective_to is not None and effective_to < effective_from:
        raise InvalidInputError(
            f"the tier ends ({effective_to}) before it starts ({effective_from})"
        )
    return RateTier(check_activity(activity), kind, cents, effective_from, effective_to)


def applicable_tier(tiers: Iterable[RateTier], activity: str, day: date) -> RateTier | None:
    """The tier for this activity on this day. Tiers do not overlap (a new one that would
    is refused); should tiers recorded before that rule overlap, the one that started last
    applies."""
    matching = [t for t in tiers if t.activity == activity and t.applies_on(day)]
    return max(matching, key=lambda t: t.effective_from, default=None)


# ------------------------------------------------------------------- amounts owed


@dataclass(frozen=True)
class Valuation:
    """What one logged activity is worth, and why."""

    amount_cents: int
    rate_cents: int  # the hourly rate, or the flat amount, that was applied
    basis: str  # hourly | flat | engagement-rate
    declined: bool = False


class NoRateError(InvalidInputError):
    """Neither a tier nor the engagement says what an activity pays."""


def value_activity(
    *,
    activity: str,
    day: date,
    centihours: int,
    tiers: Iterable[RateTier],
    engagement_rate_cents: int | None,
    declined: bool,
) -> Valuation:
    """The amount owed for one activity.

    - A flat tier pays its amount once per activity, whatever the hours.
    - An hourly tier pays hours x rate; the engagement's own hourly rate, when it has one,
      takes precedence (a rate agreed for this placement).
    - Without a tier, hourly work is paid at the engagement's rate, if any.
    - When the advisor declined payment, nothing is owed; the hours still count.
    """
    tier = applicable_tier(tiers, activity, day)
    if tier is not None and tier.kind == "flat":
        rate, basis = tier.amount_cents, "flat"
        amount = tier.amount_cents
    else:
        if engagement_rate_cents is not None:
            rate, basis = engagement_rate_cents, "engagement-rate"
        elif tier is not None:
            rate, basis = tier.amount_cents, "hourly"
        else:
            raise NoRateError(
                f"no rate tier for '{activity}' on {day.isoformat()} and the engagement "
                "has no hourly rate; add one with `ppflow pay tier add`"
            )
        amount = hourly_amount(rate, centihours)
    if declined:
        return Valuation(0, rate, basis, declined=True)
    return Valuation(amount, rate, basis)


def hourly_amount(rate_cents: int, centihours: int) -> int:
    """rate x hours in cents, rounded half up to the cent."""
    exact = Decimal(rate_cents) * Decimal(centihours) / 100
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def declined_on(declined_from: Iterable[date], day: date) -> bool:
    """Whether an advisor had declined payment on this day (a decline holds from its date)."""
    return any(start <= day for start in declined_from)


# ------------------------------------------------------------------- fiscal years


def check_start_month(start_month: int) -> int:
    if not 1 <= start_month <= 12:
        raise InvalidInputError(f"fiscal year start month {start_month} is not 1 to 12")
    return start_month


def fiscal_year(day: date, start_month: int = 4) -> int:
    """The fiscal year a day falls in, named by the calendar year it starts in: with an
    April start, 2027-03-31 is in fiscal year 2026 and 2027-04-01 in 2027."""
    check_start_month(start_month)
    return day.year if day.month >= start_month else day.year - 1


def check_year(year: int) -> int:
    """A year a budget or a total can be for (``MIN_YEAR`` to ``MAX_YEAR``)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInputError(f"year {year} is not {MIN_YEAR} to {MAX_YEAR}")
    return year


def fiscal_year_bounds(year: int, start_month: int = 4) -> tuple[date, date]:
    """First day of the fiscal year, and first day of the next (exclusive)."""
    check_start_month(start_month)
    check_year(year)
    return date(year, start_month, 1), date(year + 1, start_month, 1)


def fiscal_year_label(year: int, start_month: int = 4) -> str:
    """'2026-27' for a year starting in April 2026; '2026' when it starts in January."""
    check_start_month(start_month)
    return str(year) if start_month == 1 else f"{year}-{(year + 1) % 100:02d}"


def calendar_year_bounds(year: int) -> tuple[date, date]:
    check_year(year)
    return date(year, 1, 1), date(year + 1, 1, 1)


# ---------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class CompensationPolicy:
    """The thresholds, from settings: the T4A level per payee and calendar year, the share
    of a program's budget that raises an alert, and the first month of the fiscal year."""

    t4a_threshold_cents: int = 50_000
    budget_alert_ratio: Decimal = Decimal("0.8")
    fiscal_year_start_month: int = 4
    currency: str = "CAD"

    @classmethod
    def from_values(
        cls, t4a_threshold: float | str, budget_alert_ratio: float | str, start_month: int
    ) -> CompensationPolicy:
        ratio = _decimal(str(budget_alert_ratio), "budget alert ratio")
        if not Decimal(0) < ratio <= Decimal(1):
            raise InvalidInputError(f"budget alert ratio {ratio} must be above 0 and at most 1")
        threshold = _decimal(str(t4a_threshold), "T4A threshold")
        if 0 <= threshold <= MAX_DOLLARS:  # parse_money says why a value outside is refused
            threshold = threshold.quantize(CENT, ROUND_HALF_UP)
        return cls(
            t4a_threshold_cents=parse_money(threshold, "T4A threshold"),
            budget_alert_ratio=ratio,
            fiscal_year_start_month=check_start_month(start_month),
        )

    def budget_alert_levels(self) -> tuple[Decimal, ...]:
        """The shares of a budget that alert, once each: the alert ratio, and all of it."""
        return (
            (self.budget_alert_ratio, Decimal(1)) if self.budget_alert_ratio < 1 else (Decimal(1),)
        )

    def budget_levels_reached(
        self, committed_cents: int, budget_cents: int | None
    ) -> tuple[Decimal, ...]:
        """The alert levels that committed spending has reached (none without spending)."""
        if budget_cents is None or committed_cents <= 0:
            return ()
        return tuple(
            level
            for level in self.budget_alert_levels()
            if Decimal(committed_cents) >= level * Decimal(budget_cents)
        )

    def budget_alert_due(self, committed_cents: int, budget_cents: int | None) -> bool:
        """Committed spending reached the alert share of the budget (a zero budget is
        reached by any spending at all)."""
        if budget_cents is None:
            return False
        return Decimal(committed_cents) >= self.budget_alert_ratio * Decimal(budget_cents) and (
            committed_cents > 0
        )

    def t4a_due(self, year_total_cents: int) -> bool:
        return year_total_cents >= self.t4a_threshold_cents


def percent(part_cents: int, whole_cents: int) -> int:
    """A whole percentage, rounded down, for messages (0 when there is no whole)."""
    if whole_cents <= 0:
        return 0
    return part_cents * 100 // whole_cents
