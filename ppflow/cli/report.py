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
from rich.text import Text

from ppflow.cli.context import current_app, out
from ppflow.cli.errors import CommandGroup, fail
from ppflow.services.indicators import PERIOD_HELP, Indicators

report_app = CommandGroup(help="Structural indicators and the program report.")

PeriodOption = Annotated[str, typer.Option("--period", help=f"The period: {PERIOD_HELP}.")]


def _figure(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return f"{value:,}"


def tables(result: Indicators, lang: str = "en") -> list[Table]:
    """The figures as Rich tables: indicators against targets, the funnel over the
    period, advisors at each stage at its end, feedback by theme per quarter, and the
    reasons for leaving. Indicator and stage names are the catalogues' in ``lang``."""
    from ppflow.services.indicators import label
    from ppflow.services.wording import shipped_wording

    wording = shipped_wording()

    def stage(name: str) -> str:
        return wording.label(f"stages.advisor.{name}", lang)

    title = f"Indicators {result.label}".strip()
    figures = Table("indicator", "value", "target", "version", "changed", "status", title=title)
    for row in result.comparisons():
        marks: dict[bool | None, Text | str] = {
            True: Text("met", "green"),
            False: Text("not met", "red"),
            None: "",
        }
        status = marks[row.met]
        figures.add_row(
            label(row.indicator, lang, wording, result.theme_titles),
            _figure(row.value),
            _figure(row.target),
            "" if row.version is None else f"v{row.version}",
            f"{row.changed_at:%Y-%m-%d}" if row.changed_at else "",
            status,
        )
    conversions = Table(
        "step", "reached", "moved on", "rate", title="Funnel: advisors who reached each step"
    )
    for step in result.conversions:
        conversions.add_row(
            stage(step.stage),
            f"{step.reached:,}",
            "" if step.moved_on is None else f"{step.moved_on:,}",
            "" if step.rate is None else f"{step.rate:.0%}",
        )
    funnel = Table("stage", "advisors", title="Advisors at each stage (end of period)")
    for name, n in result.funnel_in_order():
        funnel.add_row(stage(name), f"{n:,}")
    themes = Table("theme", *result.quarters, title="Feedback by theme (mean, 1 to 5)")
    for theme, by_quarter in result.themes.items():
        themes.add_row(
            result.theme_titles.get(theme, theme),
            *[_figure(by_quarter.get(q)) for q in result.quarters],
        )
    leaving = Table("to", "reason", "advisors", title="Reasons for leaving")
    for state, reason, n in result.reasons_for_leaving:
        leaving.add_row(stage(state), reason, str(n))
    return [figures, conversions, funnel, themes, leaving]


def _report(period: str, with_trend: bool = True) -> Indicators:
    """The program report for ``period``, in the installation's time zone."""
    from ppflow.services.reports import assemble_report

    app = current_app()
    zone = ZoneInfo(app.settings.timezone)
    return assemble_report(app.indicators(), period, zone, clock=app.clock, with_trend=with_trend)


LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="fr or en (default: the program's language, that of its e-mails: "
        "PPFLOW_SMTP__DEFAULT_LANGUAGE, fr unless set).",
    ),
]


def _language(lang: str | None, default: str | None = None) -> str:
    from ppflow.domain.model import LANGUAGES

    chosen = lang or default or current_app().settings.smtp.default_language or "fr"
    chosen = chosen.strip().lower()
    if chosen not in LANGUAGES:
        fail(f"--lang {lang}: the report is written in {' or '.join(LANGUAGES)}")
    return chosen


@report_app.command("indicators")
def indicators(
    period: PeriodOption,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Names of indicators and stages in fr or en.")
    ] = None,
) -> None:
    """Print the structural indicators for a period, against the program's targets."""
    chosen = _language(lang, "en")  # the terminal speaks English, as the rest of the CLI
    result = _report(period, with_trend=False)  # the trends are the HTML report's
    for table in tables(result, chosen):
        out.print(table)
    for key, values in result.remarks:
        from ppflow.services.indicators import note

        out.print(Text(note(key, values, chosen), "dim"), highlight=False)


@report_app.command("html")
def html(
    period: PeriodOption,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write to (default: <data_dir>/reports)."),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Write the HTML report (the funnel, trends over the last quarters and charts
    inline) and the CSV export for a period."""
    chosen = _language(lang)
    app = current_app()
    result = _report(period)
    directory = out_dir or app.settings.data_dir / "reports"
    try:
        page, csv_file = app.write_report(result, directory, chosen)
    except OSError as error:
        fail(f"cannot write the report to {directory}: {error}")
    out.print(f"HTML report: {page}", highlight=False)
    out.print(f"CSV export:  {csv_file}", highlight=False)
