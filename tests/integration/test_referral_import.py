"""Importing referrals from CSV: every kind of bad row is reported with its line, and
nothing is imported unless the coordinator asks for the good rows only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow import cli
from ppflow.adapters.orm import AdvisorRow, ContactRow
from ppflow.domain.commands import Meta
from ppflow.services.referral_import import CsvFormatError, import_referrals
from ppflow.settings import get_settings
from tests import factories

HEADER = "first_name,last_name,email,language,referred_by,phone,tags,availability_hours,program"


def rows(referrer: str, known_email: str) -> list[tuple[str, str | None]]:
    """(CSV line, expected problem or None); the file's line number is the index + 2."""
    return [
        (f"Alice,Good,alice@example.org,fr,{referrer},514-555-0101,cancer;caregiver,6,", None),
        (f",Nofirst,nofirst@example.org,fr,{referrer},,,,", "first name is required"),
        (f"Bad,Mail,bad-mail@,fr,{referrer},,,,", "is not a valid address"),
        (f"Bad,Lang,lang@example.org,de,{referrer},,,,", "language 'de' is not one of fr, en"),
        ("Who,Referred,who@example.org,fr,ST-NOBODY,,,,", "referrer 'ST-NOBODY' is not a known"),
        (f"Dup,File,ALICE@example.org,en,{referrer},,,,", "same e-mail as line 2"),
        (f"Dup,Phone,dphone@example.org,en,{referrer},(514) 555-0101,,,", "same phone as line 2"),
        (f"In,Pool,{known_email},fr,{referrer},,,,", "e-mail already in the pool as PA-"),
        (f"Bad,Hours,hours@example.org,fr,{referrer},,,lots,", "is not a whole number"),
        (f"Bad,Program,prog@example.org,fr,{referrer},,,,NOPE", "program 'NOPE' does not exist"),
        (f"Too,Many,many@example.org,fr,{referrer},,,,,extra", "more fields than the header"),
        (f"Ctl,Char\x07,ctl@example.org,fr,{referrer},,,,", "control characters in last_name"),
        (f"Long,{'x' * 2001},long@example.org,fr,{referrer},,,,", "longer than 2000"),
        (f"Bad,Phone,phone@example.org,fr,{referrer},12,,,", "phone '12' is not a phone number"),
        (f"Bob,Good,bob@example.org,en,{referrer},,cardiac,4,", None),
    ]


@pytest.fixture
def pool(any_app):
    referrer = factories.staff(any_app)
    known = "already@example.org"
    factories.referral(any_app, referrer, email=known)
    return any_app, referrer, known


def csv_bytes(lines) -> bytes:
    return ("\n".join([HEADER, *[line for line, _ in lines]]) + "\n").encode("utf-8")


def advisors_count(app) -> int:
    with app.session_factory() as session:
        return session.scalar(select(func.count()).select_from(AdvisorRow))


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(pool):
    app, referrer, known = pool
    lines = rows(referrer, known)
    report = import_referrals(app.uow(), csv_bytes(lines), Meta("test"), clock=app.clock)
    expected = {n + 2: problem for n, (_, problem) in enumerate(lines) if problem}
    assert {p.line for p in report.problems} == set(expected)
    for problem in report.problems:
        assert expected[problem.line] in problem.reason, (problem.line, problem.reason)
    assert report.imported == []
    assert advisors_count(app) == 1


def test_skip_invalid_imports_only_the_good_rows(pool):
    app, referrer, known = pool
    progress = []
    report = import_referrals(
        app.uow(),
        csv_bytes(rows(referrer, known)),
        Meta("test"),
        skip_invalid=True,
        clock=app.clock,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert len(report.imported) == 2
    assert progress[-1] == (2, 2)
    with app.session_factory() as session:
        emails = set(session.scalars(select(ContactRow.email)))
    assert emails == {known, "alice@example.org", "bob@example.org"}


def test_a_file_that_is_not_utf8_or_lacks_columns_is_refused_whole(sqlite_app):
    latin1 = (HEADER + "\nÉlise,Côté,e@example.org,fr,ST-X,,,,\n").encode("latin-1")
    with pytest.raises(CsvFormatError, match="not UTF-8 .*line 2"):
        import_referrals(sqlite_app.uow(), latin1, Meta("test"))
    with pytest.raises(CsvFormatError, match="lacks the column.*referred_by"):
        import_referrals(sqlite_app.uow(), b"first_name,last_name,email,language\n", Meta("test"))


def test_the_cli_prints_each_bad_row_and_exits_non_zero(pool, tmp_path, monkeypatch):
    app, referrer, known = pool
    if app.engine.dialect.name != "sqlite":
        pytest.skip("the CLI test runs once, on the SQLite file")
    monkeypatch.setenv("PPFLOW_DATABASE_URL", str(app.engine.url))
    get_settings.cache_clear()
    cli.get_app.cache_clear()
    path = tmp_path / "referrals.csv"
    path.write_bytes(csv_bytes(rows(referrer, known)))
    result = CliRunner().invoke(cli.app, ["advisor", "import", str(path)])
    assert result.exit_code == 1
    assert "13 bad row(s)" in result.output and "nothing imported" in result.output
    assert "same e-mail as line 2" in result.output
    result = CliRunner().invoke(cli.app, ["advisor", "import", str(path), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "imported 2 referral(s) of 15 row(s)" in result.output
    cli.get_app().dispose()
    cli.get_app.cache_clear()
    get_settings.cache_clear()
