"""ppflow served the way the README tells an organization to run it (``make serve``): a
Prefect server, the mail sink and ``ppflow serve``, each a process of its own. Nothing is
triggered by hand except what a coordinator does: the scheduler makes the runs, triggers
chain the stages, and waits are suspensions that survive restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
)
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import func, select, text

from ppflow.adapters.orm import NotificationRow
from ppflow.bootstrap import bootstrap
from ppflow.domain.commands import Meta
from ppflow.services import advisors, queries
from ppflow.settings import Settings
from tests import factories
from tests.flows.conftest import ONBOARDED, invitations_recorded

pytestmark = pytest.mark.prefect
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def until(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(every)


def deployment_runs(client, deployment: str) -> list:
    """The flow runs of the deployment named ``deployment``, read with ``client``."""
    [found] = client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
    )
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[found.id]))
    )


class Office:
    """A partnership office's machine: the three processes of ``make serve``."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.maildir = root / "maildir"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(root / "prefect"),
            "PREFECT_API_URL": self.url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PPFLOW_DATABASE_URL": f"sqlite:///{root}/ppflow.db",
            "PPFLOW_DATA_DIR": str(root / "data"),
            "PPFLOW_SMTP__PORT": str(free_port()),
            "PPFLOW_SMTP__MAILDIR": str(self.maildir),
            "PPFLOW_TIMEZONE": "America/Montreal",
        }
        for name in ("PREFECT_PROFILES_PATH", "PPFLOW_DECISION_POLL_SECONDS"):
            self.env.pop(name, None)
        self.app = bootstrap(Settings(database_url=self.env["PPFLOW_DATABASE_URL"]))
        self.app.upgrade()
        factories.modules(self.app, "PP-101", "CONF-1")
        self.server = self.sink = self.runner = None

    # ------------------------------------------------------------------ processes
    def _start(self, *command: str) -> subprocess.Popen:
        log = (self.root / f"{command[0]}-{command[1]}.log").open("ab")
        return subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_server(self) -> None:
        self.server = self._start(
            "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)
        )
        until("the Prefect server answers", self._healthy, 120)

    def _healthy(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2):
                return True
        except OSError:
            return False

    def start_runner(self) -> None:
        self.runner = self._start("ppflow", "serve")
        # a runner that stops pauses its deployments; a runner that starts resumes them
        until(
            "every deployment is served",
            lambda: (
                len(served := self.deployments()) >= 13
                and not any(d.paused for d in served.values())
            ),
            120,
        )

    def start(self) -> None:
        self.start_server()
        self.sink = self._start("ppflow", "mail-sink")
        self.start_runner()

    @staticmethod
    def stop(process: subprocess.Popen, how=signal.SIGTERM) -> float:
        """Stop a process as a service manager or Ctrl-C would; returns the seconds it took."""
        started = time.monotonic()
        process.send_signal(how)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return float("inf")
        return time.monotonic() - started

    def close(self) -> None:
        for process in (self.runner, self.sink, self.server):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.app.dispose()

    # ------------------------------------------------------------------- reading
    def client(self):
        with temporary_settings({PREFECT_API_URL: self.url}):
            return get_client(sync_client=True)

    def deployments(self) -> dict:
        with self.client() as client:
            return {d.name: d for d in client.read_deployments()}

    def runs(self, deployment: str) -> list:
        with self.client() as client:
            return deployment_runs(client, deployment)

    def plant_pending(self, deployment: str):
        """A run of ``deployment`` left ``Pending``, as a runner stopped or killed while it
        submitted the run leaves it: it holds the deployment's concurrency slot. Returns
        the run."""
        from datetime import UTC, datetime, timedelta

        from prefect.states import Pending, Scheduled

        [found] = [d for d in self.deployments().values() if d.name == deployment]
        with self.client() as client:

            def planted():
                later = datetime.now(UTC) + timedelta(days=1)  # no runner picks it up
                run = client.create_flow_run_from_deployment(
                    found.id, state=Scheduled(scheduled_time=later), name="planted"
                )
                # refused (Cancelled) while a scheduled pass holds the slot: try again
                state = client.set_flow_run_state(run.id, Pending()).state
                return state is not None and state.is_pending() and client.read_flow_run(run.id)

            return until(f"a {deployment} run planted in Pending", planted, 60, every=0.2)

    def stop_runner_while_it_starts(self, deployment: str) -> tuple:
        """Start a run of ``deployment`` by hand and send SIGTERM to ``ppflow serve`` the
        moment the run is Pending (being started). Returns the run as it was caught, and
        the seconds ``ppflow serve`` took to exit."""
        short = {"dispatch-notifications": "dispatch"}.get(deployment, deployment)
        with self.client() as client:
            while True:  # a scheduled pass may hold the slot: then the run is cancelled
                started = self.ppflow("run", short)
                assert started.returncode == 0, started.stderr
                run_id = started.stdout.rsplit("(flow run ", 1)[1].split(")")[0]
                run = until(
                    "the runner takes the run",
                    lambda: (
                        (r := client.read_flow_run(run_id)).state.type.value  # noqa: B023
                        in ("PENDING", "CANCELLED", "RUNNING", "COMPLETED")
                        and r
                    ),
                    timeout=60,
                    every=0.005,
                )
                if run.state.is_pending():
                    break
        took = self.stop(self.runner)
        return run, took

    def flow_run(self, flow_run_id):
        with self.client() as client:
            return client.read_flow_run(flow_run_id)

    def runs_named(self, deployment: str, name: str) -> list:
        return [r for r in self.runs(deployment) if r.name == name]

    def suspended(
        self, deployment: str, name: str, key: str, timeout: float = 150, every: float = 1.0
    ):
        def check():
            for run in self.runs_named(deployment, name):
                details = run.state.state_details if run.state else None
                if run.state.name == "Suspended" and details.pause_key == key:
                    return run
            return None

        return until(f"{name} suspended at {key}", check, timeout, every)

    def completed(self, deployment: str, name: str, timeout: float = 150) -> list:
        return until(
            f"{name} completed",
            lambda: [r for r in self.runs_named(deployment, name) if r.state.is_completed()],
            timeout,
        )

    def flow_run_processes(self) -> set[str]:
        """Flow run ids of the processes the runner has started and that are alive."""
        alive = set()
        for child in _descendants(self.runner.pid):
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for entry in environ:
                if entry.startswith(b"PREFECT__FLOW_RUN_ID="):
                    alive.add(entry.split(b"=", 1)[1].decode())
        return alive

    def ppflow(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "ppflow"), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def mails(self) -> list[bytes]:
        new = self.maildir / "new"
        return [p.read_bytes() for p in new.iterdir()] if new.exists() else []

    def stage(self, code: str) -> str:
        return queries.get_advisor(self.app.uow(), code).advisor.stage


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def opened_office(root: Path):
    """An office with mail queued before it opens (an invitation waiting in the outbox),
    then started; the tests of this module and of ``test_production_answers.py`` share one
    (the ``office`` fixture of ``conftest.py``), as its start costs half a minute."""
    office = Office(root)
    queued = factories.referral(office.app, factories.staff(office.app))
    advisors.invite_advisor(office.app.uow(), queued, Meta("cli:coordinator"), office.app.clock)
    office.queued = queued
    office.start()
    return office


def test_the_scheduler_runs_dispatch_and_pending_mail_reaches_the_sink(office):
    runs = until(
        "the scheduler made a dispatch-notifications run that completed",
        lambda: [r for r in office.runs("dispatch-notifications") if r.state.is_completed()],
        timeout=180,
    )
    assert all(r.auto_scheduled for r in runs)  # made by the scheduler, not by hand
    with office.app.session_factory() as session:
        queued = session.scalar(select(func.count()).select_from(NotificationRow))
    mails = until(
        "every queued e-mail reached the mail sink",
        lambda: len(office.mails()) == queued and office.mails(),
        timeout=60,
    )
    assert queued >= 1 and any(b"Subject:" in m for m in mails)
    with office.app.session_factory() as session:
        statuses = set(session.scalars(select(NotificationRow.status)).all())
    assert statuses == {"sent"}
    # a slow run never lets the next ones pile up: one at a time, a new one is cancelled
    for name in ("dispatch-notifications", "send-reminders", "apply-retention"):
        deployment = office.deployments()[name]
        assert deployment.global_concurrency_limit.limit == 1, name
        assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW", name


SCHEDULES = {
    "send-reminders": "0 7 * * *",
    "open-due-surveys": "30 7 * * *",
    "evaluate-program": "0 6 1 1,4,7,10 *",
    "apply-retention": "0 3 1 * *",
}


def test_every_deployment_is_served_with_its_schedule_and_the_chain_as_automations(office):
    deployments = office.deployments()
    for name, cron in SCHEDULES.items():
        [schedule] = deployments[name].schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (cron, "America/Montreal")
    [dispatch] = deployments["dispatch-notifications"].schedules  # within a lease and a half
    assert dispatch.schedule.interval.total_seconds() == 30
    with office.client() as client:
        automations = {a.name: a for a in client.read_automations()}
    assert {
        "onboarding: recruited, then prepare-advisor",
        "onboarding: ready, then integrate-advisor",
    } <= set(automations)
    assert all(a.enabled for a in automations.values())


def test_an_advisor_is_onboarded_through_the_deployments_with_only_answers(office):
    app = office.app
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead, tags=("cancer",))
    code = factories.referral(app, factories.staff(app), tags=("cancer",))

    started = office.ppflow("run", "onboard", code, "-p", f"team={team}")
    assert started.returncode == 0, started.stderr
    steps = [
        (
            "recruit-advisor",
            f"recruit/{code}",
            "screening",
            ("screening", code, "--outcome", "retained"),
        ),
        (
            "prepare-advisor",
            f"prepare/{code}",
            "training-1",
            ("training", code, "--module", "PP-101,CONF-1"),
        ),
        ("integrate-advisor", f"integrate/{team}", "match", ("match", team, "--advisor", code)),
    ]
    for deployment, name, key, answer in steps:
        waiting = office.suspended(deployment, name, key)
        assert waiting.parent_task_run_id is None  # a top-level run of its deployment
        # no process is alive for this advisor while the run waits for a person
        until(
            f"the process of {name} has ended",
            lambda: str(waiting.id) not in office.flow_run_processes(),  # noqa: B023
            timeout=15,
            every=0.5,
        )
        given = office.ppflow("answer", *answer)
        assert given.returncode == 0, given.stderr
        office.completed(deployment, name)

    until("the advisor is active", lambda: office.stage(code) == "active", 60)
    # the chain: prepare and integrate were started by the deployment triggers
    for deployment, name, *_ in steps[1:]:
        [run] = office.runs_named(deployment, name)
        assert run.created_by is not None and run.created_by.type == "AUTOMATION", run.created_by
    history = advisors.advisor_history(app.uow(), code)
    assert [t.to_state for t in history] == ONBOARDED
    decided = {t.to_state: t.actor for t in history}
    assert decided["recruited"].startswith("cli:") and decided["active"].startswith("cli:")


def test_a_suspended_run_survives_restarts_of_the_runner_and_of_the_server(office):
    code = factories.referral(office.app, factories.staff(office.app))
    assert office.ppflow("run", "recruit", code).returncode == 0
    # stop the runner the moment the run is suspended, while its process is still exiting:
    # the moment a runner that tracks that process would cancel the run
    [run] = until(
        "the run exists", lambda: office.runs_named("recruit-advisor", f"recruit/{code}"), 60
    )
    with office.client() as client:
        waiting = until(
            "the run is suspended",
            lambda: (r := client.read_flow_run(run.id)).state.name == "Suspended" and r,
            timeout=150,
            every=0.01,
        )
    assert str(waiting.id) in office.flow_run_processes()

    took = office.stop(office.runner)  # the service manager restarts ppflow serve
    [run] = office.runs_named("recruit-advisor", f"recruit/{code}")
    assert run.state.name == "Suspended", run.state  # stopping did not cancel it
    assert took <= 5, f"ppflow serve took {took:.1f} s to stop"
    office.start_runner()
    office.stop(office.server)  # and the Prefect server restarts too
    office.start_server()
    [run] = office.runs_named("recruit-advisor", f"recruit/{code}")
    assert run.id == waiting.id and run.state.name == "Suspended", run.state

    given = office.ppflow("answer", "screening", code, "--outcome", "declined")
    assert given.returncode == 0, given.stderr
    office.completed("recruit-advisor", f"recruit/{code}")
    assert office.stage(code) == "declined"


def test_a_stage_started_twice_changes_state_and_sends_mail_once(office):
    code = factories.referral(office.app, factories.staff(office.app))
    for _ in range(2):  # a coordinator's double click, or a duplicated event
        assert office.ppflow("run", "recruit", code).returncode == 0
    office.suspended("recruit-advisor", f"recruit/{code}", "screening")
    until(
        "the second run stopped as a duplicate",
        lambda: any(
            r.state.name == "Duplicate"
            for r in office.runs_named("recruit-advisor", f"recruit/{code}")
        ),
        timeout=120,
    )
    assert invitations_recorded(office.app, code) == (1, 1)
    assert office.ppflow("answer", "screening", code, "--outcome", "declined").returncode == 0
    office.completed("recruit-advisor", f"recruit/{code}")


def test_serve_stopped_while_it_starts_a_run_hands_the_run_back_within_3_s(office):
    """SIGTERM reaches ``ppflow serve`` while it starts a dispatch run (Pending, its process
    not yet running the flow): the run is Scheduled again, never left Pending, and the
    next ``ppflow serve`` runs it."""
    run, took = office.stop_runner_while_it_starts("dispatch-notifications")
    left = office.flow_run(run.id)
    office.start_runner()  # first, so that a failure here leaves the office served
    assert took <= 3, f"ppflow serve took {took:.2f} s to stop"
    assert left.state.name == "Scheduled", left.state  # handed back, slot released
    until(
        "the next runner ran the handed-back run",
        lambda: office.flow_run(run.id).state.is_completed(),
        timeout=90,
    )


def test_mail_still_goes_out_by_schedule_with_a_dispatch_run_left_pending(office):
    """A dispatch run left Pending (its runner stopped or died while submitting it) holds
    the deployment's one concurrency slot; the schedule's later runs must still send."""
    planted = office.plant_pending("dispatch-notifications")
    started = time.monotonic()
    code = factories.referral(office.app, factories.staff(office.app))
    # ppflow check and ppflow waiting name it, past their limit (here 3 s)
    time.sleep(4)
    checked = office.ppflow("check", PPFLOW_STUCK_RUN_MINUTES="0.05")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "ok    the Prefect server at" in checked.stdout
    assert "failed run planted is stuck: Pending since" in " ".join(checked.stderr.split())
    listed = office.ppflow("waiting", PPFLOW_STUCK_RUN_MINUTES="0.05", COLUMNS="160")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if "planted" in line]
    assert "Pending" in line and str(planted.id) in line, listed.stdout
    with office.app.session_factory() as session:
        [row] = session.scalars(
            select(NotificationRow).where(
                NotificationRow.idempotency_key == f"referral_acknowledgement:{code}"
            )
        ).all()
        row_id = row.id

    def delivered():
        with office.app.session_factory() as session:
            row = session.get(NotificationRow, row_id)
        return row.status == "sent" and any(row.message_id.encode() in m for m in office.mails())

    until("the referral's acknowledgement reached the sink", delivered, 180)
    took = time.monotonic() - started
    print(f"acknowledgement in the sink {took:.0f} s after a dispatch run was left Pending")
    # the run left behind does not stay Pending: it is crashed, and says why
    left = office.flow_run(planted.id)
    assert left.state.is_crashed(), left.state
    assert "Pending" in (left.state.message or ""), left.state.message


def test_nothing_personal_reaches_the_served_prefect(office):
    """After every test above: runs, forms, answers, logs, events, deployments and
    automations on the office's Prefect server carry codes only."""
    from tests.flows.test_no_personal_data_in_prefect import everything_prefect_stored

    with office.app.session_factory() as session:
        # the test people all have the first name Ada, which "metadata" contains: their
        # distinctive last names and addresses are what is looked for
        people = session.execute(text("SELECT last_name, email FROM contacts")).all()
    assert people
    with office.client() as client:
        stored = everything_prefect_stored(client).lower()
    assert "onboarding: recruited, then prepare-advisor" in stored  # the scan sees triggers
    assert "advisor to place in qi team" in stored  # and the forms
    leaked = {value for person in people for value in person if value and value.lower() in stored}
    assert leaked == set(), f"personal data reached Prefect: {sorted(leaked)}"
