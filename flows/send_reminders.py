"""send-reminders: one daily digest per coordinator of the cases stalled past their
service level, including the decisions flows have waited on for too long."""

from __future__ import annotations

from prefect import flow

from ppflow.services.sweeps import DECISION_STAGES, Case
from ppflow_flows import tasks
from ppflow_flows.results import ReminderResult
from ppflow_flows.runtime import application, paused_runs, publish
from ppflow_flows.serving import SHORT_NAMES

# The stages whose runs wait for a person's answer. Their runs are tagged stage:<stage>,
# and the parameter SHORT_NAMES names for the stage holds the code the answer is about.
ASKING = DECISION_STAGES


def waiting_decisions() -> list[Case]:
    """Runs paused or suspended on a person's answer: the code they ask about, their stage
    and how many days they have waited."""
    subject_of = {f"stage:{stage}": SHORT_NAMES[stage][1] for stage in ASKING}
    now = application().clock.now()
    found = []
    for run in paused_runs(tags=list(subject_of)):
        tag = next((t for t in run.tags or [] if t in subject_of), None)
        subject = (run.parameters or {}).get(subject_of[tag]) if tag else None
        if not subject or not tag:
            continue
        since = run.state.timestamp if run.state else now
        stage = tag.removeprefix("stage:")
        found.append(Case(subject, "decision", max(0, (now - since).days), stage))
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
