"""The README's worker recipe, followed step by step with its own commands: fresh
PostgreSQL databases made with ``createdb``, ppflow's configuration in the one file
``PPFLOW_ENV_FILE`` names, the Prefect server on PostgreSQL with basic authentication,
``ppflow check`` and ``ppflow db upgrade``, the process work pool, ``prefect deploy --all``
and two workers whose environment holds Prefect's two variables and nothing of ppflow.

The schedule makes a ``dispatch-notifications`` run, a coordinator onboards an advisor with
``ppflow run`` and ``ppflow answer``, and the links the workers' runs e-mail verify with the
key of the file, not with the development key. The workers stop on SIGINT, as the recipe
says to stop them."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from sqlalchemy import create_engine, text

from ppflow.adapters.email.maildir import read_maildir
from ppflow.bootstrap import bootstrap
from ppflow.services import advisors, links
from ppflow.services.links import make_key
from ppflow.settings import DEVELOPMENT_SIGNING_KEY, PortalSettings, Settings
from tests import factories
from tests.conftest import NO_POSTGRES, POSTGRES_URL
from tests.flows.conftest import ONBOARDED
from tests.flows.test_production import deployment_runs, free_port, until

pytestmark = [pytest.mark.postgres, pytest.mark.prefect]
BIN = Path(sys.executable).parent
README = Path(__file__).resolve().parents[2] / "README.md"
PORTAL_URL = "https://partenariat.example.org"
AUTH = f"ppflow:{secrets.token_urlsafe(12)}"


def recipe() -> str:
    """The README's worker recipe: the shell block after its heading."""
    readme = README.read_text(encoding="utf-8")
    after = readme[readme.index("**Scale-out: the worker recipe.**") :]
    return after[after.index("```sh") : after.index("```", after.index("```sh") + 5)]


def in_recipe(*lines: str) -> None:
    """The README's recipe says exactly this (so that what the test runs is what it says)."""
    block = recipe()
    for line in lines:
        assert line in block, f"the README's worker recipe no longer says: {line}"


class Machines:
    """The recipe's machines, on this one: each process gets the environment the recipe
    gives that machine, built from nothing (never this test's own environment)."""

    def __init__(self, root: Path, base_url: str):
        self.root = root
        self.base_url = base_url  # postgresql://user@host:port (no database)
        suffix = uuid.uuid4().hex[:8]
        self.prefect_db, self.ppflow_db = f"prefect_{suffix}", f"ppflow_{suffix}"
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env_file = root / "etc-ppflow" / "ppflow.env"
        self.key = make_key()  # what `ppflow keygen` prints
        self.maildir = root / "maildir"
        self.processes: list[subprocess.Popen] = []
        self.created: list[str] = []

    def bare(self) -> dict[str, str]:
        """What any machine has before the recipe: a path, a home, Prefect's own home."""
        return {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }

    def server_env(self) -> dict[str, str]:
        url = urlsplit(self.base_url)
        return {
            **self.bare(),
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                f"postgresql+asyncpg://{url.netloc}/{self.prefect_db}"
            ),
            "PREFECT_SERVER_API_AUTH_STRING": AUTH,
        }

    def prefect_client_env(self) -> dict[str, str]:
        return {**self.bare(), "PREFECT_API_URL": self.api, "PREFECT_API_AUTH_STRING": AUTH}

    def admin_env(self) -> dict[str, str]:
        return {**self.prefect_client_env(), "PPFLOW_ENV_FILE": str(self.env_file)}

    def worker_env(self) -> dict[str, str]:
        # Prefect's two variables, and a shorter poll than Prefect's 10 s to keep the test
        # short; nothing of ppflow: the deployments name the file for every run
        return {**self.prefect_client_env(), "PREFECT_WORKER_QUERY_SECONDS": "2"}

    # ------------------------------------------------------------------- commands
    def run(self, *command: str, env: dict, timeout: float = 180) -> str:
        done = subprocess.run(
            [str(BIN / command[0]), *command[1:]] if (BIN / command[0]).exists() else command,
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, name: str, *command: str, env: dict) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env=env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.name = name
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def createdb(self, name: str) -> None:
        url = urlsplit(self.base_url)
        self.run(
            "createdb",
            "-h",
            url.hostname,
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            name,
            env={**self.bare(), "PGPASSWORD": url.password or ""},
        )
        self.created.append(name)

    def healthy(self) -> bool:
        request = urllib.request.Request(
            self.api + "/health",
            headers={"Authorization": "Basic " + b64encode(AUTH.encode()).decode()},
        )
        try:
            with urllib.request.urlopen(request, timeout=2):
                return True
        except (OSError, urllib.error.HTTPError):
            return False

    def client(self):
        with temporary_settings({PREFECT_API_URL: self.api, PREFECT_API_AUTH_STRING: AUTH}):
            return get_client(sync_client=True)

    def runs(self, deployment: str) -> list:
        with self.client() as client:
            return deployment_runs(client, deployment)

    def suspended(self, deployment: str, name: str, key: str):
        def check():
            for run in self.runs(deployment):
                details = run.state.state_details if run.state else None
                if run.name == name and run.state.name == "Suspended" and details.pause_key == key:
                    return run
            return None

        return until(f"{name} waits at {key}", check, timeout=150)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        admin = create_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def taken_by(log: str) -> set[str]:
    """Runs a worker submitted and kept (one that loses the race aborts its submission)."""
    submitted = set(re.findall(r"submitting flow run '([0-9a-f-]{36})'", log))
    aborted = set(re.findall(r"Aborted submission of flow run '([0-9a-f-]{36})'", log))
    return submitted - aborted


@pytest.fixture
def machines(tmp_path):
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    if not shutil.which("createdb"):
        pytest.skip("createdb (PostgreSQL's client programs) is not installed")
    found = Machines(tmp_path, POSTGRES_URL.rsplit("/", 1)[0])
    (tmp_path / "home").mkdir()
    try:
        yield found
    finally:
        found.close()


def test_the_worker_recipe_mails_links_signed_with_the_configured_key(machines):
    m = machines
    url = urlsplit(m.base_url)

    # 1. the databases
    in_recipe("createdb -h db-host -U postgres prefect", "createdb -h db-host -U postgres ppflow")
    m.createdb(m.prefect_db)
    m.createdb(m.ppflow_db)
    database_url = f"postgresql://{url.netloc}/{m.ppflow_db}"

    # 2. ppflow's configuration, in one file
    in_recipe(
        "cat > /etc/ppflow/ppflow.env <<'END'",
        "PPFLOW_ENVIRONMENT=production",
        "PPFLOW_DATABASE_URL=postgresql://",
        "PPFLOW_PORTAL__SIGNING_KEY=",
        "PPFLOW_PORTAL_URL=https://",
        "PPFLOW_SMTP__HOST=",
        "PPFLOW_SMTP__PORT=",
        "PPFLOW_SMTP__SENDER=",
    )
    smtp_port = free_port()
    m.env_file.parent.mkdir()
    m.env_file.write_text(
        "\n".join(
            [
                "PPFLOW_ENVIRONMENT=production",
                f"PPFLOW_DATABASE_URL={database_url}",
                f"PPFLOW_PORTAL__SIGNING_KEY={m.key}",
                f"PPFLOW_PORTAL_URL={PORTAL_URL}",
                "PPFLOW_SMTP__HOST=127.0.0.1",  # here the mail sink stands for the SMTP server
                f"PPFLOW_SMTP__PORT={smtp_port}",
                "PPFLOW_SMTP__SENDER=partenariat@example.org",
                f"PPFLOW_SMTP__MAILDIR={m.maildir}",
                f"PPFLOW_DATA_DIR={m.root / 'data'}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    m.env_file.chmod(0o600)

    # 3. the Prefect server, on PostgreSQL, with basic authentication (on loopback here)
    in_recipe(
        "export PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://",
        'export PREFECT_SERVER_API_AUTH_STRING="ppflow:',
        "prefect server start --host",
    )
    server = m.start(
        "server",
        *("prefect", "server", "start", "--host", "127.0.0.1", "--port", str(m.port)),
        env=m.server_env(),
    )
    until("the Prefect server answers", lambda: server.poll() is not None or m.healthy(), 120)
    assert server.poll() is None, m.log("server")
    refused = urllib.request.Request(m.api + "/block_documents/filter", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as closed:
        urllib.request.urlopen(refused, timeout=10)
    assert closed.value.code == 401

    # 4. the administrator's machine: schema, check, work pool, deployments
    in_recipe(
        "export PREFECT_API_URL=http://prefect-host:4200/api "
        'PREFECT_API_AUTH_STRING="ppflow:$(cat /etc/ppflow/prefect-auth)"',
        "export PPFLOW_ENV_FILE=/etc/ppflow/ppflow.env",
        "ppflow db upgrade",
        "ppflow check",
        "prefect work-pool create ppflow-pool --type process",
        'prefect --no-prompt deploy --prefect-file "$(python -m ppflow.resources prefect.yaml)" '
        "--all",
    )
    admin = m.admin_env()
    m.run("ppflow", "db", "upgrade", env=admin)
    checked = m.run("ppflow", "check", env=admin)
    assert "environment: production" in checked and "the portal may start" in checked
    m.run("prefect", "work-pool", "create", "ppflow-pool", "--type", "process", env=admin)
    prefect_file = m.run(
        "python", "-m", "ppflow.resources", "prefect.yaml", env=admin, timeout=60
    ).strip()
    m.run("prefect", "--no-prompt", "deploy", "--prefect-file", prefect_file, "--all", env=admin)

    # 5. two workers, with Prefect's two variables only
    in_recipe("prefect worker start --pool ppflow-pool")
    for name in ("worker-a", "worker-b"):
        environment = m.worker_env()
        assert not [k for k in environment if k.startswith("PPFLOW_")]
        m.start(name, "prefect", "worker", "start", "--pool", "ppflow-pool", env=environment)
    # the mail sink stands for the organization's SMTP server, configured by the same file
    sink = m.start("sink", "ppflow", "mail-sink", env=admin)

    # the coordinator's work, through the CLI on the administrator's machine
    app = bootstrap(Settings(database_url=database_url, portal=PortalSettings(signing_key=m.key)))
    try:
        factories.modules(app, "PP-101", "CONF-1")
        lead = factories.staff(app, role="front_line_manager")
        team = factories.team(app, lead)
        code = factories.referral(app, factories.staff(app))
        m.run("ppflow", "run", "onboard", code, "-p", f"team={team}", env=admin)
        for deployment, name, key, answer in [
            (
                "recruit-advisor",
                f"recruit/{code}",
                "screening",
                ("screening", "--outcome", "retained"),
            ),
            (
                "prepare-advisor",
                f"prepare/{code}",
                "training-1",
                ("training", "--module", "PP-101,CONF-1"),
            ),
            ("integrate-advisor", f"integrate/{team}", "match", ("match", "--advisor", code)),
        ]:
            m.suspended(deployment, name, key)
            subject = team if answer[0] == "match" else code
            m.run("ppflow", "answer", answer[0], subject, *answer[1:], env=admin)
        until(
            "the advisor is in the team",
            lambda: advisors.advisor_history(app.uow(), code)[-1].to_state == "active",
            timeout=150,
        )
        assert [t.to_state for t in advisors.advisor_history(app.uow(), code)] == ONBOARDED
    finally:
        app.dispose()

    # the schedule's dispatcher, run by a worker, sends the advisor's mail with its links
    wanted = {"invitation", "welcome", "introduction_advisor"}
    mails = until(
        "the advisor's e-mails reached the mail sink",
        lambda: (
            (
                found := {
                    s.header("X-Ppflow-Template"): s
                    for s in read_maildir(m.maildir)
                    if s.header("X-Ppflow-Recipient") == code
                }
            )
            and wanted <= set(found)
            and found
        ),
        timeout=120,
    )
    assert sink.poll() is None, m.log("sink")
    dispatches = [r for r in m.runs("dispatch-notifications") if r.state.is_completed()]
    assert dispatches and all(r.auto_scheduled for r in dispatches)
    now = datetime.now(UTC)
    checked_links = 0
    for template in sorted(wanted):
        found = re.findall(
            rf"{re.escape(PORTAL_URL)}/([sw])/([A-Za-z0-9_.-]+)", mails[template].text
        )
        assert found, f"no personal link in the {template} e-mail"
        for kind, segment in found:
            assert links.verify(m.key, kind, segment, now).subject
            with pytest.raises(links.LinkError, match="forged"):
                links.verify(DEVELOPMENT_SIGNING_KEY, kind, segment, now)
            checked_links += 1
    assert checked_links >= len(wanted)

    # both workers took runs, and no run of the schedule was started by both
    taken = [taken_by(m.log(name)) for name in ("worker-a", "worker-b")]
    assert taken[0] and taken[1], "both workers should have taken runs"
    assert not {str(r.id) for r in dispatches} & taken[0] & taken[1]
    with m.client() as client:
        for run in dispatches:  # and each ran once
            states = [s.type.value for s in client.read_flow_run_states(run.id)]
            assert states.count("RUNNING") == 1, run.name

    # a worker is stopped with SIGINT, as the recipe says
    assert "**Stop a worker with SIGINT**" in README.read_text(encoding="utf-8")
    for worker in [p for p in m.processes if p.name.startswith("worker")]:
        started = time.monotonic()
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)
        assert time.monotonic() - started < 15, f"{worker.name} took too long to stop"
