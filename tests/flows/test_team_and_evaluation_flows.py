"""Identification from CSV, team briefing, integration with its tokenism warnings,
feedback and formal evaluation, against the Prefect test server."""

from __future__ import annotations

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.flow_runs import resume_flow_run

from ppflow.domain.commands import Meta
from ppflow.services import integration, portal, queries
from tests import factories
from tests.flows.conftest import flow_runs, in_thread, wait_until_paused

pytestmark = pytest.mark.prefect


def artifact(key: str):
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    return found[-1]


def test_identify_advisors_registers_a_csv_and_reports_refused_lines(flow_app, tmp_path):
    from ppflow_flows.identify_advisors import identify_advisors

    referrer = factories.staff(flow_app)
    path = tmp_path / "batch.csv"
    path.write_text(
        "first_name,last_name,email,language,referred_by\n"
        f"Ana,One,ana.one@example.org,fr,{referrer}\n"
        f"Ben,Two,not-an-address,en,{referrer}\n"
        f"Cy,Three,cy.three@example.org,en,{referrer}\n",
        encoding="utf-8",
    )
    assert identify_advisors(str(path), "batch-a") == []  # all or nothing by default
    codes = identify_advisors(str(path), "batch-b", skip_invalid=True)
    assert len(codes) == 2
    assert {queries.get_advisor(flow_app.uow(), c).advisor.stage for c in codes} == {"identified"}
    report = artifact("identify-batch-b").data
    assert "lines 3" in report and all(code in report for code in codes)
    assert "not-an-address" not in report


def test_integration_briefs_the_team_first_and_warns_of_a_lone_advisor(flow_app):
    from ppflow_flows.integrate_advisor import integrate_advisor

    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("diabetes",), languages=("en",))
    close = factories.ready_advisor(flow_app, factories.staff(flow_app))
    running = in_thread(integrate_advisor, team)
    paused = wait_until_paused(f"integrate/{team}", "match")
    table = artifact(f"matches-{team}".lower()).data
    assert close in table and "Speaks" in table
    resume_flow_run(paused.id, run_input={"advisor": close})
    engagement = running.result(timeout=60)
    assert engagement.startswith("EN-")
    summary = queries.get_team(flow_app.uow(), team)
    assert summary.team.stage == "active" and summary.team.briefed_at is not None
    assert [e.code for e in summary.engagements] == [engagement]
    report = artifact(f"integrate-{team}".lower()).data
    assert "has 1 advisor(s); its rule asks for at least 2" in report
    assert any(r.state.is_completed() for r in flow_runs(f"brief/{team}"))


def test_feedback_then_evaluation_moves_the_engagement_to_evaluated(flow_app):
    from ppflow_flows.collect_feedback import collect_feedback
    from ppflow_flows.evaluate_integration import evaluate_integration

    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead)
    code = factories.ready_advisor(flow_app, factories.staff(flow_app))
    integration.brief_team(flow_app.uow(), team, Meta("test"), flow_app.clock)
    engagement = integration.confirm_match(
        flow_app.uow(), team, code, Meta("test"), clock=flow_app.clock
    ).engagement
    status = collect_feedback(engagement)
    assert (status.opened, status.answered) == (2, 0)
    assert collect_feedback(engagement).opened == 2  # re-run opens nothing new
    library = flow_app.questionnaires()
    answers = {"com_information": 5, "com_role": 4}
    portal.record_response(
        flow_app.uow(), library, engagement, code, answers, clock=flow_app.clock, partial=True
    )
    answers = {"com_prepared": 3, "com_plain_language": 3}
    portal.record_response(
        flow_app.uow(), library, engagement, lead, answers, clock=flow_app.clock, partial=True
    )
    integration.end_engagement(flow_app.uow(), engagement, Meta("test"), clock=flow_app.clock)
    score = evaluate_integration(engagement, notes="good first year")
    assert score is not None and 0 < score <= 1
    detail = queries.get_advisor(flow_app.uow(), code)
    assert detail.advisor.stage == "ready"
    assert [e.stage for e in detail.engagements] == ["evaluated"]
    report = artifact(f"evaluation-{engagement}".lower()).data
    assert "involved_from_start" in report and "mean agreement 3.8/5" in report
    assert evaluate_integration(engagement) == score  # evaluated once, reported again


def test_evaluate_program_publishes_the_report_that_ppflow_report_assembles(
    flow_app, tmp_path, monkeypatch
):
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from ppflow.services.indicators import previous_quarter
    from ppflow_flows import runtime
    from ppflow_flows.evaluate_program import evaluate_program

    # the app the flow runs on: a test before this one may have built the process's anew
    monkeypatch.setattr(runtime.application().settings, "data_dir", tmp_path)
    result = evaluate_program("2026Q1")

    assert result.period == "2026Q1"
    assert Path(result.html).parent == tmp_path / "reports" and Path(result.html).is_file()
    assert Path(result.csv).is_file()
    assert "# Program indicators 2026Q1" in artifact("program-indicators-summary").data
    # by default, the quarter that has just ended where the program is
    today = flow_app.clock.now().astimezone(ZoneInfo(flow_app.settings.timezone)).date()
    assert evaluate_program().period == previous_quarter(today)
