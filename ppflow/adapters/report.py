"""The program report: a self-contained HTML page (inline CSS, inline SVG charts, no
script and nothing fetched) rendered by Jinja2 with autoescape, in French or English, and
a CSV export guarded against formula injection. Both carry codes and counts only.

Every text of the page comes from the wording catalogues (``report`` and ``indicators``
areas, plus the stage names) and every figure is formatted for its language: shares as
percentages, money in dollars, dates written out and inclusive. The CSV keeps
machine-readable values (0.75, 1234.5, ISO dates) whatever the page's language.

The charts are drawn here as plain SVG rather than with a charting library: bars and
lines with their axes, ticks, titles and targets are a few dataclasses of coordinates,
which the template draws. Each SVG has a ``viewBox`` and is scaled to the width of its
column, so a phone shows the whole chart."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from babel import dates as babel_dates
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from ppflow.adapters.email.rendering import TemplateCheck
from ppflow.domain.model import LANGUAGES
from ppflow.services.indicators import (
    FUNNEL_STEPS,
    INDICATOR_NAMES,
    OTHER_REASONS,
    TREND_INDICATORS,
    FunnelStep,
    Indicators,
    QuarterFigures,
    label,
    note,
    period_days,
    theme_title,
    unit,
)
from ppflow.services.ports import TargetVersion
from ppflow.services.wording import (
    Wording,
    WordingError,
    format_date,
    format_money,
    format_number,
    format_percent,
    locale_of,
    template_filters,
    typeset,
)

# A spreadsheet reads a cell starting with one of these as a formula (or a command).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NO_REASON = "no reason given"  # what the indicator queries write for a move without one


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a
    leading single quote. Numbers are written as numbers (a negative one stays a number)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def render_csv(result: Indicators) -> str:
    """Machine-readable values: shares from 0 to 1, money in dollars with a dot, ISO
    dates; the same whatever language the page is in."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ["section", "name", "detail", "value", "target", "target_version", "target_changed"]
        + ["status"]
    )
    period = result.label or f"{result.start:%Y-%m-%d}..{result.end:%Y-%m-%d}"

    def row(*cells) -> None:
        writer.writerow([safe_cell(c) for c in cells])

    for c in result.comparisons():
        status = {True: "met", False: "not met", None: ""}[c.met]
        row("indicator", c.indicator, period, c.value, c.target, c.version, c.changed_at, status)
    for stage, n in result.funnel_in_order():
        row("funnel", stage, "end of period", n, None, None, None, "")
    for step in result.conversions:
        row("conversion", step.stage, "reached", step.reached, None, None, None, "")
        if step.moved_on is not None:
            row("conversion", step.stage, "moved_on", step.moved_on, None, None, None, "")
            row("conversion", step.stage, "rate", step.rate, None, None, None, "")
    for stage, n in result.exits.items():
        row("exit", stage, period, n, None, None, None, "")
    for quarter in result.trend:
        for name, value in quarter.values.items():
            target = quarter.targets.get(name)
            row("trend", name, quarter.quarter, value, target, None, None, "")
    for theme, by_quarter in result.themes.items():
        for quarter_name, score in by_quarter.items():
            row("feedback", theme, quarter_name, score, None, None, None, "")
    for state, reason, n in result.reasons_for_leaving:
        row("leaving", state, reason, n, None, None, None, "")
    return buffer.getvalue()


# --- figures as a manager reads them ----------------------------------------------------


def show(name: str, value: float | None, lang: str) -> str:
    """One figure of indicator ``name`` in ``lang``: a share as a percentage, money in
    dollars, days and scores with their decimals, counts whole."""
    if value is None:
        return "—"
    kind = unit(name)
    if kind == "share":
        return format_percent(value, lang)
    if kind == "money":
        return format_money(value, lang)
    if kind == "score":
        return format_number(value, lang, 2 if value != round(value, 1) else 1)
    if kind in {"days", "hours", "ratio"}:
        return format_number(value, lang, 0 if value == int(value) else 1 if kind == "days" else 2)
    return format_number(value, lang)


def format_time(moment: datetime, lang: str) -> str:
    """A time of day in UTC: "20 h 45" in French, "8:45 p.m." in English."""
    return babel_dates.format_time(moment, "short", tzinfo=UTC, locale=locale_of(lang))


def quarter_name(quarter: str, lang: str, wording: Wording) -> str:
    """``2026Q3`` as people write it: "T3 2026", "Q3 2026"."""
    year, q = quarter.split("Q")
    return wording.text("report.quarter", lang, quarter=q, year=year)


# --- charts: geometry computed here, drawn by the template -------------------------------

WIDTH = 380.0  # viewBox units; the SVG is scaled to its column (100 % wide)
FONT = 13.0


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    second: str = ""  # a second line (the year under a quarter)


@dataclass(frozen=True)
class Axis:
    """An axis line with its ticks, tick labels and title (the unit)."""

    name: str  # "x" or "y"
    x1: float
    y1: float
    x2: float
    y2: float
    ticks: tuple[Tick, ...]
    title: str
    title_x: float
    title_y: float
    vertical_title: bool = False
    grid: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    shown: str
    tip: str
    met: bool | None = None
    target_x: float | None = None


@dataclass(frozen=True)
class Series:
    """A line through the quarters (segments break where a quarter has no figure)."""

    kind: str  # "value" or "target"
    segments: tuple[str, ...]  # SVG points of each segment
    dots: tuple[tuple[float, float, str, str], ...] = ()  # x, y, shown, tip


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    height: float
    x_axis: Axis
    y_axis: Axis
    bars: tuple[Bar, ...] = ()
    series: tuple[Series, ...] = ()
    has_target: bool = False
    width: float = WIDTH


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Ticks from 0 to at least ``top`` at a round step (1, 2, 2.5 or 5 times a power of
    ten), about ``count`` of them."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1 and top >= 1 and step * count < top:
        step = 1.0
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 6))
    return ticks


@dataclass(frozen=True)
class Scale:
    """Values ``low`` to ``high`` onto ``start`` to ``stop`` (pixels), with the ticks."""

    low: float
    high: float
    start: float
    stop: float
    ticks: tuple[float, ...]

    def __call__(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low) if self.high > self.low else 0
        return self.start + share * (self.stop - self.start)


def value_scale(kind: str, values: Iterable[float], start: float, stop: float) -> Scale:
    """Shares run from 0 to 100 %, scores from 1 to 5, everything else from 0 to a round
    number above the largest value."""
    ticks: tuple[float, ...]
    if kind == "share":
        ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
    elif kind == "score":
        ticks = (1.0, 2.0, 3.0, 4.0, 5.0)
    elif kind == "count":  # whole numbers: at least 0 to 4, a step of 1 or more
        top = max([*values, 4.0])
        ticks = tuple(nice_ticks(top, 4) if top > 8 else [float(n) for n in range(int(top) + 1)])
    else:
        ticks = tuple(nice_ticks(max([*values, 0.0]) or 1.0, 4))
    return Scale(ticks[0], ticks[-1], start, stop, ticks)


def tick_text(kind: str, value: float, lang: str) -> str:
    if kind == "share":
        return format_percent(value, lang)
    digits = next(d for d in (0, 1, 2) if round(value, d) == round(value, 6))
    return format_number(value, lang, digits)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    axis_title: str,
    kind: str,
    given: Sequence[tuple[str, float | None, float | None, bool | None, str]],
    lang: str,
) -> Chart:
    """Horizontal bars, each under its category (so long names fit a phone): rows of
    (category, value, target or None, met or None, text shown at the bar's end)."""
    rows = [(n, v, t, m, s) for n, v, t, m, s in given if v is not None]
    left, right, top = 12.0, 52.0, 8.0
    label_h, bar_h, gap = 17.0, 18.0, 10.0
    row_h = label_h + bar_h + gap
    bottom = top + max(len(rows), 1) * row_h
    values = [r[1] for r in rows] + [r[2] for r in rows if r[2] is not None]
    scale = value_scale(kind, values, left, WIDTH - right)
    bars, categories = [], []
    for i, (name, value, target, met, shown) in enumerate(rows):
        y = top + i * row_h
        categories.append(Tick(left + 2, y + label_h - 5, name, "start"))
        end = max(scale(value), left + 1.5)
        tip = f"{name} : {shown}" if lang == "fr" else f"{name}: {shown}"
        bars.append(
            Bar(
                left,
                y + label_h,
                end - left,
                bar_h,
                shown,
                tip,
                met,
                None if target is None else scale(target),
            )
        )
    ticks = tuple(Tick(scale(t), bottom + 17, tick_text(kind, t, lang)) for t in scale.ticks)
    x_axis = Axis(
        "x",
        left,
        bottom,
        WIDTH - right,
        bottom,
        ticks,
        axis_title,
        (left + WIDTH - right) / 2,
        bottom + 36,
        grid=tuple((scale(t), top, scale(t), bottom) for t in scale.ticks),
    )
    y_axis = Axis("y", left, top, left, bottom, tuple(categories), "", 0, 0)
    return Chart(
        chart_id,
        title,
        description,
        bottom + 46,
        x_axis,
        y_axis,
        bars=tuple(bars),
        has_target=any(b.target_x is not None for b in bars),
    )


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    name: str,
    trend: list[QuarterFigures],
    lang: str,
    wording: Wording,
) -> Chart:
    """One indicator quarter by quarter: a line with its figures, the target as a dashed
    line, quarters along the x axis and the indicator's unit up the y axis."""
    kind = unit(name)
    left, right, top, bottom = 64.0, 14.0, 22.0, 176.0
    values = [q.values.get(name) for q in trend]
    targets = [q.targets.get(name) for q in trend]
    scale = value_scale(kind, [v for v in values + targets if v is not None], bottom, top)
    step = (WIDTH - left - right) / max(len(trend), 1)

    def x(i: int) -> float:
        return left + (i + 0.5) * step

    def segments(points: list[float | None], steps: bool = False) -> tuple[str, ...]:
        """Lines through the figures, broken where one is missing; ``steps`` draws each
        figure across its whole quarter (a target holds for the quarter, and one quarter
        alone is still seen)."""
        found: list[str] = []
        current: list[str] = []
        for i, v in enumerate(points):
            if v is None:
                if current:
                    found.append(" ".join(current))
                current = []
            elif steps:
                y = scale(v)
                current += [f"{x(i) - step / 2:.1f},{y:.1f}", f"{x(i) + step / 2:.1f},{y:.1f}"]
            else:
                current.append(f"{x(i):.1f},{scale(v):.1f}")
        if current:
            found.append(" ".join(current))
        return tuple(found)

    dots = []
    crowded = len(trend) > 4  # then only the last figure is written; each dot has its tip
    for i, (q, v) in enumerate(zip(trend, values, strict=True)):
        if v is not None:
            shown = "" if crowded and i < len(trend) - 1 else show(name, v, lang)
            when = quarter_name(q.quarter, lang, wording)
            figure = show(name, v, lang)
            tip = f"{when} : {figure}" if lang == "fr" else f"{when}: {figure}"
            dots.append((x(i), scale(v), shown, tip))
    series = [Series("value", segments(values), tuple(dots))]
    if any(t is not None for t in targets):
        series.insert(0, Series("target", segments(targets, steps=True)))
    ticks = []
    for i, q in enumerate(trend):
        year, number = q.quarter.split("Q")
        short = quarter_name(q.quarter, lang, wording).replace(year, "").strip()
        ticks.append(Tick(x(i), bottom + 17, short, second=year if i == 0 or number == "1" else ""))
    x_axis = Axis(
        "x",
        left,
        bottom,
        WIDTH - right,
        bottom,
        tuple(ticks),
        wording.text("report.units.quarter", lang),
        (left + WIDTH - right) / 2,
        bottom + 50,
    )
    y_ticks = tuple(
        Tick(left - 6, scale(t) + 4, tick_text(kind, t, lang), "end") for t in scale.ticks
    )
    y_axis = Axis(
        "y",
        left,
        top,
        left,
        bottom,
        y_ticks,
        wording.text(f"report.units.{kind}", lang),
        14,
        (top + bottom) / 2,
        vertical_title=True,
        grid=tuple((left, scale(t), WIDTH - right, scale(t)) for t in scale.ticks),
    )
    return Chart(
        chart_id,
        title,
        description,
        bottom + 60,
        x_axis,
        y_axis,
        series=tuple(series),
        has_target=len(series) > 1,
    )


def funnel_chart(steps: list[FunnelStep], lang: str, wording: Wording) -> Chart:
    """Each step's advisors as a bar, its name saying which share of the step before
    came on to it."""
    text = wording.text
    rows = []
    for i, step in enumerate(steps):
        name = wording.stage("advisor", step.stage, lang)
        name = name[:1].upper() + name[1:]
        before = steps[i - 1] if i else None
        if before is not None and before.rate is not None:
            rate = format_percent(before.rate, lang)
            name = text("report.funnel.step", lang, stage=name, rate=rate)
        shown = format_number(step.reached, lang)
        rows.append((name, float(step.reached), None, None, shown))
    return bar_chart(
        "funnel",
        text("report.charts.funnel.title", lang),
        text("report.charts.funnel.description", lang),
        text("report.charts.funnel.axis", lang),
        "count",
        rows,
        lang,
    )


def charts(result: Indicators, lang: str, wording: Wording) -> list[Chart]:
    """The funnel, time to integration and feedback scores of the period."""
    comparisons = {c.indicator: c for c in result.comparisons()}
    text = wording.text

    def versus(name: str, category: str):
        c = comparisons.get(name)
        value = c.value if c else None
        return (
            category,
            value,
            c.target if c else None,
            c.met if c else None,
            show(name, value, lang),
        )

    timing = bar_chart(
        "time-to-integration",
        text("report.charts.timing.title", lang),
        text("report.charts.timing.description", lang),
        text("report.charts.timing.axis", lang),
        "days",
        [
            versus("days_to_integration_median", text("report.charts.timing.median", lang)),
            versus("days_to_integration_p90", text("report.charts.timing.p90", lang)),
        ],
        lang,
    )
    scores = [versus("feedback_mean", text("report.charts.scores.all", lang))]
    scores += [
        versus(f"feedback_{theme}", theme_title(theme, lang, wording, result.theme_titles))
        for theme in result.themes
    ]
    feedback = bar_chart(
        "scores",
        text("report.charts.scores.title", lang),
        text("report.charts.scores.description", lang),
        text("report.charts.scores.axis", lang),
        "score",
        scores,
        lang,
    )
    return [timing, feedback]


def trend_charts(result: Indicators, lang: str, wording: Wording) -> list[Chart]:
    if not result.trend:
        return []
    first = quarter_name(result.trend[0].quarter, lang, wording)
    last = quarter_name(result.trend[-1].quarter, lang, wording)
    found = []
    for name in TREND_INDICATORS:
        title = label(name, lang, wording)
        description = wording.text(
            "report.trend.description", lang, indicator=title, first=first, last=last
        )
        found.append(
            line_chart(f"trend-{name}", title, description, name, result.trend, lang, wording)
        )
    return found


# --- the page ----------------------------------------------------------------------------


def _environment(templates_dir: Path) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(templates_dir / "report")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(template_filters())
    return environment


def _context(result: Indicators, lang: str, wording: Wording, now: datetime) -> dict:
    first_day, last_day = period_days(result.start, result.end)

    def t(key: str, **values) -> str:
        return typeset(wording.text(f"report.{key}", lang, **values), lang)

    def reason(text: str) -> str:
        if text == OTHER_REASONS:
            return wording.text("indicators.notes.other_reasons", lang)
        if text == NO_REASON:
            return wording.text("indicators.notes.no_reason", lang)
        return text

    def notes() -> list[str]:
        found = []
        for key, values in result.remarks:
            if key == "not_judged":
                names = values.get("indicators", "").split(", ")
                values = {"indicators": ", ".join(label(n, lang, wording) for n in names)}
            found.append(typeset(note(key, values, lang, wording), lang))
        return found

    def version(c) -> str:
        if c.version is None:
            return ""
        text = f"v{c.version}"
        if c.changed_at:
            text = t("version", version=c.version, date=format_date(c.changed_at, lang))
        if c.previous is not None:
            text += " " + t("previous", value=show(c.indicator, c.previous, lang))
        return text

    first, last = format_date(first_day, lang), format_date(last_day, lang)
    trend = result.trend
    return {
        "lang": lang,
        "t": t,
        "result": result,
        "title": t("title"),
        "period": t("period", label=result.label or f"{first} – {last}", first=first, last=last),
        "generated": t("generated", date=format_date(now, lang), time=format_time(now, lang)),
        "rows": result.comparisons(),
        "label": lambda name: label(name, lang, wording, result.theme_titles),
        "show": lambda name, value: show(name, value, lang),
        "version": version,
        "stage": lambda kind, name: wording.label(f"stages.{kind}.{name}", lang),
        "percent": lambda share: format_percent(share, lang),
        "number": lambda value, digits=0: format_number(value, lang, digits),
        "theme": lambda name: theme_title(name, lang, wording, result.theme_titles),
        "quarter": lambda name: quarter_name(name, lang, wording),
        "reason": reason,
        "notes": notes(),
        "funnel": funnel_chart(result.conversions, lang, wording) if result.conversions else None,
        "charts": charts(result, lang, wording),
        "trends": trend_charts(result, lang, wording),
        "trend_intro": (
            t(
                "trend.intro",
                count=len(trend),
                first=quarter_name(trend[0].quarter, lang, wording),
                last=quarter_name(trend[-1].quarter, lang, wording),
            )
            if trend
            else ""
        ),
    }


def render_html(
    result: Indicators,
    templates_dir: Path,
    now: datetime,
    lang: str = "fr",
    wording: Wording | None = None,
) -> str:
    """The page in ``lang`` (``fr`` or ``en``); texts from ``wording`` (the catalogues
    of ``templates_dir`` by default)."""
    wording = wording or Wording.from_directory(templates_dir)
    context = _context(result, lang, wording, now.astimezone(UTC))
    return _environment(templates_dir).get_template("report.html.j2").render(**context)


def report_name(result: Indicators) -> str:
    """One name for the page and its CSV, whatever the page's language."""
    base = result.label or f"{result.start:%Y-%m-%d}_{result.end:%Y-%m-%d}"
    return "indicators-" + re.sub(r"[^A-Za-z0-9-]+", "_", base)


def write_report(
    result: Indicators,
    directory: Path,
    templates_dir: Path,
    now: datetime,
    lang: str = "fr",
) -> tuple[Path, Path]:
    """Write ``indicators-<period>.html`` and ``.csv`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    name = report_name(result)
    page, table = directory / f"{name}.html", directory / f"{name}.csv"
    page.write_text(render_html(result, templates_dir, now, lang), encoding="utf-8")
    # utf-8-sig so that a spreadsheet opened on Windows reads the accents right
    table.write_text(render_csv(result), encoding="utf-8-sig", newline="")
    return page, table


# --- ppflow templates check --------------------------------------------------------------


def sample_indicators() -> Indicators:
    """Indicators with every part of the report filled in, for the template check."""
    start, end = datetime(2026, 10, 1, 4, tzinfo=UTC), datetime(2027, 1, 1, 5, tzinfo=UTC)
    values: dict[str, float | None] = {name: 1.0 for name in INDICATOR_NAMES}
    values.update(
        {
            "share_teams_with_advisors": 0.75,
            "days_to_integration_median": 12.5,
            "feedback_communication": 4.2,
            "attendance_rate_QT-SAMPLE": 0.8,
        }
    )
    result = Indicators(start, end, {"active": 3, "ready": 2}, values=values, label="2026Q4")
    result.target_versions = {
        "days_to_integration_median": TargetVersion(
            "days_to_integration_median", 9, "2026", 2, start, 10
        ),
        "share_teams_with_advisors": TargetVersion(
            "share_teams_with_advisors", 0.5, "2026", 1, None
        ),
    }
    result.themes = {"communication": {"2026Q4": 4.2}}
    result.theme_titles = {"communication": "Communication"}
    result.quarters = ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    result.remarks = [
        ("no_compensation", {}),
        ("no_themes", {}),
        ("not_judged", {"indicators": "hours"}),
    ]
    result.reasons_for_leaving = [("withdrawn", NO_REASON, 3), ("alumni", OTHER_REASONS, 2)]
    counts = [8, 6, 5, 4, 4, 3, 2]
    result.conversions = [
        FunnelStep(
            stage,
            n,
            None if i == len(counts) - 1 else counts[i + 1],
            counts[i + 1] / n if i < 6 else None,
        )
        for i, (stage, n) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))
    ]
    result.exits = {"declined": 1, "not_retained": 1, "withdrawn": 0}
    result.trend = [
        QuarterFigures(
            q,
            start,
            end,
            {name: 1.0 for name in TREND_INDICATORS},
            {"days_to_integration_median": 9.0},
        )
        for q in result.quarters
    ]
    return result


def check_report_templates(
    templates_dir: Path, languages: Iterable[str] = LANGUAGES
) -> list[TemplateCheck]:
    """Render the report in every language with :func:`sample_indicators`, and report a
    text missing from a catalogue, a variable the template does not know, and an
    indicator without a label in a language. One :class:`TemplateCheck` per language."""
    try:
        wording = Wording.from_directory(templates_dir, languages)
    except WordingError as error:
        return [TemplateCheck("report", lang, "managers", (str(error),)) for lang in languages]
    sample = sample_indicators()
    results = []
    for lang in languages:
        problems = [
            f"missing translation: no {lang} label for indicator {name}"
            for name in INDICATOR_NAMES
            if not wording.has(f"indicators.labels.{name}", lang)
        ]
        try:
            render_html(sample, templates_dir, sample.end, lang, wording)
        except (WordingError, TemplateError) as error:
            problems.append(f"report/report.html.j2 ({lang}): {error}")
        results.append(TemplateCheck("report", lang, "managers", tuple(problems)))
    return results
