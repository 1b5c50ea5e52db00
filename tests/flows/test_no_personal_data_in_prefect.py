"""Everything Prefect stores about ppflow's runs carries codes, never personal data."""

from __future__ import annotations

import json
import time

import pytest
from prefect import get_client
from prefect.client.schemas.filters import LogFilter

from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused
from tests.flows.test_lifecycle_flows import answer, onboard_answering

pytestmark = pytest.mark.prefect

SECRETS = (
    "Zephyrine",
    "Quixotebloom",
    "zq.private@example.org",
    "514-555-0199",
    "rarecondition",
    "Hortensia",
    "Blathersby",
    "hb.private@example.org",
)


def everything_prefect_stored(client=None) -> str:
    """Every run, task run, log, artifact, event, form and answer (run inputs),
    deployment and automation Prefect holds, as text."""
    if client is None:
        with get_client(sync_client=True) as client:
            return everything_prefect_stored(client)
    runs = client.read_flow_runs(limit=200)
    parts = [r.model_dump_json() for r in runs]
    parts += [r.model_dump_json() for r in client.read_task_runs(limit=200)]
    for run in runs:
        parts += [i.model_dump_json() for i in client.filter_flow_run_input(run.id, "", 500, set())]
    offset = 0
    while True:
        logs = client.read_logs(LogFilter(), limit=200, offset=offset)
        parts += [log.model_dump_json() for log in logs]
        if len(logs) < 200:
            break
        offset += 200
    parts += [a.model_dump_json() for a in client.read_artifacts(limit=200)]
    parts += [d.model_dump_json() for d in client.read_deployments()]
    parts += [a.model_dump_json() for a in client.read_automations()]
    page = client.read_events(limit=50)
    events = list(page.events)
    while page.next_page:
        page = client.read_events_page(page.next_page)
        events += page.events
    parts += [e.model_dump_json() for e in events]
    return "\n".join(parts)


def test_no_name_email_phone_or_health_detail_reaches_prefect(flow_app, tmp_path):
    from ppflow_flows.identify_advisors import identify_advisors

    referrer = factories.staff(flow_app)
    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("cancer",))
    path = tmp_path / "private.csv"
    path.write_text(
        "first_name,last_name,email,phone,language,referred_by,tags,context\n"
        f"Zephyrine,Quixotebloom,zq.private@example.org,514-555-0199,fr,{referrer},cancer,"
        "rarecondition since 2019\n"
        f"Hortensia,Blathersby,hb.private@example.org,,fr,{referrer},,\n"
        f"Hortensia,Blathersby,hb.private@example.org,,xx,{referrer},,\n",
        encoding="utf-8",
    )
    codes = identify_advisors(str(path), "private", skip_invalid=True)
    code = codes[0]
    assert onboard_answering(code, team) == "active"

    deadline = time.monotonic() + 30
    stored = everything_prefect_stored()
    while f"ppflow.advisor.{code}" not in stored and time.monotonic() < deadline:
        time.sleep(1)
        stored = everything_prefect_stored()
    # the scan really covers this advisor's runs, logs, artifacts and events...
    for proof in (
        f"recruit/{code}",
        f"onboard/{code}",
        f"ppflow.advisor.{code}",
        "Recruitment of",
        "waits for the screening answer",
        "Screening outcome for advisor",  # the form the UI shows
    ):
        assert proof in stored, proof
    # the match's reasons are there, the lived experience unnamed
    assert "shared lived experience in 1 of the team's focus areas" in stored.lower()
    assert "shared lived experience:" not in stored.lower()
    # ...and none of the person's data is there
    lowered = stored.lower()
    leaked = [s for s in SECRETS if s.lower() in lowered]
    assert leaked == [], f"personal data reached Prefect: {leaked}"
    assert json.dumps(SECRETS[0])[1:-1].lower() not in lowered

    # erased, they leave nothing readable in the database files, the mail sink or Prefect
    from ppflow.services.privacy import erase_advisor
    from tests.integration.test_erasure import _database_text, _maildir_text

    # Hortensia, referred in the same file, keeps her data; the phone is stored as digits
    theirs = (*SECRETS[:3], "5145550199", SECRETS[4])
    held = _database_text(flow_app)
    assert [s for s in theirs if s not in held] == [], "nothing to erase"
    erase_advisor(flow_app.uow(), code, flow_app.clock)
    left = _database_text(flow_app) + everything_prefect_stored()
    if flow_app.maildir.exists():
        left += _maildir_text(flow_app.maildir)
    assert [s for s in theirs if s.lower() in left.lower()] == []


def test_a_typed_reason_stays_in_ppflow_and_leaves_prefect_once_applied(flow_app):
    """A coordinator's reason may name someone ("called from 514-…"): the run records it in
    ppflow, where erasure reaches it; Prefect's copy of the answer keeps only a note."""
    from ppflow.services import advisors
    from ppflow.services.privacy import erase_advisor
    from ppflow_flows.recruit_advisor import recruit_advisor

    reason = "Ottoline Fairweatherby phoned from 514-555-0177 about her rarecondition"
    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")
    answer("screening", code, "--outcome", "not_retained", "--reason", reason)
    assert running.result(timeout=90) == "not_retained"

    assert advisors.advisor_history(flow_app.uow(), code)[-1].reason == reason
    stored = everything_prefect_stored()
    assert f"recruit/{code}" in stored and "recorded in ppflow" in stored
    for word in ("Ottoline", "Fairweatherby", "555-0177", "rarecondition"):
        assert word not in stored, f"{word} reached Prefect"
    erase_advisor(flow_app.uow(), code, flow_app.clock)
    assert advisors.advisor_history(flow_app.uow(), code)[-1].reason is None
