"""apply-retention: erase personal data once an advisor's retention period in a final
state has passed (monthly). Codes, transitions and aggregates stay."""

from __future__ import annotations

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.results import RetentionResult
from ppflow_flows.runtime import publish


@flow(name="apply-retention", flow_run_name="retention")
def apply_retention() -> RetentionResult:
    report = tasks.erase_expired_personal_data()
    publish(
        "retention",
        "Retention applied",
        [f"- {stage}: {n} erased" for stage, n in report.erased.items()]
        + [f"- unsent e-mails cancelled: {report.cancelled}"],
    )
    return report
