"""Consent withdrawal, portability, erasure, the append-only log and the incident register,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from ppflow.adapters.orm import ContactRow, EngagementRow, NotificationRow, TransitionRow
from ppflow.domain.commands import Meta
from ppflow.domain.errors import InvalidInputError
from ppflow.services import advisors, integration, queries
from ppflow.services.privacy import (
    RecordIncident,
    erase_advisor,
    export_advisor,
    list_incidents,
    record_incident,
)
from tests import factories

META = Meta("cli:coordinator")


def placed(app):
    factories.modules(app, "PP-101")
    factories.staff(app, role="coordinator")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    code = factories.ready_advisor(
        app,
        factories.staff(app),
        first_name="Solène",
        last_name="Portabilité",
        context="lives with lupus",
    )
    integration.brief_team(app.uow(), team, META, app.clock)
    engagement = integration.confirm_match(app.uow(), team, code, META, clock=app.clock)
    return code, team, engagement.engagement


def test_withdrawal_ends_engagements_cancels_mail_and_tells_the_coordinator(any_app):
    app = any_app
    code, team, engagement = placed(app)
    with app.session_factory.begin() as session:  # an e-mail still waiting to go out
        session.execute(
            update(NotificationRow)
            .where(NotificationRow.recipient_code == code, NotificationRow.template == "welcome")
            .values(status="pending")
        )
    change = advisors.withdraw_advisor(app.uow(), code, Meta("portal", "moving away"), app.clock)
    assert (change.from_state, change.to_state) == ("active", "withdrawn")
    with app.session_factory() as session:
        stage = session.scalar(select(EngagementRow.stage).where(EngagementRow.code == engagement))
        pending = session.scalars(
            select(NotificationRow.status).where(
                NotificationRow.recipient_code == code, NotificationRow.status == "pending"
            )
        ).all()
        notice = session.scalar(
            select(NotificationRow).where(NotificationRow.template == "advisor_withdrawn")
        )
    assert stage == "ended_early" and pending == []
    assert notice.context == {"advisor": code, "stage": "active"}
    assert notice.transition_id is not None
    assert queries.get_team(app.uow(), team).active_advisors == 0
    with app.uow() as uow:
        assert all(c.withdrawn_at for c in uow.advisors.consents(code))


def test_an_advisor_gets_all_their_data_out_as_json(any_app):
    app = any_app
    code, team, engagement = placed(app)
    data = export_advisor(app.uow(), code, app.clock)
    again = json.loads(json.dumps(data))  # plain, structured data
    assert again["format"] == "ppflow-advisor-export/1"
    assert again["contact"]["last_name"] == "Portabilité"
    assert again["contact"]["context"] == "lives with lupus"
    assert [h["to_state"] for h in again["history"]][-1] == "active"
    assert {c["purpose"] for c in again["consents"]} == {"participation", "confidentiality"}
    assert again["engagements"][0]["code"] == engagement
    assert {m["template"] for m in again["messages"]} >= {"invitation", "welcome"}


def test_erasure_removes_personal_data_and_keeps_the_history(any_app):
    app = any_app
    code, team, engagement = placed(app)
    before = advisors.advisor_history(app.uow(), code)
    erase_advisor(app.uow(), code, app.clock)
    with app.session_factory() as session:
        contact = session.scalar(select(ContactRow))
    assert (contact.first_name, contact.email, contact.context) == ("[erased]", "", "")
    dumped = json.dumps(export_advisor(app.uow(), code, app.clock), ensure_ascii=False)
    for secret in ("Solène", "Portabilité", "lupus"):
        assert secret not in dumped
    after = advisors.advisor_history(app.uow(), code)  # the log stays, its free text goes
    assert [replace(t, reason=None) for t in before] == after
    assert queries.get_team(app.uow(), team).active_advisors == 1  # aggregates stay right


def test_the_transition_log_is_append_only_on_postgresql(any_app):
    app = any_app
    code = factories.referral(app, factories.staff(app))
    if app.engine.dialect.name != "postgresql":
        pytest.skip("the database trigger is PostgreSQL's; SQLite relies on the code path")
    for statement in ("UPDATE transitions SET to_state = 'alumni'", "DELETE FROM transitions"):
        with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as c:
            c.execute(text(statement))
    with app.session_factory() as session:
        assert session.scalars(select(TransitionRow.code)).all() == [code]


def test_the_incident_register_keeps_what_law_25_asks_for_five_years(any_app):
    app = any_app
    cmd = RecordIncident(
        date(2026, 2, 27),
        "an e-mail sent to the wrong team lead",
        "name and code of one advisor",
        1,
        "moderate",
        "recalled the message; lead confirmed deletion",
        "cli:coordinator",
    )
    number = record_incident(app.uow(), cmd, app.clock)
    [incident] = list_incidents(app.uow())
    assert incident["id"] == number and incident["keep_until"] == "2031-02-27"
    assert incident["recorded_by"] == "cli:coordinator"
    with pytest.raises(InvalidInputError, match="severity 'huge'.*future"):
        record_incident(
            app.uow(),
            RecordIncident(
                app.clock.now().date() + timedelta(days=3), "x", "y", 1, "huge", "z", "c"
            ),
            app.clock,
        )
    assert len(list_incidents(app.uow())) == 1
