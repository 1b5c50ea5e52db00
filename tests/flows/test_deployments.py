"""Deployments served by `ppflow serve` against a real Prefect server: triggered by name,
suspended while they wait, resumed by an answer, and completed by the runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL
from typer.testing import CliRunner

from ppflow import cli
from ppflow.services import queries
from ppflow_flows.serving import load_deployments
from tests import factories
from tests.flows.conftest import flow_runs, wait_until_paused

pytestmark = pytest.mark.prefect
runner = CliRunner()

SCHEDULES = {
    "dispatch-notifications": "* * * * *",
    "send-reminders": "0 7 * * *",
    "open-due-surveys": "30 7 * * *",
    "evaluate-program": "0 6 1 1,4,7,10 *",
    "apply-retention": "0 3 1 * *",
}


class Runner:
    """`ppflow serve` in a process of its own, which a test may stop and start again."""

    def __init__(self, flow_app):
        self.env = {
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "PPFLOW_DATABASE_URL": str(flow_app.engine.url),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PPFLOW_TIMEZONE": "America/Montreal",
        }
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ppflow.cli", "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while True:
            with get_client(sync_client=True) as client:
                names = {d.name for d in client.read_deployments()}
            if {d["name"] for d in load_deployments()} <= names:
                return
            assert self.process.poll() is None, "ppflow serve exited"
            assert time.monotonic() < deadline, "deployments never registered"
            time.sleep(1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(flow_app):
    runner_process = Runner(flow_app)
    runner_process.start()
    try:
        yield runner_process
    finally:
        runner_process.stop()


def wait_until_final(name: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [run] = flow_runs(name)
        if run.state.is_final():
            return run
        time.sleep(1)
    raise AssertionError(f"{name} did not finish in {timeout}s")


def test_every_scheduled_deployment_has_its_schedule_and_timezone(served):
    with get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    for name, cron in SCHEDULES.items():
        [schedule] = deployments[name].schedules
        assert schedule.schedule.cron == cron, name
        assert schedule.schedule.timezone == "America/Montreal", name
        assert schedule.active
    lifecycle = [d["name"] for d in load_deployments() if d["name"] not in SCHEDULES]
    assert len(lifecycle) == 8
    assert all(deployments[name].schedules == [] for name in lifecycle)


def test_a_coordinator_triggers_recruitment_by_name_and_the_runner_completes_it(served, flow_app):
    code = factories.referral(flow_app, factories.staff(flow_app))
    started = runner.invoke(cli.app, ["run", "recruit", code])
    assert started.exit_code == 0, started.output
    assert f"recruit/{code}" in started.output
    wait_until_paused(f"recruit/{code}", "screening", timeout=120)
    [run] = flow_runs(f"recruit/{code}")
    assert run.deployment_id is not None
    assert run.state.name == "Suspended"  # no process held while it waits
    assert queries.get_advisor(flow_app.uow(), code).advisor.stage == "invited"
    answered = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "retained"])
    assert answered.exit_code == 0, answered.output
    run = wait_until_final(f"recruit/{code}")
    assert run.state.is_completed(), run.state
    assert queries.get_advisor(flow_app.uow(), code).advisor.stage == "recruited"


def test_a_suspended_run_survives_a_restart_of_the_runner(served, flow_app):
    code = factories.referral(flow_app, factories.staff(flow_app))
    assert runner.invoke(cli.app, ["run", "recruit", code]).exit_code == 0
    wait_until_paused(f"recruit/{code}", "screening", timeout=120)
    served.stop()  # the machine reboots while the run waits for a person
    served.start()
    answered = runner.invoke(cli.app, ["answer", "screening", code, "--outcome", "declined"])
    assert answered.exit_code == 0, answered.output
    run = wait_until_final(f"recruit/{code}")
    assert run.state.is_completed(), run.state
    assert queries.get_advisor(flow_app.uow(), code).advisor.stage == "declined"


def test_smtp_password_and_signing_key_can_come_from_prefect_secret_blocks(flow_app):
    from prefect.blocks.system import Secret

    from ppflow.bootstrap import bootstrap
    from ppflow.settings import Settings
    from ppflow_flows.runtime import with_secrets

    Secret(value="s3cret-from-block").save("ppflow-smtp-password", overwrite=True)
    Secret(value="k" * 40).save("ppflow-signing-key", overwrite=True)
    settings = Settings(
        database_url=str(flow_app.engine.url),
        smtp={"password_block": "ppflow-smtp-password"},
        portal={"signing_key_block": "ppflow-signing-key"},
    )
    app = with_secrets(bootstrap(settings))
    try:
        assert app.settings.smtp.password == "s3cret-from-block"
        assert app.settings.portal.signing_key == "k" * 40
    finally:
        app.dispose()
