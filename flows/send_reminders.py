"""send-reminders: one daily digest per coordinator of the cases stalled past their
service level, including the decisions flows have waited on for too long."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow

from ppflow.services.sweeps import Case
from ppflow_flows import tasks
from ppflow_flows.results import ReminderResult
from ppflow_flows.runtime import paused_runs, publish


def waiting_decisions() -> list[Case]:
    """Runs paused or suspended on a person's answer: their subject code and age."""
    runs = paused_runs()
    now = datetime.now(UTC)
    found = []
    for run in runs:
        stage, _, subject = (run.name or "").partition("/")
        if not subject:
            continue
        since = run.state.timestamp if run.state else now
        found.append(Case(subject, f"{stage}: waiting for a decision", max(0, (now - since).days)))
    return found


@flow(name="send-reminders", flow_run_name="reminders")
def send_reminders() -> ReminderResult:
    report = tasks.remind(waiting_decisions())
    publish(
        "reminders",
        "Stalled cases",
        [f"- {kind}: {count}" for kind, count in report.cases.items()]
        + [f"- digests queued: {report.digests}"],
    )
    return report
