"""Scale-out: the Prefect server on PostgreSQL, the deployments deployed to a process work
pool with `prefect deploy`, two workers sharing it, and the application database on
PostgreSQL. Every run is executed once, by one worker."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ppflow import resources
from ppflow.adapters.orm import TransitionRow
from ppflow.bootstrap import bootstrap
from ppflow.settings import Settings
from tests import factories
from tests.conftest import NO_POSTGRES, POSTGRES_URL

pytestmark = [pytest.mark.postgres, pytest.mark.prefect]
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
RUNS = 6


def taken_by(log: str) -> set[str]:
    """Runs a worker submitted and kept: a worker that loses the race for a run logs that
    it aborted its submission."""
    submitted = set(re.findall(r"submitting flow run '([0-9a-f-]{36})'", log))
    aborted = set(re.findall(r"Aborted submission of flow run '([0-9a-f-]{36})'", log))
    return submitted - aborted


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(*args: str, env: dict, timeout: float = 180) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def postgres_everything(tmp_path):
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    database = f"prefect_{uuid.uuid4().hex[:8]}"
    schema = f"app_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"{base}/{database}",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PPFLOW_DATABASE_URL": POSTGRES_URL,
        "PPFLOW_DATABASE_SCHEMA": schema,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, (
                    "the Prefect server on PostgreSQL never answered"
                )
                time.sleep(1)
        app = bootstrap(Settings(database_url=POSTGRES_URL, database_schema=schema))
        app.upgrade()
        yield env, app, processes, tmp_path
        app.dispose()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def test_two_workers_share_one_pool_and_run_each_flow_run_once(postgres_everything):
    env, app, processes, tmp_path = postgres_everything
    cli("work-pool", "create", "ppflow-pool", "--type", "process", env=env)
    cli("--no-prompt", "deploy", "--prefect-file", str(resources.prefect_file()), "--all", env=env)
    logs = []
    for name in ("worker-a", "worker-b"):
        log = tmp_path / f"{name}.log"
        logs.append(log)
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "prefect"),
                    "worker",
                    "start",
                    "--pool",
                    "ppflow-pool",
                    "--name",
                    name,
                    "--limit",
                    "2",
                ],
                env=env,
                cwd=REPO,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    lead = factories.staff(app, role="front_line_manager")
    teams = [factories.team(app, lead) for _ in range(RUNS)]
    run_ids = []
    for team in teams:
        out = cli("deployment", "run", "brief-team/brief-team", "-p", f"team={team}", env=env)
        run_ids.append(re.search(r"UUID: ([0-9a-f-]{36})", out).group(1))

    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        deadline = time.monotonic() + 240
        while True:
            runs = [client.read_flow_run(uuid.UUID(r)) for r in run_ids]
            if all(r.state and r.state.is_final() for r in runs):
                break
            assert time.monotonic() < deadline, [r.state.name for r in runs]
            time.sleep(2)
        assert all(r.state.is_completed() for r in runs), [r.state for r in runs]
        for run in runs:
            states = client.read_flow_run_states(run.id)
            assert [s.type.value for s in states].count("RUNNING") == 1, run.name

    with app.session_factory() as session:
        briefed = session.scalar(
            select(func.count())
            .select_from(TransitionRow)
            .where(TransitionRow.entity == "team", TransitionRow.to_state == "active")
        )
    assert briefed == RUNS  # each team briefed exactly once
    picked = [taken_by(log.read_text()) & set(run_ids) for log in logs]
    assert picked[0] and picked[1], "both workers should have taken runs"
    assert not picked[0] & picked[1], "a run was submitted by both workers"
    assert picked[0] | picked[1] == set(run_ids)
