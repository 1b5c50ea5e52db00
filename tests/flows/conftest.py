"""One real Prefect test server for the whole session, and one ppflow database for the
flows that run against it (each test makes its own advisors and teams)."""

from __future__ import annotations

import os
import time
from concurrent.futures import Future

import pytest

from tests import factories


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def flow_app(prefect_server, tmp_path_factory):
    """The ppflow application the flows use (settings from the environment, read once)."""
    from ppflow.settings import get_settings
    from ppflow_flows import runtime

    path = tmp_path_factory.mktemp("flows") / "ppflow.db"
    os.environ["PPFLOW_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["PPFLOW_DECISION_POLL_SECONDS"] = "1"
    # no waiting run may outlive a broken test by more than a few minutes
    os.environ["PPFLOW_DECISION_TIMEOUT_HOURS"] = "0.05"
    get_settings.cache_clear()
    runtime.application.cache_clear()
    app = runtime.application()
    app.upgrade()
    factories.modules(app, "PP-101", "CONF-1")
    yield app
    app.dispose()
    runtime.application.cache_clear()
    get_settings.cache_clear()
    del os.environ["PPFLOW_DATABASE_URL"]


@pytest.fixture(scope="session")
def office(tmp_path_factory):
    """A partnership office served as ``make serve`` does (test_production.py's Office),
    shared by the production tests."""
    from tests.flows.test_production import opened_office

    office = opened_office(tmp_path_factory.mktemp("office"))
    try:
        yield office
    finally:
        office.close()


# The stages an advisor passes through, in order, from referral to a place in a QI team.
ONBOARDED = ["identified", "invited", "screening", "recruited", "preparing", "ready", "active"]


def in_thread(fn, *args, **kwargs) -> Future:
    """Run a flow the way a worker would, while the test plays the coordinator."""
    from ppflow_flows.runtime import in_thread as run_in_thread

    return run_in_thread(fn, *args, **kwargs)


def flow_runs(name: str):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )


def wait_until_paused(name: str, pause_key: str | None = None, timeout: float = 60):
    """Block until the run called ``name`` waits for a person (optionally at one key)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in flow_runs(name):
            paused = run.state is not None and run.state.is_paused()
            if paused and pause_key in (None, run.state.state_details.pause_key):
                return run
        time.sleep(0.3)
    raise AssertionError(f"no paused run named {name} after {timeout}s")


def invitations_recorded(app, code: str) -> tuple[int, int]:
    """How many times ``code`` was moved to invited, and how many invitations were queued."""
    from sqlalchemy import func, select

    from ppflow.adapters.orm import NotificationRow, TransitionRow

    with app.session_factory() as session:
        invited = session.scalar(
            select(func.count())
            .select_from(TransitionRow)
            .where(TransitionRow.code == code, TransitionRow.to_state == "invited")
        )
        invitations = session.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.recipient_code == code, NotificationRow.template == "invitation")
        )
    return invited, invitations
