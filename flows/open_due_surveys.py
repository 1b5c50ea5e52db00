"""open-due-surveys: open the partnership-experience questionnaire due for each active
engagement (3 months after its start, then every 6 months)."""

from __future__ import annotations

from prefect import flow

from ppflow_flows import tasks
from ppflow_flows.runtime import publish


@flow(name="open-due-surveys", flow_run_name="surveys")
def open_due_surveys() -> int:
    opened = tasks.open_due_surveys()
    publish("due-surveys", "Questionnaires opened", [f"- engagements: {opened}"])
    return opened
