"""evaluate-program: the structural indicators for a period against the program's
targets (quarterly, and on demand), published as Prefect artifacts (a table and a
markdown summary), with the HTML report (in French, the installation's first language,
with the trends of the last quarters) and the CSV export written to ``<data_dir>/reports``."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from ppflow_flows.results import IndicatorRow, ProgramIndicators
from ppflow_flows.runtime import application
from ppflow_flows.tasks import DB


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float | int) else str(value)


@task(**DB)
def program_indicators(period: str | None) -> ProgramIndicators:
    """Compute the indicators for the period and write the report; plain values back."""
    from zoneinfo import ZoneInfo

    from ppflow.services.indicators import label
    from ppflow.services.reports import assemble_report

    app = application()
    zone = ZoneInfo(app.settings.timezone)
    result = assemble_report(app.indicators(), period or None, zone, clock=app.clock)
    page, table = app.write_report(result)
    rows = tuple(
        IndicatorRow(
            indicator=label(c.indicator),
            value=_cell(c.value),
            target=_cell(c.target),
            version="" if c.version is None else f"v{c.version}",
            status={True: "met", False: "not met", None: ""}[c.met],
        )
        for c in result.comparisons()
    )
    return ProgramIndicators(
        period=result.label,
        rows=rows,
        funnel=dict(result.funnel_in_order()),
        notes=tuple(result.notes),
        values=dict(result.values),
        targets=dict(result.targets),
        html=str(page),
        csv=str(table),
    )


@flow(name="evaluate-program", flow_run_name="program/{period}")
def evaluate_program(period: str | None = None) -> ProgramIndicators:
    """``period`` as the CLI takes it (2026Q3, 2026, 2026-07..2026-09); by default the
    quarter that has just ended."""
    result = program_indicators(period)
    key = "program-indicators"
    create_table_artifact(
        key=key,
        table=[row.cells() for row in result.rows],
        description=f"Structural indicators {result.period}, against targets",
    )
    met = sum(1 for r in result.rows if r.status == "met")
    unmet = [r.indicator for r in result.rows if r.status == "not met"]
    funnel = "\n".join(f"| {stage} | {n} |" for stage, n in result.funnel.items())
    notes = "".join(f"\n> {note}\n" for note in result.notes)
    create_markdown_artifact(
        key=f"{key}-summary",
        description=f"Program evaluation {result.period}",
        markdown=(
            f"# Program indicators {result.period}\n\n"
            f"{met} targets met; not met: {', '.join(unmet) or 'none'}.\n{notes}\n"
            f"## Advisors at each stage\n\n| stage | advisors |\n|---|---|\n{funnel}\n\n"
            f"HTML report: `{result.html}`  \nCSV export: `{result.csv}`\n"
        ),
    )
    return result
