"""evaluate-program: the structural indicators for a period, against the program's
targets (quarterly, and on demand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from ppflow_flows import tasks


def _cell(value) -> str:
    return "-" if value is None else f"{value:g}"


@flow(name="evaluate-program", flow_run_name="program/{period_days}d")
def evaluate_program(period_days: int = 91, end: str | None = None) -> dict:
    finish = datetime.fromisoformat(end) if end else datetime.now(UTC)
    start = finish - timedelta(days=period_days)
    result = tasks.indicators(start.isoformat(), finish.isoformat())
    funnel = "\n".join(f"| {stage} | {n} |" for stage, n in sorted(result["funnel"].items()))
    rows = "\n".join(
        f"| {name} | {_cell(value)} | {_cell(result['targets'].get(name))} |"
        for name, value in result["values"].items()
    )
    create_markdown_artifact(
        key="program-indicators",
        description="Structural indicators of the partnership program",
        markdown=(
            f"# Indicators {start:%Y-%m-%d} to {finish:%Y-%m-%d}\n\n"
            f"| indicator | value | target |\n|---|---|---|\n{rows}\n\n"
            f"## Advisors at each stage\n\n| stage | advisors |\n|---|---|\n{funnel}\n"
        ),
    )
    return result
