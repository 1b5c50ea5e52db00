"""Structural indicators for a period (seed table: "collect structural indicators on PP
activities"), compared with the program's versioned targets.

Every figure is counted by the database (see ``ppflow.adapters.indicators``); this module
names the period, asks the queries port, and puts the figures beside their targets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.lifecycle import ADVISOR_STATES, AdvisorStage
from ppflow.services.ports import Durations, IndicatorQueries, TargetVersion, TeamCounts
from ppflow.services.wording import Wording, shipped_wording

# Retention horizons, in days (6 and 12 months).
RETENTION_DAYS = {"retention_6m": 183, "retention_12m": 365}
# Indicators where a smaller value is the better one; every other indicator aims high.
LOWER_IS_BETTER = frozenset(
    {"days_to_integration_median", "days_to_integration_p90", "withdrawals"}
)
FUNNEL_ORDER = ADVISOR_STATES


# --- the period -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end), named as the user wrote it."""

    label: str
    start: datetime
    end: datetime


_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")

PERIOD_HELP = (
    "a year (2026), a quarter (2026Q3), a month (2026-07), or a range of months or days "
    "(2026-07..2026-09, 2026-07-01..2026-09-30)"
)


def _first_of_next_month(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def _bounds(part: str) -> tuple[date, date]:
    """The first day of a period part and the day after its last day."""
    if m := _YEAR.match(part):
        year = int(m[1])
        return date(year, 1, 1), date(year + 1, 1, 1)
    if m := _QUARTER.match(part):
        year, quarter = int(m[1]), int(m[2])
        first = date(year, 3 * quarter - 2, 1)
        return first, _first_of_next_month(year, 3 * quarter)
    if m := _MONTH.match(part):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} does not exist")
        return date(year, month, 1), _first_of_next_month(year, month)
    if m := _DAY.match(part):
        day = date(int(m[1]), int(m[2]), int(m[3]))
        return day, day + timedelta(days=1)
    raise ValueError("not a period")


def parse_period(text: str, zone: tzinfo = UTC) -> Period:
    """Read a period as managers write it; days start at midnight in ``zone``."""
    cleaned = (text or "").strip()
    try:
        if ".." in cleaned:
            first, last = (p.strip() for p in cleaned.split("..", 1))
            start, _ = _bounds(first)
            _, end = _bounds(last)
        else:
            start, end = _bounds(cleaned)
    except ValueError as error:
        detail = "" if str(error) == "not a period" else f" ({error})"
        raise InvalidInputError(f"'{text}' is not a period{detail}: write {PERIOD_HELP}") from None
    if end <= start:
        raise InvalidInputError(f"'{text}' ends before it starts")

    def moment(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return Period(cleaned, moment(start), moment(end))


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


# --- what the database answers ----------------------------------------------------------


# The indicators the report computes (``program target`` accepts these). What a manager
# reads for each is in wording/indicators.yaml (translated in locale/), under ``labels``.
INDICATOR_NAMES = (
    "new_referrals",
    "advisors_integrated",
    "withdrawals",
    "teams",
    "teams_with_advisors",
    "teams_with_two_advisors",
    "share_teams_with_advisors",
    "share_teams_with_two_advisors",
    "advisors_per_team",
    "days_to_integration_median",
    "days_to_integration_p90",
    "retention_6m",
    "retention_6m_cohort",
    "retention_12m",
    "retention_12m_cohort",
    "hours",
    "compensation_paid",
    "expenses",
    "feedback_mean",
    "feedback_answers",
    "attendance_rate",
    "advisor_meetings",
)
LABELS = INDICATOR_NAMES  # the name older callers read the known indicators by
# Each team's attendance is ``attendance_rate_<team code>``, judged by the program's
# ``attendance_rate`` target.
TEAM_ATTENDANCE = "attendance_rate_"
SHARES = frozenset(
    {"share_teams_with_advisors", "share_teams_with_two_advisors", "retention_6m"}
    | {"retention_12m", "attendance_rate"}
)
MONEY = frozenset({"compensation_paid", "expenses"})


def unit(name: str) -> str:
    """How a figure reads: ``share`` (0 to 1, shown as a percentage), ``money`` (CAD),
    ``days``, ``score`` (1 to 5), ``hours``, ``ratio`` or ``count``."""
    if name in SHARES or name.startswith(TEAM_ATTENDANCE):
        return "share"
    if name in MONEY:
        return "money"
    if name.startswith("days_"):
        return "days"
    if name.startswith("feedback_") and name != "feedback_answers":
        return "score"
    return {"hours": "hours", "advisors_per_team": "ratio"}.get(name, "count")


def label(
    name: str,
    lang: str = "en",
    wording: Wording | None = None,
    theme_titles: dict[str, str] | None = None,
) -> str:
    """What a manager reads for indicator ``name`` in ``lang``: the catalogue's label, or
    for a team's attendance and a feedback theme, the catalogue's pattern around the team
    code or the theme's title (the questionnaire's when the catalogue has none)."""
    wording = wording or shipped_wording()
    if wording.has(f"indicators.labels.{name}", lang):
        return wording.text(f"indicators.labels.{name}", lang)
    if name.startswith(TEAM_ATTENDANCE):
        team = name.removeprefix(TEAM_ATTENDANCE)
        return wording.text("indicators.team_attendance", lang, team=team)
    if name.startswith("feedback_"):
        theme = name.removeprefix("feedback_")
        title = theme_title(theme, lang, wording, theme_titles)
        return wording.text("indicators.feedback_theme", lang, theme=title)
    return name.replace("_", " ")


def theme_title(
    theme: str, lang: str, wording: Wording | None = None, titles: dict[str, str] | None = None
) -> str:
    """A feedback theme's title in ``lang``: the catalogue's, else the questionnaire's
    (``titles``), else the theme id with spaces."""
    wording = wording or shipped_wording()
    fallback = (titles or {}).get(theme) or theme.replace("_", " ")
    return wording.label(f"indicators.themes.{theme}", lang, fallback=fallback)


def note(key: str, values: dict[str, str], lang: str, wording: Wording | None = None) -> str:
    """One remark of a result (``indicators.notes.<key>``) in ``lang``."""
    return (wording or shipped_wording()).text(f"indicators.notes.{key}", lang, **values)


# --- the funnel and the trend -----------------------------------------------------------

# The path an advisor walks from referral to a QI team, one step after the other.
FUNNEL_STEPS = (
    AdvisorStage.IDENTIFIED,
    AdvisorStage.INVITED,
    AdvisorStage.SCREENING,
    AdvisorStage.RECRUITED,
    AdvisorStage.PREPARING,
    AdvisorStage.READY,
    AdvisorStage.ACTIVE,
)
# Where the path is left: after the invitation, after screening, and at any step.
FUNNEL_EXITS = (AdvisorStage.DECLINED, AdvisorStage.NOT_RETAINED, AdvisorStage.WITHDRAWN)


@dataclass(frozen=True)
class FunnelStep:
    """One step of the funnel over a period: the advisors who reached ``stage`` in it,
    and of them those who reached the next step later in the period (``rate`` is their
    share; None for the last step or when nobody reached this one)."""

    stage: str
    reached: int
    moved_on: int | None
    rate: float | None


def funnel(queries: IndicatorQueries, start: datetime, end: datetime) -> list[FunnelStep]:
    reached, moved_on = queries.funnel_moves(FUNNEL_STEPS, start, end)
    steps = []
    for i, stage in enumerate(FUNNEL_STEPS):
        n = reached.get(stage, 0)
        last = i == len(FUNNEL_STEPS) - 1
        on = None if last else moved_on.get(stage, 0)
        steps.append(FunnelStep(stage, n, on, None if on is None else _share(on, n)))
    return steps


# The indicators a trend follows, quarter by quarter.
TREND_INDICATORS = (
    "new_referrals",
    "advisors_integrated",
    "share_teams_with_advisors",
    "feedback_mean",
    "days_to_integration_median",
)
TREND_QUARTERS = 8  # at most; leading quarters with nothing in them are left out, to 4
TREND_MINIMUM = 4


@dataclass(frozen=True)
class QuarterFigures:
    """The trend's indicators in one quarter, with the target in force at its end."""

    quarter: str
    start: datetime
    end: datetime
    values: dict[str, float | None]
    targets: dict[str, float]


def trend_quarters(end: datetime, zone: tzinfo, count: int = TREND_QUARTERS) -> list[Period]:
    """The ``count`` quarters up to the one holding the period's last day, in ``zone``."""
    last = (end.astimezone(zone) - timedelta(microseconds=1)).date()
    year, q = last.year, (last.month - 1) // 3 + 1
    labels = []
    for _ in range(count):
        labels.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return [parse_period(text, zone) for text in reversed(labels)]


def teams_at_each(queries: IndicatorQueries, ends: list[datetime]) -> list[TeamCounts]:
    """``queries.teams_at`` at each of ``ends``: in one reading when the queries can
    (``teams_over``, the SQL adapter's), else one end after the other."""
    over = getattr(queries, "teams_over", None)
    if over is None:
        return [queries.teams_at(e) for e in ends]
    return list(over(ends))


def days_to_integration_each(queries: IndicatorQueries, periods: list[Period]) -> list[Durations]:
    """``queries.days_to_integration`` over each of ``periods`` (consecutive quarters): in
    one statement when the queries can (``days_to_integration_over``), else one by one."""
    over = getattr(queries, "days_to_integration_over", None)
    if over is None or not periods:
        return [queries.days_to_integration(p.start, p.end) for p in periods]
    return list(over([periods[0].start, *(p.end for p in periods)]))


def _each(queries: IndicatorQueries, name: str, periods: list[Period], *args) -> list[int]:
    """``queries.<name>(*args, start, end)`` over each of ``periods`` (consecutive
    quarters): grouped in one statement when the queries can (``<name>_over``), else one
    period after the other."""
    over = getattr(queries, f"{name}_over", None)
    if over is None or not periods:
        one = getattr(queries, name)
        return [one(*args, p.start, p.end) for p in periods]
    return list(over(*args, [periods[0].start, *(p.end for p in periods)]))


def compute_trend(
    queries: IndicatorQueries,
    end: datetime,
    zone: tzinfo = UTC,
    count: int = TREND_QUARTERS,
    minimum: int = TREND_MINIMUM,
) -> list[QuarterFigures]:
    """The main indicators for each of the last ``count`` quarters ending with the one
    the period ends in; quarters before the first one with any figure are left out, as
    long as ``minimum`` remain."""
    versions = queries.target_versions()
    periods = trend_quarters(end, zone, count)
    quarters = []
    each = zip(
        periods,
        teams_at_each(queries, [p.end for p in periods]),
        days_to_integration_each(queries, periods),
        _each(queries, "new_referrals", periods),
        _each(queries, "entered", periods, AdvisorStage.ACTIVE),
        strict=True,
    )
    for period, teams, durations, referrals, integrated in each:
        start, stop = period.start, period.end
        values = {
            "new_referrals": referrals,
            "advisors_integrated": integrated,
            "share_teams_with_advisors": _share(teams.with_one, teams.active_teams),
            "feedback_mean": queries.feedback_mean(start, stop)[0],
            "days_to_integration_median": durations.median,
        }
        in_force, _ = targets_in_force(versions, stop)
        targets = {n: in_force[n].target for n in TREND_INDICATORS if n in in_force}
        quarters.append(QuarterFigures(period.label, start, stop, values, targets))
    while len(quarters) > minimum and not any(quarters[0].values.values()):
        quarters.pop(0)
    return quarters


# --- the result -------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    indicator: str
    value: float | None
    target: float | None
    version: int | None
    changed_at: datetime | None
    previous: float | None
    period: str | None
    met: bool | None  # None when there is no target or no value


@dataclass
class Indicators:
    start: datetime
    end: datetime
    funnel: dict[str, int]
    values: dict[str, float | None] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    target_versions: dict[str, TargetVersion] = field(default_factory=dict)
    reasons_for_leaving: list[tuple[str, str, int]] = field(default_factory=list)
    # theme -> quarter -> mean score (1 to 5), for the quarters of the trend
    themes: dict[str, dict[str, float]] = field(default_factory=dict)
    theme_titles: dict[str, str] = field(default_factory=dict)
    quarters: list[str] = field(default_factory=list)
    label: str = ""
    # what the figures could not say: (key under indicators.notes, placeholders)
    remarks: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # advisors who reached each step of the funnel in the period, and moved on from it
    conversions: list[FunnelStep] = field(default_factory=list)
    exits: dict[str, int] = field(default_factory=dict)  # advisors who left the path
    # the main indicators quarter by quarter, ending with the period's quarter
    trend: list[QuarterFigures] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """The remarks in English (the CLI and the flow's artifacts print them)."""
        return [note(key, values, "en") for key, values in self.remarks]

    def comparisons(self) -> list[Comparison]:
        """Every indicator with a value, and every target, side by side."""
        names = list(self.values) + [t for t in self.target_versions if t not in self.values]
        rows = []
        for name in names:
            value = self.values.get(name)
            target = self.target_versions.get(
                "attendance_rate" if name.startswith(TEAM_ATTENDANCE) else name
            )
            met = None
            if target is not None and value is not None:
                met = value <= target.target if name in LOWER_IS_BETTER else value >= target.target
            rows.append(
                Comparison(
                    name,
                    value,
                    target.target if target else None,
                    target.version if target else None,
                    target.changed_at if target else None,
                    target.previous if target else None,
                    target.period if target else None,
                    met,
                )
            )
        return rows

    def funnel_in_order(self) -> list[tuple[str, int]]:
        known = [(s, self.funnel.get(s, 0)) for s in FUNNEL_ORDER]
        return known + sorted((s, n) for s, n in self.funnel.items() if s not in FUNNEL_ORDER)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _trend_quarters(start: datetime, end: datetime) -> tuple[datetime, list[str]]:
    """The quarters of the period, and at least the four quarters up to its end."""
    last = end - timedelta(days=1)  # the period's last day, in any time zone
    year, q = last.year, (last.month - 1) // 3 + 1
    quarters = []
    first = None
    while True:
        first = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
        quarters.append(f"{year}Q{q}")
        if len(quarters) >= 4 and first <= start:
            break
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return first, list(reversed(quarters))


def item_theme(item: str, themes: dict[str, str] | None) -> str:
    """The theme of an item: from the questionnaire when it is known, else the item id's
    prefix (``com_role`` -> ``com``)."""
    if themes and item in themes:
        return themes[item]
    return re.split(r"[_.\-]", item, maxsplit=1)[0] or item


def _day(moment: datetime) -> date:
    """The day a period bound stands for. Meetings are dated by local day, and a bound is
    local midnight in UTC: within 12 hours of the UTC midnight of its day in every zone
    from UTC-12 to UTC+12 (Quebec is UTC-5 or UTC-4), so the nearest midnight is its day."""
    return (moment + timedelta(hours=12)).date()


def period_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and the last day of a period, inclusive, as the program writes them."""
    return _day(start), _day(end) - timedelta(days=1)


def compute_indicators(
    queries: IndicatorQueries, start: datetime, end: datetime, label: str = ""
) -> Indicators:
    result = Indicators(start, end, queries.funnel_at(end), label=label)
    result.conversions = funnel(queries, start, end)
    result.exits = {stage: queries.entered(stage, start, end) for stage in FUNNEL_EXITS}
    teams = queries.teams_at(end)
    durations = queries.days_to_integration(start, end)
    feedback_mean, answered = queries.feedback_mean(start, end)
    values: dict[str, float | None] = {
        "new_referrals": queries.new_referrals(start, end),
        "advisors_integrated": queries.entered(AdvisorStage.ACTIVE, start, end),
        "withdrawals": queries.entered(AdvisorStage.WITHDRAWN, start, end),
        "teams": teams.active_teams,
        "teams_with_advisors": teams.with_one,
        "teams_with_two_advisors": teams.with_two,
        "share_teams_with_advisors": _share(teams.with_one, teams.active_teams),
        "share_teams_with_two_advisors": _share(teams.with_two, teams.active_teams),
        "advisors_per_team": (
            round(teams.advisors_on_active_teams / teams.active_teams, 2)
            if teams.active_teams
            else None
        ),
        "days_to_integration_median": durations.median,
        "days_to_integration_p90": durations.p90,
    }
    for name, days in RETENTION_DAYS.items():
        retention = queries.retention(end, days)
        values[name] = _share(retention.retained, retention.cohort)
        values[f"{name}_cohort"] = retention.cohort
    paid = queries.compensation(start, end)
    if paid is None:
        values["hours"] = values["compensation_paid"] = values["expenses"] = None
        result.remarks.append(("no_compensation", {}))
    else:
        values["hours"] = round(paid.hours, 2)
        values["compensation_paid"] = round(paid.paid, 2)
        values["expenses"] = round(paid.expenses, 2)
    values["feedback_mean"] = feedback_mean
    values["feedback_answers"] = answered

    trend_start, quarters = _trend_quarters(start, end)
    known = queries.item_themes()
    item_to_theme, titles = known if known else ({}, {})
    if not known:
        result.remarks.append(("no_themes", {}))
    sums: dict[str, dict[str, list[float]]] = {}
    for row in queries.item_scores(trend_start, end):
        theme = item_theme(row.item, item_to_theme)
        cell = sums.setdefault(theme, {}).setdefault(row.quarter, [0.0, 0])
        cell[0] += row.mean * row.answers
        cell[1] += row.answers
    result.themes = {
        theme: {q: round(total / n, 2) for q, (total, n) in sorted(by_quarter.items()) if n}
        for theme, by_quarter in sorted(sums.items())
    }
    result.theme_titles = {theme: titles.get(theme, theme) for theme in result.themes}
    result.quarters = quarters
    in_period = [q for q in quarters if q >= quarter_of(start)]
    for theme, by_quarter in sums.items():
        cells = [by_quarter[q] for q in in_period if q in by_quarter]
        answers = sum(n for _, n in cells)
        values[f"feedback_{theme}"] = (
            round(sum(total for total, _ in cells) / answers, 2) if answers else None
        )

    teams_attendance = queries.attendance(_day(start), _day(end))
    held = sum(a.held for a in teams_attendance)
    values["attendance_rate"] = _share(sum(a.attended for a in teams_attendance), held)
    values["advisor_meetings"] = held
    for a in sorted(teams_attendance, key=lambda a: a.team):
        values[f"{TEAM_ATTENDANCE}{a.team}"] = _share(a.attended, a.held)

    result.values = values
    result.reasons_for_leaving = aggregate_reasons(queries.reasons_for_leaving(start, end))
    result.target_versions, later = targets_in_force(queries.target_versions(), end)
    result.targets = {name: t.target for name, t in result.target_versions.items()}
    if later:
        result.remarks.append(("not_judged", {"indicators": ", ".join(later)}))
    return result


def targets_in_force(
    versions: list[TargetVersion], end: datetime
) -> tuple[dict[str, TargetVersion], list[str]]:
    """For each indicator, the last version set before the period ended (the one in force
    during it, or at its end if it was revised within it), and the indicators whose first
    target was set only after the period ended: those periods get no verdict. A version
    with no time is taken as always in force."""
    in_force: dict[str, TargetVersion] = {}
    every: set[str] = set()
    for version in sorted(versions, key=lambda v: (v.indicator, v.version)):
        every.add(version.indicator)
        if version.changed_at is None or version.changed_at < end:
            in_force[version.indicator] = version
    return in_force, sorted(every - set(in_force))


REASON_MIN_COUNT = 3
OTHER_REASONS = "other reasons (each given fewer than 3 times)"


def aggregate_reasons(rows: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """Reasons are free text typed by coordinators and can say something about a person;
    a report shows a reason only when at least three people left for it, and counts the
    rest together."""
    kept: list[tuple[str, str, int]] = []
    others: dict[str, int] = {}
    for state, reason, n in rows:
        if n >= REASON_MIN_COUNT:
            kept.append((state, reason, n))
        else:
            others[state] = others.get(state, 0) + n
    kept += [(state, OTHER_REASONS, n) for state, n in sorted(others.items())]
    return kept


def previous_quarter(today: date) -> str:
    """The last full quarter before ``today`` (what a quarterly schedule reports on)."""
    quarter = (today.month - 1) // 3 + 1
    return f"{today.year}Q{quarter - 1}" if quarter > 1 else f"{today.year - 1}Q4"
