"""evaluate-integration: formally evaluate a completed engagement against explicit
criteria, move it to 'evaluated', and publish the report."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from ppflow_flows import tasks
from ppflow_flows.runtime import tag_run


def _cell(score) -> str:
    return "not measured" if score is None else f"{score:.2f}"


@flow(name="evaluate-integration", flow_run_name="evaluate/{engagement}")
def evaluate_integration(engagement: str, notes: str = ""):
    tag_run("stage:evaluate", f"engagement:{engagement}")
    report = tasks.evaluate(engagement, notes)
    rows = "\n".join(f"| {c.name} | {_cell(c.score)} | {c.explanation} |" for c in report.criteria)
    create_markdown_artifact(
        key=f"evaluation-{engagement}".lower(),
        description=f"Evaluation of {engagement}",
        markdown=(
            f"# Evaluation of {engagement}\n\nAdvisor `{report.advisor}` in team "
            f"`{report.team}` — overall **{_cell(report.score)}**\n\n"
            f"| criterion | score | why |\n|---|---|---|\n{rows}\n"
        ),
    )
    return report.score
