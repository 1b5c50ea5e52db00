"""Erasure that erases: after `ppflow advisor erase`, nothing readable of the person is left
in a full dump of the database, in its files on disk, nor in the mail sink's Maildir; the
erasure itself is recorded, and the pseudonymous history stays."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ppflow.adapters.orm import ErasureRow, TransitionReasonRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors, integration
from ppflow.services.privacy import erase_advisor, export_advisor
from tests import factories

NAME, SURNAME = "Zéphyrine", "Quatremains"
EMAIL, PHONE = "zephyrine.quatremains@example.org", "5145550199"
REASON = f"{NAME} {SURNAME} called from 514-555-0199"
SECRETS = (NAME, SURNAME, "zephyrine", "quatremains", PHONE, "555-0199", "lupus")


def _someone_with_a_history(app) -> str:
    factories.modules(app, "PP-101")
    factories.staff(app, role="coordinator")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    code = factories.ready_advisor(
        app,
        factories.staff(app),
        first_name=NAME,
        last_name=SURNAME,
        email=EMAIL,
        phone="(514) 555-0199",
        context="lives with lupus",
    )
    integration.brief_team(app.uow(), team, Meta("cli:coordinator"), app.clock)
    integration.confirm_match(app.uow(), team, code, Meta("cli:coordinator"), clock=app.clock)
    app.dispatch_pending()  # the welcome and the introductions reach the sink
    advisors.withdraw_advisor(app.uow(), code, Meta("cli:coordinator", REASON), app.clock)
    app.dispatch_pending()
    return code


def _database_text(app) -> str:
    """Everything the database holds, as a dump and as the raw bytes of its files."""
    url = app.engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        with sqlite3.connect(path) as connection:
            dump = "\n".join(connection.iterdump())
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
        return dump + raw.decode("utf-8", "replace")
    schema = app.settings.database_schema
    dump = subprocess.run(
        ["pg_dump", "-h", url.host, "-U", url.username, "-n", schema, url.database],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    raw = ""
    with app.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("CHECKPOINT"))
        directory = connection.scalar(text("SHOW data_directory"))
        tables = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).all()
        for table in tables:
            relative = connection.scalar(
                text("SELECT pg_relation_filepath(:t)"), {"t": f'"{schema}"."{table}"'}
            )
            # where the server's files are not readable here, the dump must do
            with contextlib.suppress(OSError):
                raw += Path(directory, relative).read_bytes().decode("utf-8", "replace")
    return dump + raw


def _maildir_text(root: Path) -> str:
    return "".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


@pytest.fixture
def app(any_app, smtp_server):
    any_app.settings = any_app.settings.model_copy(update={"smtp": smtp_server.settings()})
    return any_app


def test_after_erasure_nothing_readable_of_the_person_is_left(app, smtp_server):
    code = _someone_with_a_history(app)
    other = factories.referral(app, factories.staff(app))  # someone else, whose log stays
    maildir = app.maildir
    before = _database_text(app) + _maildir_text(maildir)
    assert all(secret in before for secret in (NAME, SURNAME, "555-0199")), "nothing to erase"
    assert REASON in before and f"X-Ppflow-Recipient: {code}" in _maildir_text(maildir)
    history = [(t.from_state, t.to_state, t.at) for t in advisors.advisor_history(app.uow(), code)]

    erase_advisor(app.privacy(), code, app.clock, actor="cli:privacy-officer")

    left = {"database": _database_text(app), "maildir": _maildir_text(maildir)}
    hits = {
        (where, secret): found.count(secret)
        for where, found in left.items()
        for secret in SECRETS
        if secret in found
    }
    assert hits == {}
    assert f"X-Ppflow-Recipient: {code}" not in left["maildir"]  # codes elsewhere may stay
    kept = [(t.from_state, t.to_state, t.at) for t in advisors.advisor_history(app.uow(), code)]
    assert kept == history  # codes, states and times stay
    with app.session_factory() as session:
        [entry] = session.scalars(select(ErasureRow)).all()
        kept_reasons = session.scalars(select(TransitionReasonRow.reason)).all()
    assert [t.reason for t in advisors.advisor_history(app.uow(), other)] == kept_reasons
    assert (entry.advisor_code, entry.actor) == (code, "cli:privacy-officer")
    assert {"contact", "reasons", "messages"} <= set(entry.categories)
    exported = export_advisor(app.privacy(), code, app.clock)
    assert exported["erasures"][0]["actor"] == "cli:privacy-officer"


def test_the_export_gives_pay_and_expenses(app):
    from ppflow.domain.compensation import CompensationPolicy
    from ppflow.services import compensation as pay

    factories.modules(app, "PP-101")
    code = factories.ready_advisor(app, factories.staff(app))
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    engagement = integration.confirm_match(
        app.uow(), team, code, Meta("t"), hourly_rate=25.0, clock=app.clock
    ).engagement
    day = app.clock.now().date()
    policy = CompensationPolicy()
    hours = pay.LogHours(engagement, day, "meeting", "2.5", meta=Meta("t"))
    pay.log_hours(app.uow(), hours, policy, app.clock)
    expense = pay.RecordExpense(engagement, day, "parking", "12.00", meta=Meta("t"))
    pay.record_expense(app.uow(), expense, policy, app.clock)
    data = export_advisor(app.privacy(), code, app.clock)
    assert [(h["engagement"], h["centihours"]) for h in data["hours"]] == [(engagement, 250)]
    assert [(e["kind"], e["amount_cents"]) for e in data["expenses"]] == [("parking", 1200)]
