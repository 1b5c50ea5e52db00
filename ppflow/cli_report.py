"""Report commands of the ``ppflow`` CLI: the structural indicators for a period, in the
terminal, or as the HTML report and CSV export managers read.

``register(app, get_app)`` adds ``report`` to the main Typer app. Output carries codes and
counts only, never personal data.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from ppflow.domain.errors import PPFlowError
from ppflow.services.indicators import PERIOD_HELP, Indicators, Period, parse_period

if TYPE_CHECKING:
    from ppflow.bootstrap import App


PeriodOption = Annotated[str, typer.Option("--period", help=f"The period: {PERIOD_HELP}.")]


def _consoles() -> tuple[Console, Console]:
    width = None if sys.stdout.isatty() else 160
    return Console(width=width), Console(stderr=True, width=width)


def _figure(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return f"{value:,}"


def tables(result: Indicators) -> list[Table]:
    """The figures as Rich tables: indicators against targets, the funnel, feedback by
    theme per quarter, and the reasons for leaving."""
    from ppflow.adapters.report import LABELS

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


def register(app: typer.Typer, get_app: Callable[[], App]) -> None:
    """Add ``report indicators`` and ``report html`` to ``app``."""
    out, err = _consoles()
    report_app = typer.Typer(help="Structural indicators and the program report.")
    app.add_typer(report_app, name="report", no_args_is_help=True)

    def fail(message: str) -> None:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(1)

    def period_of(text: str) -> Period:
        try:
            return parse_period(text, ZoneInfo(get_app().settings.timezone))
        except PPFlowError as error:
            fail(str(error))

    def compute(period: Period) -> Indicators:
        from ppflow.services.indicators import compute_indicators

        return compute_indicators(get_app().indicators(), period.start, period.end, period.label)

    @report_app.command("indicators")
    def indicators(period: PeriodOption) -> None:
        """Print the structural indicators for a period, against the program's targets."""
        result = compute(period_of(period))
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
        from ppflow.adapters.report import write_report

        chosen = period_of(period)
        result = compute(chosen)
        directory = out_dir or get_app().settings.data_dir / "reports"
        try:
            page, csv_file = write_report(result, directory, get_app().settings.templates_dir)
        except OSError as error:
            fail(f"cannot write the report to {directory}: {error}")
        out.print(f"HTML report: {page}", highlight=False)
        out.print(f"CSV export:  {csv_file}", highlight=False)
