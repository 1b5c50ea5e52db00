"""dispatch-notifications: send what the outbox holds (every minute on a schedule)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from ppflow_flows import tasks
from ppflow_flows.results import OutboxPass


@flow(name="dispatch-notifications", flow_run_name="dispatch")
def dispatch_notifications(max_rows: int | None = None) -> OutboxPass:
    report = tasks.dispatch_outbox(max_rows)
    get_run_logger().info("outbox pass: %s", report)
    return report
