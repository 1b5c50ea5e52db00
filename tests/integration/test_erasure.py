"""Erasure that erases: after `ppflow advisor erase`, nothing readable of the person is left
in a full dump of the database, in its files on disk, nor in the mail sink's Maildir; the
erasure itself is recorded, and the pseudonymous history stays."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import JSON, select, text, update

from ppflow.adapters.orm import AdvisorRow, ErasureRow, TransitionReasonRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors, integration
from ppflow.services.privacy import erase_advisor, export_advisor
from tests import factories
from tests.integration.portal_helpers import client_for, mailed_link, response_row

NAME, SURNAME = "Zéphyrine", "Quatremains"
EMAIL, PHONE = "zephyrine.quatremains@example.org", "5145550199"
REASON = f"{NAME} {SURNAME} called from 514-555-0199"
SHARED = "shared lived experience: rheumatology"  # a match proposal's reason
SECRETS = (NAME, SURNAME, "zephyrine", "quatremains", PHONE, "555-0199", "lupus", SHARED)


NEW_EMAIL = "z.quatremains@example.net"


def _someone_with_a_history(app, portal=None) -> str:
    """A person taken through referral, a match proposal, a correction, the survey portal,
    pay and expenses, a coordinator's decision, and withdrawal, with their mail sent."""
    from ppflow.domain.commands import EditAdvisor
    from ppflow.domain.compensation import CompensationPolicy
    from ppflow.services import compensation as pay
    from ppflow.services import corrections, decisions, feedback

    factories.modules(app, "PP-101")
    factories.staff(app, role="coordinator")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead, tags=("rheumatology",))
    code = factories.ready_advisor(
        app,
        factories.staff(app),
        first_name=NAME,
        last_name=SURNAME,
        email=EMAIL,
        phone="(514) 555-0199",
        context="lives with lupus",
        tags=("rheumatology",),
    )
    fix = EditAdvisor(code, email=NEW_EMAIL, meta=Meta("cli:coordinator", f"{NAME}: {EMAIL}"))
    corrections.edit_advisor(app.uow(), fix, app.clock)
    integration.brief_team(app.uow(), team, Meta("cli:coordinator"), app.clock)
    proposed = integration.propose_matches(app.uow(), team, clock=app.clock)
    assert any(SHARED in reason for m in proposed for reason in m.reasons), "no shared reason"
    engagement = integration.confirm_match(
        app.uow(), team, code, Meta("cli:coordinator"), hourly_rate=25.0, clock=app.clock
    ).engagement
    decisions.record_decision(
        app.uow(), "run-1", "screening", code, {"reason": REASON}, "cli:coordinator", app.clock
    )
    day, policy = app.clock.now().date(), CompensationPolicy()
    note = Meta("cli:coordinator")
    hours = pay.LogHours(engagement, day, "meeting", "2.5", note=f"{SURNAME} drove in", meta=note)
    pay.log_hours(app.uow(), hours, policy, app.clock)
    spent = pay.RecordExpense(
        engagement, day, "parking", "12.00", receipt=f"{SURNAME} parking", meta=note
    )
    pay.record_expense(app.uow(), spent, policy, app.clock)
    feedback.open_feedback(
        app.uow(), engagement, Meta("t"), clock=app.clock, portal_url=app.settings.portal_url
    )
    if portal is not None:  # an answer through the link, naming them
        page = portal.post(
            mailed_link(app, code),
            data={
                "com_information": "4",
                "open_went_well": f"{SURNAME} felt heard",
                "partial": "yes",
            },
        )
        assert page.status_code == 200, page.text
    integration.end_engagement(app.uow(), engagement, Meta("cli:coordinator"), clock=app.clock)
    notes = f"{SURNAME} led the huddle"
    feedback.evaluate_engagement(app.uow(), engagement, Meta("t"), notes, clock=app.clock)
    app.dispatch_pending()  # the welcome, the introductions and the survey reach the sink
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
        # every table of the schema, its indexes, its TOAST table and the TOAST's index
        files = connection.scalars(
            text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s "
                "UNION SELECT pg_relation_filepath(t.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_class t ON t.oid = c.reltoastrelid "
                "OR t.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = c.reltoastrelid) "
                "WHERE n.nspname = :s"
            ),
            {"s": schema},
        ).all()
        for relative in filter(None, files):
            path = Path(directory, relative)
            # where the server's files are not readable here, the dump must do
            with contextlib.suppress(OSError):
                for part in [path, *path.parent.glob(path.name + ".*")]:
                    raw += part.read_bytes().decode("utf-8", "replace")
    return dump + raw


def _maildir_text(root: Path) -> str:
    return "".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


@pytest.fixture
def app(any_app, smtp_server):
    any_app.settings = any_app.settings.model_copy(update={"smtp": smtp_server.settings()})
    return any_app


def _hits(app, maildir: Path) -> dict[tuple[str, str], int]:
    left = {"database": _database_text(app), "maildir": _maildir_text(maildir)}
    # as written, and as JSON writes it ("Z\\u00e9phyrine" in a JSON column)
    secrets = {*SECRETS, *(json.dumps(s)[1:-1] for s in SECRETS)}
    return {
        (where, secret): found.count(secret)
        for where, found in left.items()
        for secret in secrets
        if secret in found
    }


def test_after_erasure_nothing_readable_of_the_person_is_left(app, smtp_server):
    portal = client_for(app)
    code = _someone_with_a_history(app, portal)
    other = factories.referral(app, factories.staff(app))  # someone else, whose log stays
    maildir = app.maildir
    before = _database_text(app) + _maildir_text(maildir)
    for secret in (NAME, SURNAME, "555-0199", REASON, EMAIL, SHARED, f"{SURNAME} felt heard"):
        assert secret in before or json.dumps(secret)[1:-1] in before, f"nothing: {secret}"
    assert f"X-Ppflow-Recipient: {code}" in _maildir_text(maildir)
    history = [(t.from_state, t.to_state, t.at) for t in advisors.advisor_history(app.uow(), code)]
    link = mailed_link(app, code)

    erase_advisor(app.uow(), code, app.clock, actor="cli:privacy-officer")

    assert _hits(app, maildir) == {}
    assert f"X-Ppflow-Recipient: {code}" not in _maildir_text(maildir)  # codes elsewhere stay
    kept = [(t.from_state, t.to_state, t.at) for t in advisors.advisor_history(app.uow(), code)]
    assert kept == history  # codes, states and times stay
    with app.session_factory() as session:
        [entry] = session.scalars(select(ErasureRow)).all()
        kept_reasons = session.scalars(select(TransitionReasonRow.reason)).all()
    assert [t.reason for t in advisors.advisor_history(app.uow(), other)] == kept_reasons
    assert (entry.advisor_code, entry.actor) == (code, "cli:privacy-officer")
    assert {"contact", "reasons", "messages", "corrections", "match_proposals"} <= set(
        entry.categories
    )
    exported = export_advisor(app.uow(), code, app.clock)
    assert exported["erasures"][0]["actor"] == "cli:privacy-officer"

    # their link now says why it takes nothing, and posting to it stores nothing
    page = portal.post(link, data={"com_information": "2", "open_went_well": f"{NAME} again"})
    assert page.status_code == 410 and "renseignements personnels ont été effacés" in page.text
    assert NAME not in page.text and SURNAME not in page.text
    english = portal.get(link + "?lang=en")
    assert english.status_code == 410 and "personal information has been erased" in english.text
    assert response_row(app, code).answers == {"erased": True}
    assert _hits(app, maildir) == {}


def test_a_second_erasure_removes_what_came_in_after_the_first(app):
    """Erasing again is not a no-op: whatever reached the person's rows since the first
    erasure (here an answer written by a portal that did not yet refuse) goes too."""
    from ppflow.adapters.orm import SurveyRequestRow

    portal = client_for(app)
    code = _someone_with_a_history(app, portal)
    erase_advisor(app.uow(), code, app.clock)
    late = {"open_went_well": f"{NAME} wrote this after the erasure"}
    with app.session_factory.begin() as session:
        session.execute(
            update(SurveyRequestRow)
            .where(SurveyRequestRow.respondent_code == code)
            .values(answers=late)
        )
    assert NAME in json.dumps(export_advisor(app.uow(), code, app.clock), ensure_ascii=False)

    erase_advisor(app.uow(), code, app.clock)

    exported = json.dumps(export_advisor(app.uow(), code, app.clock), ensure_ascii=False)
    assert NAME not in exported and NAME not in _database_text(app)
    assert len(export_advisor(app.uow(), code, app.clock)["erasures"]) == 2


def test_every_personal_column_is_exported_erased_and_compacted(app):
    """The declaration of personal columns (``info`` in the ORM) is the one list: a marker
    written in every declared column of the person's rows shows in their export, and is in
    no database file after erasure. A table with a personal column that the export, the
    erasure or the compaction cannot handle fails here."""
    from ppflow.adapters.orm import personal_columns, personal_tables, rows_about
    from ppflow.adapters.privacy import EXPORT_SECTIONS, compacted_tables

    tables = {table.name for table in personal_tables()}
    assert tables >= {"contacts", "corrections", "match_proposals", "survey_requests"}
    assert set(compacted_tables()) == tables
    assert set(EXPORT_SECTIONS) >= tables, f"no export section for {tables - set(EXPORT_SECTIONS)}"

    code = _someone_with_a_history(app, client_for(app))
    with app.session_factory() as session:
        advisor_id = session.scalar(select(AdvisorRow.id).where(AdvisorRow.code == code))
    markers = {}
    with app.session_factory.begin() as session:
        for table, column in personal_columns():
            marker = f"mark{len(markers):02d}x{table.name}x{column.name}"
            value = {"note": marker} if isinstance(column.type, JSON) else marker
            written = session.execute(
                update(table).where(rows_about(table, [advisor_id])).values({column.name: value})
            ).rowcount
            assert written, f"the history has no row of {table.name} about the person"
            markers[(table.name, column.name)] = marker
    exported = json.dumps(export_advisor(app.uow(), code, app.clock))
    missing = [where for where, marker in markers.items() if marker not in exported]
    assert missing == [], f"not in the export: {missing}"

    erase_advisor(app.uow(), code, app.clock)

    left = _database_text(app)
    kept = [where for where, marker in markers.items() if marker in left]
    assert kept == [], f"still in the database files after erasure: {kept}"


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
    data = export_advisor(app.uow(), code, app.clock)
    assert [(h["engagement"], h["centihours"]) for h in data["hours"]] == [(engagement, 250)]
    assert [(e["kind"], e["amount_cents"]) for e in data["expenses"]] == [("parking", 1200)]
