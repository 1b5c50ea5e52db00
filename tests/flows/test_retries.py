"""Tasks retry transient errors only: a bad file fails at once, a locked database is tried
again."""

from __future__ import annotations

import socket
import sqlite3
import time

import pytest
from aiosmtplib import SMTPServerDisconnected
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import create_engine, text
from sqlalchemy import exc as db

from ppflow.domain.errors import InvalidInputError
from ppflow_flows.tasks import is_transient

pytestmark = pytest.mark.prefect


def database_error(path, sql: str, locked: bool = True) -> db.OperationalError:
    """The OperationalError SQLAlchemy raises for ``sql`` on a SQLite file (that another
    connection holds locked, unless ``locked`` is false)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    if locked:
        holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    except db.OperationalError as error:
        return error
    finally:
        engine.dispose()
        holder.close()
    raise AssertionError(f"{sql} did not fail")


def refused_connection() -> ConnectionRefusedError:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError as error:
        return error
    raise AssertionError("nothing should listen on a port just released")


def test_only_transient_errors_are_retried(tmp_path):
    locked = database_error(tmp_path / "app.db", "SELECT * FROM t")
    assert "database is locked" in str(locked)
    assert is_transient(locked)
    assert is_transient(refused_connection())
    assert is_transient(SMTPServerDisconnected("Connection lost"))
    assert is_transient(db.DisconnectionError("connection dropped"))

    missing = database_error(tmp_path / "app.db", "SELECT * FROM missing", locked=False)
    assert "no such table" in str(missing) and not is_transient(missing)
    try:
        (tmp_path / "nowhere.csv").read_bytes()
    except FileNotFoundError as error:
        assert not is_transient(error)
    assert not is_transient(InvalidInputError("bad input"))
    assert not is_transient(ValueError("a bug"))


def task_runs_of(state):
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )


def test_a_csv_with_a_bad_header_fails_at_once_without_a_retry(flow_app, tmp_path):
    from ppflow_flows.identify_advisors import identify_advisors

    path = tmp_path / "referrals.csv"
    path.write_text("name,mail\nMarie Lavoie,marie@example.org\n", encoding="utf-8")
    started = time.monotonic()
    state = identify_advisors(str(path), "bad-header", return_state=True)
    elapsed = time.monotonic() - started
    assert state.is_failed()
    [run] = task_runs_of(state)
    assert run.state.is_failed() and run.run_count == 1
    assert elapsed < 5  # retried, it would wait 1 s and then 5 s more


def test_a_locked_database_is_tried_again(flow_app, tmp_path):
    from prefect import flow, task

    from ppflow_flows.tasks import DB

    attempts = []

    @task(**DB)
    def write():
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise database_error(tmp_path / "app.db", "INSERT INTO t VALUES (1)")
        return len(attempts)

    @flow(name="locked-database-probe")
    def probe():
        return write(return_state=True)

    state = probe()
    assert state.is_completed() and state.result() == 2
    assert attempts[1] - attempts[0] >= 1  # after the first retry delay
