"""The events managers see in the Prefect UI's event feed: one for every move of every
lifecycle that a flow makes, titled in words, on a resource named by the code only."""

from __future__ import annotations

import re
import time

import pytest
from prefect import get_client
from prefect.events.filters import EventFilter, EventResourceFilter

from ppflow.services import queries
from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused
from tests.flows.test_lifecycle_flows import answer, onboard_answering

pytestmark = pytest.mark.prefect


def ui_title(event: str) -> str:
    """The title the Prefect UI gives an event (its event feed and event page): the name
    without a ``prefect.`` prefix, dots, dashes and underscores as spaces, lower case with
    a capital first letter."""
    label = re.sub(r"^prefect(-cloud)?\.", "", event)
    label = re.sub(r"[_.-]", " ", label).lower()
    return label[:1].upper() + label[1:]


def events_about(entity: str, code: str, count: int, timeout: float = 30) -> list:
    """The events on ``ppflow.<entity>.<code>``, oldest first, once ``count`` have arrived."""
    wanted = EventFilter(resource=EventResourceFilter(id=[f"ppflow.{entity}.{code}"]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            found = list(client.read_events(filter=wanted, limit=50).events)
            if len(found) >= count or time.monotonic() > deadline:
                return sorted(found, key=lambda e: e.occurred)
            time.sleep(0.5)


def test_the_move_from_invited_to_screening_has_its_event_named_in_words(flow_app):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    running = in_thread(recruit_advisor, code)
    wait_until_paused(f"recruit/{code}", "screening")
    answer("screening", code, "--outcome", "retained")
    assert running.result(timeout=60) == "recruited"

    events = events_about("advisor", code, 3)
    names = ["advisor.invited", "advisor.screening", "advisor.recruited"]
    assert [e.event for e in events] == names
    screening = events[1]
    assert screening.resource["prefect.resource.name"] == code
    assert screening.payload["from"] == "invited" and screening.payload["to"] == "screening"
    assert [ui_title(e.event) for e in events] == [
        "Advisor invited",
        "Advisor screening",
        "Advisor recruited",
    ]
    # the resource names the advisor by the code only
    assert {e.resource["prefect.resource.name"] for e in events} == {code}
    assert set(events[0].resource.keys()) == {"prefect.resource.id", "prefect.resource.name"}


def test_every_move_an_onboarding_makes_has_one_event(flow_app):
    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("cancer",))
    code = factories.referral(flow_app, factories.staff(flow_app))
    assert onboard_answering(code, team) == "active"

    # the referral was registered outside Prefect; every later move was a flow's
    moves = queries.transitions(flow_app.uow(), "advisor", code)[1:]
    events = events_about("advisor", code, len(moves))
    assert [e.event for e in events] == [f"advisor.{m.to_state}" for m in moves]
    assert [(e.payload["from"], e.payload["to"]) for e in events] == [
        (m.from_state, m.to_state) for m in moves
    ]
    [engagement] = queries.list_engagements(flow_app.uow(), advisor=code)
    placed = events_about("engagement", engagement.code, 2)
    assert [e.event for e in placed] == ["engagement.proposed", "engagement.active"]
    assert {e.resource["prefect.resource.name"] for e in placed} == {engagement.code}
    team_events = events_about("team", team, 1)
    assert [e.event for e in team_events] == ["team.active"]
    assert ui_title("engagement.ended_early") == "Engagement ended early"


def test_the_matches_table_has_short_cells_that_read_as_sentences(flow_app):
    import json

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from ppflow_flows.integrate_advisor import integrate_advisor

    lead = factories.staff(flow_app, role="front_line_manager")
    team = factories.team(flow_app, lead, tags=("cancer",))
    code = factories.ready_advisor(flow_app, factories.staff(flow_app))
    running = in_thread(integrate_advisor, team, code)
    wait_until_paused(f"integrate/{team}", "match")
    answer("match", team, "--reject")
    assert running.result(timeout=60) is None
    key = f"matches-{team.lower()}"
    with get_client(sync_client=True) as client:
        [table] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    rows = [row for row in json.loads(table.data) if row["advisor"] == code]
    assert len(rows) == 4  # language, lived experience, availability, load
    assert {row["score"] for row in rows} == {sum(int(row["points"]) for row in rows)}
    for row in rows:
        assert len(row["why"]) <= 60 and row["why"][0].isupper() and row["why"].endswith(".")
        assert "(s)" not in row["why"]
    assert "Is in no other team yet." in [row["why"] for row in rows]


def test_moves_made_from_the_command_line_get_their_events_from_the_dispatcher(flow_app):
    """The command line does not talk to Prefect: the dispatcher announces its moves, a
    minute after they were made, once each, and never as a step of an onboarding."""
    from datetime import timedelta

    from sqlalchemy import select
    from typer.testing import CliRunner

    from ppflow import cli
    from ppflow.adapters.orm import TransitionRow
    from ppflow_flows.dispatch_notifications import dispatch_notifications

    code = factories.referral(flow_app, factories.staff(flow_app))
    for args in (["hold", code, "--reason", "moving house"], ["resume", code]):
        result = CliRunner().invoke(cli.app, ["advisor", *args])
        assert result.exit_code == 0, result.output
    dispatch_notifications()
    assert events_about("advisor", code, 1, timeout=3) == []  # not a minute old yet
    with flow_app.session_factory() as session, session.begin():  # made two minutes ago
        for row in session.scalars(select(TransitionRow).where(TransitionRow.code == code)):
            row.at -= timedelta(minutes=2)

    dispatch_notifications()
    dispatch_notifications()

    events = events_about("advisor", code, 3)
    assert [e.event for e in events] == [
        "advisor.identified",
        "advisor.on_hold",
        "advisor.identified",
    ]
    assert [ui_title(e.event) for e in events][1] == "Advisor on hold"
    assert all(e.resource["prefect.resource.name"] == code for e in events)
    roles = {r.get("prefect.resource.role") for e in events for r in e.related}
    assert "onboarding" not in roles  # no onboarding stage starts from them
    assert events[1].payload == {"from": "identified", "to": "on_hold", "team": ""}
    time.sleep(2)
    assert len(events_about("advisor", code, 4, timeout=2)) == 3  # once each
