"""The program report: a self-contained HTML page (inline CSS, inline SVG charts, no
script and nothing fetched) rendered by Jinja2 with autoescape, and a CSV export guarded
against formula injection. Both carry codes and counts only."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ppflow.services.indicators import Indicators, label

# A spreadsheet reads a cell starting with one of these as a formula (or a command).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    for theme, by_quarter in result.themes.items():
        for quarter, score in by_quarter.items():
            row("feedback", theme, quarter, score, None, None, None, "")
    for state, reason, n in result.reasons_for_leaving:
        row("leaving", state, reason, n, None, None, None, "")
    return buffer.getvalue()


# --- charts: geometry computed here, drawn by the template -------------------------------


@dataclass(frozen=True)
class Bar:
    name: str
    value: float
    shown: str
    y: float
    width: float
    target_x: float | None = None
    target: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    height: float
    plot_x: float = 260.0
    plot_width: float = 360.0
    bar_height: float = 22.0


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return (
        f"{value:,.{digits}f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    )


def _chart(chart_id: str, title: str, description: str, rows, scale: float | None = None) -> Chart:
    """Horizontal bars: rows of (name, value, target or None, met or None)."""
    rows = [r for r in rows if r[1] is not None]
    top = max([r[1] for r in rows] + [r[2] for r in rows if r[2] is not None] + [scale or 0, 1])
    width, step = 360.0, 30.0
    bars = []
    for i, (name, value, target, met) in enumerate(rows):
        bars.append(
            Bar(
                name,
                value,
                _fmt(value, 2),
                30 + i * step,
                max(1.0, width * value / top),
                None if target is None else width * target / top,
                "" if target is None else _fmt(target, 2),
                met,
            )
        )
    return Chart(chart_id, title, description, bars, 30 + len(bars) * step + 20)


def charts(result: Indicators) -> list[Chart]:
    comparisons = {c.indicator: c for c in result.comparisons()}

    def versus(name: str, shown: str):
        c = comparisons.get(name)
        return (shown, c.value if c else None, c.target if c else None, c.met if c else None)

    funnel = _chart(
        "funnel",
        "Advisors at each stage",
        "Number of advisors at each stage of the lifecycle at the end of the period.",
        [(stage, n, None, None) for stage, n in result.funnel_in_order() if n],
    )
    timing = _chart(
        "time-to-integration",
        "Time to integration",
        "Days from identification to integration for the advisors integrated in the "
        "period, with the target where one is set.",
        [
            versus("days_to_integration_median", "median (days)"),
            versus("days_to_integration_p90", "90th percentile (days)"),
        ],
    )
    scores = [versus("feedback_mean", "all questionnaires")]
    scores += [
        versus(f"feedback_{theme}", result.theme_titles.get(theme, theme))
        for theme in result.themes
    ]
    feedback = _chart(
        "scores",
        "Feedback scores against targets",
        "Mean agreement (1 to 5) by theme for the period, with each target where one is set.",
        scores,
        scale=5,
    )
    return [funnel, timing, feedback]


def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir / "report")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: Indicators, templates_dir: Path, now: datetime | None = None) -> str:
    last_day = result.end - timedelta(microseconds=1)
    return (
        _environment(templates_dir)
        .get_template("report.html.j2")
        .render(
            result=result,
            period=result.label or f"{result.start:%Y-%m-%d} to {last_day:%Y-%m-%d}",
            first_day=f"{result.start:%Y-%m-%d}",
            last_day=f"{last_day:%Y-%m-%d}",
            rows=result.comparisons(),
            label=label,
            fmt=_fmt,
            charts=charts(result),
            generated=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def report_name(result: Indicators) -> str:
    base = result.label or f"{result.start:%Y-%m-%d}_{result.end:%Y-%m-%d}"
    return "indicators-" + re.sub(r"[^A-Za-z0-9-]+", "_", base)


def write_report(
    result: Indicators, directory: Path, templates_dir: Path, now: datetime | None = None
) -> tuple[Path, Path]:
    """Write ``indicators-<period>.html`` and ``.csv`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    name = report_name(result)
    page, table = directory / f"{name}.html", directory / f"{name}.csv"
    page.write_text(render_html(result, templates_dir, now), encoding="utf-8")
    # utf-8-sig so that a spreadsheet opened on Windows reads the accents right
    table.write_text(render_csv(result), encoding="utf-8-sig", newline="")
    return page, table
