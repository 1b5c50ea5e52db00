"""The lifecycle flows against a real Prefect test server, with a coordinator answering
from the CLI or through Prefect's API."""

from __future__ import annotations

import getpass

import pytest
from prefect.flow_runs import resume_flow_run
from typer.testing import CliRunner

from ppflow import cli
from ppflow.domain.commands import Meta
from ppflow.services import advisors, queries
from tests import factories
from tests.flows.conftest import (
    ONBOARDED,
    flow_runs,
    in_thread,
    invitations_recorded,
    wait_until_paused,
)

pytestmark = pytest.mark.prefect
runner = CliRunner()


def answer(*args: str) -> str:
    result = runner.invoke(cli.app, ["answer", *args])
    assert result.exit_code == 0, result.output
    return result.output


def onboard_answering(code: str, team: str) -> str:
    """onboard-advisor for ``code`` and ``team``, a coordinator answering each question from
    the CLI as its run waits: retained, both modules done, the match confirmed. Returns the
    advisor's stage at the end."""
    from ppflow_flows.onboard_advisor import onboard_advisor

    running = in_thread(onboard_advisor, code, team)
    wait_until_paused(f"recruit/{code}", "screening")
    answer("screening", code, "--outcome", "retained")
    wait_until_paused(f"prepare/{code}", "training-1")
    answer("training", code, "--module", "PP-101,CONF-1")
    wait_until_paused(f"integrate/{team}", "match")
    answer("match", team, "--advisor", code)
    return running.result(timeout=90)


def stage(app, code: str) -> str:
    return queries.get_advisor(app.uow(), code).advisor.stage


def transitions(app, code: str) -> list:
    return advisors.advisor_history(app.uow(), code)


def test_recruit_waits_for_screening_and_the_cli_answer_resumes_it(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    paused = wait_until_paused(f"recruit/{code}", "screening")
    assert stage(flow_app, code) == "invited"
    out = answer("screening", code, "--outcome", "retained")
    assert str(paused.id) in out
    assert running.result(timeout=60) == "recruited"
    history = transitions(flow_app, code)
    assert [t.to_state for t in history] == ["identified", "invited", "screening", "recruited"]
    assert {t.flow_run_id for t in history[1:]} == {str(paused.id)}
    # the flow sent the invitation; the coordinator who answered decided the rest
    assert history[1].actor == "flow:recruit-advisor"
    assert {t.actor for t in history[2:]} == {f"cli:{getpass.getuser()}"}
    [run] = flow_runs(f"recruit/{code}")
    assert run.state.is_completed() and "stage:recruit" in run.tags


def test_a_second_answer_to_the_same_question_gets_a_clear_message(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")
    answer("screening", code, "--outcome", "declined")
    assert running.result(timeout=60) == "declined"
    late = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "retained"])
    assert late.exit_code == 1
    assert f"answered by cli:{getpass.getuser()} at " in late.output


def test_not_retained_needs_a_reason_and_is_resumed_through_the_prefect_api(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    paused = wait_until_paused(f"recruit/{code}", "screening")
    refused = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "not_retained"])
    assert refused.exit_code == 1 and "a reason is required" in refused.output
    resume_flow_run(
        paused.id, run_input={"outcome": "Not retained", "reason": "availability too limited"}
    )
    assert running.result(timeout=60) == "not_retained"
    last = transitions(flow_app, code)[-1]
    assert last.reason == "availability too limited"
    assert last.actor == "prefect-ui"  # answered in Prefect without a name


def test_an_advisor_who_withdraws_while_a_flow_waits_stays_withdrawn(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")
    advisors.withdraw_advisor(flow_app.uow(), code, Meta("cli:c", "moving away"), flow_app.clock)
    late = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "retained"])
    assert late.exit_code == 1
    assert "is 'withdrawn': the screening question no longer applies" in late.output
    assert f"recruit/{code} was ended" in late.output
    assert running.result(timeout=60) == "withdrawn"  # the run ended, applying nothing
    assert [t.to_state for t in transitions(flow_app, code)][-1] == "withdrawn"


def test_onboarding_runs_every_stage_and_resumes_from_the_current_state(flow_app):
    from ppflow_flows.onboard_advisor import onboard_advisor

    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("cancer",))
    code = factories.referral(flow_app, factories.staff(flow_app), tags=("cancer",))
    running = in_thread(onboard_advisor, code, team)
    wait_until_paused(f"recruit/{code}", "screening")
    answer("screening", code, "--outcome", "retained")
    wait_until_paused(f"prepare/{code}", "training-1")
    answer("training", code, "--module", "PP-101")
    wait_until_paused(f"prepare/{code}", "training-2")
    answer("training", code, "--module", "CONF-1")
    wait_until_paused(f"integrate/{team}", "match")
    answer("match", team, "--advisor", code, "--rate", "25")
    assert running.result(timeout=90) == "active"
    assert [t.to_state for t in transitions(flow_app, code)] == ONBOARDED
    with flow_app.uow() as uow:
        [engagement] = uow.engagements.for_advisor(code)
    assert engagement.hourly_rate == 25  # the rate answered, not the rate tiers
    summary = queries.get_team(flow_app.uow(), team)
    assert summary.team.stage == "active" and summary.active_advisors == 1
    # run again: it starts from 'active' and changes nothing
    before = len(transitions(flow_app, code))
    assert onboard_advisor(code, team) == "active"
    assert len(transitions(flow_app, code)) == before


def test_a_retried_step_in_the_same_run_changes_nothing_twice(flow_app):
    """What a Prefect retry does: the same step of the same run, applied again."""
    from prefect import flow

    from ppflow_flows import tasks

    code = factories.referral(flow_app, factories.staff(flow_app))

    @flow(name="retry-probe")
    def probe(advisor: str):
        first = tasks.invite(advisor)
        second = tasks.invite(advisor)  # same flow run, same step: same request id
        return first, second

    first, second = probe(code)
    assert first.to_state == second.to_state == "invited"
    assert second.replayed and not first.replayed
    assert invitations_recorded(flow_app, code) == (1, 1)


def test_a_wait_that_runs_out_ends_the_run_in_a_named_state(flow_app, monkeypatch):
    from ppflow_flows.recruit_advisor import recruit_advisor
    from ppflow_flows.runtime import application

    monkeypatch.setattr(application().settings, "decision_timeout_hours", 3 / 3600)
    code = factories.referral(flow_app, factories.staff(flow_app))
    state = recruit_advisor(code, return_state=True)
    assert state.is_failed() and state.name == "Expired"
    assert "no decision for" in state.message
    [run] = flow_runs(f"recruit/{code}")
    assert run.state.name == "Expired"
    assert stage(flow_app, code) == "invited"  # the case stays where it was
