"""dispatch-notifications: send what the outbox holds (every minute on a schedule), end
the runs still waiting on an advisor who has withdrawn (through the portal, say, which
does not talk to Prefect), and announce as events the moves made outside the flows."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from ppflow_flows import runtime, tasks
from ppflow_flows.results import OutboxPass


@task(retries=3, retry_delay_seconds=[10, 60, 300])
def end_waits_of_withdrawn() -> list[str]:
    return runtime.end_waits_of_withdrawn()


@task(retries=3, retry_delay_seconds=[10, 60, 300])
def announce_moves_made_elsewhere() -> int:
    return runtime.announce_moves_made_elsewhere()


@flow(name="dispatch-notifications", flow_run_name="dispatch")
def dispatch_notifications(max_rows: int | None = None) -> OutboxPass:
    report = tasks.dispatch_outbox(max_rows)
    get_run_logger().info("outbox pass: %s", report)
    ended = end_waits_of_withdrawn()
    if ended:
        get_run_logger().info("ended %d run(s) waiting on withdrawn advisors", len(ended))
    announced = announce_moves_made_elsewhere()
    if announced:
        get_run_logger().info("announced %d move(s) made outside the flows", announced)
    return report
