"""``ppflow pay entries`` and ``ppflow pay void`` on a real database (SQLite, then
PostgreSQL): the reversal, the totals, the refusals, the repeat rule shared with the
import, and two voids of one entry at once."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ppflow.adapters.compensation import SqlCompensation
from ppflow.adapters.orm_compensation import ActivityLogRow
from ppflow.cli.compensation import pay_app
from ppflow.domain.commands import Meta
from ppflow.domain.errors import DuplicateError
from ppflow.services import compensation as pay_service
from tests.integration.test_compensation import World, later

runner = CliRunner()


@pytest.fixture
def pay(any_app):
    def invoke(*args: str, code: int = 0):
        result = runner.invoke(pay_app, list(args), obj=any_app)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def logged(any_app, pay) -> str:
    world = World(any_app)
    engagement, _ = world.engagement(rate=None)
    later(any_app, date(2026, 6, 1))
    pay("tier", "add", "meeting", "--kind", "hourly", "--amount", "25", "--from", "2026-01-01")
    pay("log", engagement, "--activity", "meeting", "--hours", "2", "--date", "2026-05-01")
    return engagement


def test_a_coordinator_voids_an_entry_and_the_books_keep_both_lines(any_app, pay, tmp_path):
    engagement = logged(any_app, pay)
    listed = pay("entries", engagement.lower())
    assert "2026-05-01" in listed and "meeting" in listed and "50.00" in listed

    out = pay("void", "1", "--reason", "logged on the wrong engagement")

    assert f"entry 1 voided by entry 2: -2 h and -50.00 on {engagement}" in out
    listed = pay("entries")
    assert "voided by 2" in listed and "voids 1: logged on the wrong" in listed
    with any_app.session_factory() as session:
        rows = session.scalars(select(ActivityLogRow).order_by(ActivityLogRow.id)).all()
    assert [(r.centihours, r.amount_cents, r.voids_id) for r in rows] == [
        (200, 5000, None),
        (-200, -5000, 1),
    ]
    assert rows[1].actor and rows[1].note == "logged on the wrong engagement"
    summary = pay("summary", "--year", "2026")
    assert "50.00" not in summary

    # the repeat rule no longer sees the voided entry, in the CLI and in the import alike
    sheet = tmp_path / "hours.csv"
    sheet.write_text(f"engagement,date,activity,hours\n{engagement},2026-05-01,meeting,2\n")
    assert "imported 1 of 1 row(s)" in pay("import", str(sheet))
    assert len(pay_service.list_entries(any_app.uow(), engagement)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("void", "1", "--reason", "again"), "entry 1 was already voided by entry 2"),
        (("void", "2", "--reason", "again"), "entry 2 is the reversal of entry 1"),
        (("void", "7", "--reason", "typo"), "there is no pay entry 7"),
        (("void", "1", "--reason", " "), "give the reason for voiding"),
    ],
)
def test_a_void_is_refused_with_a_message_and_changes_nothing(any_app, pay, args, message):
    logged(any_app, pay)
    pay("void", "1", "--reason", "wrong day")

    out = pay(*args, code=1)

    assert message in " ".join(out.split())
    assert len(pay_service.list_entries(any_app.uow())) == 2


def test_a_void_without_its_reason_or_of_no_number_is_a_usage_error(any_app, pay):
    logged(any_app, pay)
    assert "--reason" in pay("void", "1", code=2)
    assert "valid integer" in " ".join(pay("void", "one", "--reason", "x", code=2).split())
    assert "no pay entries" not in pay("entries")
    assert "no engagement 'EN-NOWHERE'" in " ".join(pay("entries", "EN-NOWHERE", code=1).split())


def test_two_voids_of_one_entry_at_once_write_one_reversal(any_app, pay, monkeypatch):
    """Both coordinators read the entry as not voided before either writes (a barrier
    after the read makes them overlap); the unique reversal lets one win."""
    logged(any_app, pay)
    barrier = threading.Barrier(2, timeout=20)
    read = SqlCompensation.entry

    def entry_then_wait(self, entry_id):
        found = read(self, entry_id)
        barrier.wait()
        return found

    monkeypatch.setattr(SqlCompensation, "entry", entry_then_wait)
    outcomes: list[str] = []

    def void(n: int) -> None:
        try:
            pay_service.void_entry(
                any_app.uow(), pay_service.VoidEntry(1, f"void {n}", Meta(f"c{n}")), any_app.clock
            )
            outcomes.append("voided")
        except DuplicateError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=void, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes)[-1] == "voided" and outcomes.count("voided") == 1, outcomes
    assert "voided meanwhile" in sorted(outcomes)[0]
    with any_app.session_factory() as session:
        reversals = session.scalars(
            select(ActivityLogRow.id).where(ActivityLogRow.voids_id == 1)
        ).all()
    assert len(reversals) == 1
