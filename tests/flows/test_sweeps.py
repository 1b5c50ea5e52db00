"""Scheduled sweeps are set-based: their Prefect task count does not grow with the pool."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import func, select

from ppflow.adapters.orm import NotificationRow
from ppflow.settings import get_settings
from ppflow_flows import runtime
from tests.seeding import seed_pool

pytestmark = pytest.mark.prefect


@pytest.fixture
def own_database(flow_app, tmp_path):
    """A database of its own, so that a large pool leaves the other flow tests alone."""
    previous = os.environ["PPFLOW_DATABASE_URL"]

    def use(name: str):
        os.environ["PPFLOW_DATABASE_URL"] = f"sqlite:///{tmp_path / name}"
        get_settings.cache_clear()
        runtime.application.cache_clear()
        app = runtime.application()
        app.upgrade()
        return app

    yield use
    runtime.application().dispose()
    os.environ["PPFLOW_DATABASE_URL"] = previous
    get_settings.cache_clear()
    runtime.application.cache_clear()


def task_runs_of(state) -> int:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    return len(runs)


def test_the_reminder_sweep_costs_the_same_task_runs_for_10_and_10000_advisors(own_database):
    from ppflow_flows.send_reminders import send_reminders

    counts, reports = {}, {}
    for size in (10, 10_000):
        app = own_database(f"sweep{size}.db")
        seed_pool(app, size, datetime.now(UTC))
        state = send_reminders(return_state=True)
        assert state.is_completed()
        reports[size] = state.result()
        counts[size] = task_runs_of(state)
        with app.session_factory() as session:
            digests = session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.template == "reminder_digest")
            )
        assert digests == 1  # one digest for the one coordinator, however many cases
    assert counts[10] == counts[10_000] == 1
    assert reports[10_000].total > 10 * reports[10].total
    stalled = reports[10_000].cases
    assert stalled["identified"] > 0 and stalled["invited"] > 0 and stalled["preparing"] > 0


def test_reminders_see_every_waiting_run_beyond_one_page_of_the_api(flow_app):
    """Prefect's API returns at most 200 runs at once; a coordinator's digest must still
    list every decision that waits."""
    from prefect import flow
    from prefect.states import Paused

    from ppflow_flows.send_reminders import waiting_decisions

    @flow(name="waits-for-a-decision")
    def waiting():
        return None

    marker = datetime.now(UTC).strftime("%H%M%S%f")
    with get_client(sync_client=True) as client:
        for n in range(205):
            code = f"PA-P{marker}{n:03d}"
            client.create_flow_run(
                waiting,
                name=f"recruit/{code}",
                parameters={"advisor": code, "team": f"QT-P{marker}"},
                tags=["stage:recruit"],
                state=Paused(pause_key="screening"),
            )
    found = {d.advisor for d in waiting_decisions() if d.advisor.startswith(f"PA-P{marker}")}
    assert len(found) == 205


def test_reminders_find_waiting_runs_by_their_tags_and_parameters_not_their_names(flow_app):
    """What a run waits on is read from its stage tag and its parameters: an integration
    waits on its team even when it names an advisor, and a run without a stage tag is no
    stage of ppflow, whatever its name says."""
    from prefect import flow
    from prefect.states import Paused

    from ppflow_flows.send_reminders import waiting_decisions

    @flow(name="waits-for-a-decision")
    def waiting():
        return None

    marker = datetime.now(UTC).strftime("%H%M%S%f")
    team, advisor, stranger = f"QT-T{marker}", f"PA-T{marker}", f"PA-U{marker}"
    with get_client(sync_client=True) as client:
        client.create_flow_run(
            waiting,
            name=f"integrate/{team}",
            parameters={"team": team, "advisor": advisor, "limit": 5},
            tags=["stage:integrate", f"team:{team}", "program:PG-T"],
            state=Paused(pause_key="match"),
        )
        client.create_flow_run(
            waiting,
            name=f"prepare/{advisor}",
            parameters={"advisor": advisor, "team": team},
            tags=["stage:prepare"],
            state=Paused(pause_key="training-1"),
        )
        client.create_flow_run(
            waiting,
            name=f"recruit/{stranger}",
            parameters={"advisor": stranger},
            state=Paused(pause_key="screening"),
        )
    found = {(d.advisor, d.kind, d.detail) for d in waiting_decisions() if marker in d.advisor}
    assert found == {(team, "decision", "integrate"), (advisor, "decision", "prepare")}
