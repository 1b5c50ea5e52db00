"""``ppflow report``: the structural indicators for a period, in the terminal, or as the
HTML report and CSV export managers read.

Output carries codes and counts only, never personal data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from ppflow.cli.context import current_app, out
from ppflow.cli.errors import CommandGroup, fail
from ppflow.services.indicators import PERIOD_HELP, Indicators, Period, parse_period

report_app = CommandGroup(help="Structural indicators and the program report.")

PeriodOption = Annotated[str, typer.Option("--period", help=f"The period: {PERIOD_HELP}.")]


def _figure(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return f"{value:,}"


def tables(result: Indicators) -> list[Table]:
    """The figures as Rich tables: indicators against targets, the funnel, feedback by
    theme per quarter, and the reasons for leaving."""
    from ppflow.services.indicators import LABELS

    title = f"Indicators {result.label}".strip()
    figures = Table("indicator", "value", "target", "version", "changed", "status", title=title)
    for row in result.comparisons():
        status = {True: "[green]met[/]", False: "[red]not met[/]", None: ""}[row.met]
        figures.add_row(
            LABELS.get(row.indicator, row.indicator),
            _figure(row.value),
            _figure(row.target),
            "" if row.version is None else f"v{row.version}",
            f"{row.changed_at:%Y-%m-%d}" if row.changed_at else "",
            status,
        )
    funnel = Table("stage", "advisors", title="Advisors at each stage (end of period)")
    for stage, n in result.funnel_in_order():
        funnel.add_row(stage, f"{n:,}")
    themes = Table("theme", *result.quarters, title="Feedback by theme (mean, 1 to 5)")
    for theme, by_quarter in result.themes.items():
        themes.add_row(
            result.theme_titles.get(theme, theme),
            *[_figure(by_quarter.get(q)) for q in result.quarters],
        )
    leaving = Table("to", "reason", "advisors", title="Reasons for leaving")
    for state, reason, n in result.reasons_for_leaving:
        leaving.add_row(state, reason, str(n))
    return [figures, funnel, themes, leaving]


def _period(text: str) -> Period:
    return parse_period(text, ZoneInfo(current_app().settings.timezone))


def _compute(period: Period) -> Indicators:
    from ppflow.services.indicators import compute_indicators

    return compute_indicators(current_app().indicators(), period.start, period.end, period.label)


@report_app.command("indicators")
def indicators(period: PeriodOption) -> None:
    """Print the structural indicators for a period, against the program's targets."""
    result = _compute(_period(period))
    for table in tables(result):
        out.print(table)
    for note in result.notes:
        out.print(f"[dim]{note}[/]", highlight=False)


@report_app.command("html")
def html(
    period: PeriodOption,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write to (default: <data_dir>/reports)."),
    ] = None,
) -> None:
    """Write the HTML report (charts inline) and the CSV export for a period."""
    result = _compute(_period(period))
    directory = out_dir or current_app().settings.data_dir / "reports"
    try:
        page, csv_file = current_app().write_report(result, directory)
    except OSError as error:
        fail(f"cannot write the report to {directory}: {error}")
    out.print(f"HTML report: {page}", highlight=False)
    out.print(f"CSV export:  {csv_file}", highlight=False)
