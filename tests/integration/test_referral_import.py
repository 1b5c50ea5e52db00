"""Importing referrals from CSV: every kind of bad row is reported with its line, and
nothing is imported unless the coordinator asks for the good rows only."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow import cli
from ppflow.adapters.orm import (
    AdvisorRow,
    ContactRow,
    NotificationRow,
    ReferralRow,
    TransitionReasonRow,
    TransitionRow,
)
from ppflow.domain.commands import Meta, RegisterReferral
from ppflow.services import advisors
from ppflow.services.referral_import import (
    CsvFormatError,
    RegisteredMeanwhileError,
    import_referrals,
)
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


def test_a_file_that_cannot_be_decoded_or_lacks_columns_is_refused_whole(sqlite_app):
    undefined = (HEADER + "\nÉlise,Côté,e@example.org,fr,ST-X,,,,\n").encode("cp1252")
    undefined = undefined.replace(b"\xc9", b"\x81")  # no character in Windows-1252
    with pytest.raises(CsvFormatError, match="neither UTF-8 nor Windows-1252 .*line 2"):
        import_referrals(sqlite_app.uow(), undefined, Meta("test"), clock=sqlite_app.clock)
    with pytest.raises(CsvFormatError, match="lacks the column.*referred_by"):
        import_referrals(
            sqlite_app.uow(),
            b"first_name,last_name,email,language\n",
            Meta("test"),
            clock=sqlite_app.clock,
        )


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


# ------------------------------------------------------------- files as people have them


def french_excel(referrer: str) -> bytes:
    """What Excel in French saves as 'CSV': semicolons, Windows-1252, headers as typed."""
    return (
        "First_Name; Last Name ;EMAIL;Language;Referred-By;Phone\r\n"
        f"Élise;Côté-Bédard;elise@example.org;fr;{referrer};514 555-0190\r\n"
        f"Noël;Gagné;noel@example.org;FR;{referrer};\r\n"
    ).encode("cp1252")


@pytest.fixture
def cli_app(sqlite_app, monkeypatch):
    monkeypatch.setenv("PPFLOW_DATABASE_URL", str(sqlite_app.engine.url))
    get_settings.cache_clear()
    cli.get_app.cache_clear()
    yield sqlite_app
    cli.get_app().dispose()
    cli.get_app.cache_clear()
    get_settings.cache_clear()


def test_a_french_excel_file_is_imported_and_the_cli_says_how_it_was_read(cli_app, tmp_path):
    referrer = factories.staff(cli_app)
    path = tmp_path / "références.csv"
    path.write_bytes(french_excel(referrer))
    assert b"\xc9lise" in path.read_bytes()
    result = CliRunner().invoke(cli.app, ["advisor", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "read as Windows-1252, separated by semicolons" in result.output
    assert "imported 2 referral(s) of 2 row(s)" in result.output
    with cli_app.session_factory() as session:
        names = set(session.execute(select(ContactRow.first_name, ContactRow.last_name)))
    assert names == {("Élise", "Côté-Bédard"), ("Noël", "Gagné")}


def test_every_problem_of_a_row_is_reported_at_the_line_its_record_starts_on(pool):
    app, referrer, _ = pool
    data = (
        "first_name,last_name,email,language,referred_by,context\n"
        f'Ana,Roy,ana@example.org,fr,{referrer},"Met at the clinic;\nspoke of\nher son"\n'
        ",Nolast,not-an-address,de,ST-NOBODY,\n"
        f'Marc,Roy,marc@,en,{referrer},"two\nlines"\n'
    ).encode()
    report = import_referrals(app.uow(), data, Meta("test"), clock=app.clock)
    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [5, 6]  # Ana's record spans lines 2 to 4, Marc's 6 and 7
    three = reasons[5]
    for problem in (
        "first name is required",
        "e-mail 'not-an-address' is not a valid address",
        "language 'de' is not one of fr, en",
        "referrer 'ST-NOBODY' is not a known staff member",
    ):
        assert problem in three, three
    assert "e-mail 'marc@' is not a valid address" in reasons[6]
    assert report.imported == []


def test_a_field_of_200000_characters_is_refused_with_a_message(cli_app, tmp_path):
    referrer = factories.staff(cli_app)
    path = tmp_path / "long.csv"
    long = "x" * 200_000
    path.write_text(
        f'{HEADER}\nAna,Roy,ana@example.org,fr,{referrer},,,,\nZoé,"{long}",z@x.org,fr,,,,,\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.app, ["advisor", "import", str(path)])
    assert result.exit_code == 1
    assert "long.csv: line 3: a field runs over 131,072 characters" in result.output
    assert "Traceback" not in result.output and "_csv" not in result.output
    assert advisors_count(cli_app) == 0


def test_the_import_help_says_which_files_are_accepted():
    result = CliRunner().invoke(cli.app, ["advisor", "import", "--help"])
    text = " ".join(result.output.split())
    for word in ("semicolons", "tabs", "Windows-1252", "BOM", "any case"):
        assert word in text, word


# ---------------------------------------------------- imports that scale and do not block


def written_rows(app, code: str) -> dict:
    """What registering one advisor wrote, with the code and ids taken out."""
    with app.engine.connect() as connection:
        advisor = connection.execute(select(AdvisorRow).where(AdvisorRow.code == code)).one()
        contact = connection.execute(
            select(ContactRow).where(ContactRow.advisor_id == advisor.id)
        ).one()
        referral = connection.execute(
            select(ReferralRow).where(ReferralRow.advisor_id == advisor.id)
        ).one()
        [transition] = connection.execute(
            select(TransitionRow).where(TransitionRow.code == code)
        ).all()
        reason = connection.scalar(
            select(TransitionReasonRow.reason).where(
                TransitionReasonRow.transition_id == transition.id
            )
        )
        notices = connection.execute(
            select(NotificationRow)
            .where(NotificationRow.transition_id == transition.id)
            .order_by(NotificationRow.id)
        ).all()

    def plain(row, *leave_out) -> dict:
        values = dict(row._mapping)
        for key in ("id", "created_at", "advisor_id", "code", "request_id", *leave_out):
            values.pop(key, None)
        return {
            k: v.replace(code, "<code>") if isinstance(v, str) else v for k, v in values.items()
        }

    return {
        "advisor": plain(advisor),
        "contact": plain(contact),
        "referral": plain(referral, "source"),
        "transition": plain(transition),
        "reason": reason,
        "notices": [
            plain(n, "transition_id")
            | {"context": {k: v.replace(code, "<code>") for k, v in n.context.items()}}
            for n in notices
        ],
    }


def test_the_import_writes_the_rows_registering_one_referral_writes(any_app):
    referrer = factories.staff(any_app)
    factories.staff(any_app, role="coordinator")
    factories.staff(any_app, role="coordinator")
    one = factories.referral(
        any_app, referrer, email="one@example.org", phone="514 555-0101", tags=("Cancer",)
    )
    data = (
        "first_name,last_name,email,language,referred_by,phone,tags\n"
        f"Ada,Tester,two@example.org,fr,{referrer},514 555-0102,Cancer\n"
    ).encode()
    [two] = import_referrals(any_app.uow(), data, Meta("test"), clock=any_app.clock).imported
    registered, imported = written_rows(any_app, one), written_rows(any_app, two)
    # the referrer is thanked for each person; the coordinators hear once for the whole file
    assert [n["template"] for n in imported["notices"]] == ["referral_acknowledgement"]
    assert [n["template"] for n in registered["notices"]] == [
        "referral_acknowledgement",
        "referral_received",
        "referral_received",
    ]
    registered["notices"] = registered["notices"][:1]
    with any_app.engine.connect() as connection:
        told = connection.execute(
            select(NotificationRow.context).where(NotificationRow.template == "referrals_imported")
        ).all()
    assert [c for (c,) in told] == [{"count": 1, "advisors": [two], "more": 0}] * 2
    for rows in (registered, imported):
        rows["contact"] = {k: v for k, v in rows["contact"].items() if "one" not in str(v)}
        rows["contact"] = {k: v for k, v in rows["contact"].items() if "two" not in str(v)}
        rows["contact"].pop("last_name"), rows["contact"].pop("phone")
        rows["contact"].pop("phone_key")
    assert imported == registered


class RegisteredBetween:
    """A unit of work that lets someone register ``person`` between the import's check
    and its write, as another coordinator could."""

    def __init__(self, app, person: RegisterReferral):
        self.app, self.person, self.inner, self.entered = app, person, app.uow(), 0

    def __enter__(self):
        self.entered += 1
        if self.entered == 2:
            advisors.register_referral(self.app.uow(), self.person, self.app.clock)
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_someone_registering_the_same_person_meanwhile_fails_the_whole_import(any_app):
    referrer = factories.staff(any_app)
    data = (
        "first_name,last_name,email,language,referred_by\n"
        f"Ana,Roy,ana@example.org,fr,{referrer}\n"
        f"Zoé,Roy,zoe@example.org,fr,{referrer}\n"
    ).encode()
    meanwhile = RegisterReferral("Zoé", "Roy", "ZOE@example.org", referrer)
    uow = RegisteredBetween(any_app, meanwhile)
    with pytest.raises(RegisteredMeanwhileError, match="registered one of these people meanwhile"):
        import_referrals(uow, data, Meta("test"), clock=any_app.clock)
    assert uow.entered == 2 and advisors_count(any_app) == 1  # only the one registered
    again = import_referrals(any_app.uow(), data, Meta("test"), clock=any_app.clock)
    assert [p.line for p in again.problems] == [3]


def test_another_writer_is_not_blocked_while_a_large_file_is_imported(sqlite_app):
    """20,000 referrals go in while `ppflow advisor add` registers people one by one
    from another thread; the two overlap, and no registration waits 5 s."""
    referrer = factories.staff(sqlite_app)
    factories.staff(sqlite_app, role="coordinator")
    rows = [
        f"P{n},Q{n},p{n}@example.org,fr,{referrer},514{n:07d},,,"  # noqa: E231
        for n in range(20_000)
    ]
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    started, writing, stop = threading.Event(), threading.Event(), threading.Event()
    waits: list[tuple[float, float]] = []  # (start, seconds) of each registration
    added_while_writing = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            began = time.monotonic()
            during_write = writing.is_set()
            if during_write:
                added_while_writing.set()
            factories.referral(sqlite_app, referrer, email=f"other{n}@example.org")
            waits.append((began, time.monotonic() - began))
            time.sleep(0.05)

    def checked(done: int, total: int) -> None:
        started.set()

    def progress(done: int, total: int) -> None:
        if not writing.is_set():  # the write has begun: let the writer try now
            writing.set()
            added_while_writing.wait(5)

    thread = threading.Thread(target=writer, daemon=True)
    began = time.monotonic()
    thread.start()
    report = import_referrals(
        sqlite_app.uow(),
        data,
        Meta("bulk"),
        clock=sqlite_app.clock,
        progress=progress,
        checked=checked,
    )
    ended = time.monotonic()
    stop.set()
    thread.join(60)
    assert len(report.imported) == 20_000 and report.problems == []
    during = [seconds for start, seconds in waits if began <= start <= ended]
    assert added_while_writing.is_set() and len(during) >= 5, (len(during), ended - began)
    longest = max(seconds for _, seconds in waits)
    assert longest < 5.0, longest
    # and it is short beside the import: the lock is not held while the file is checked
    assert longest < (ended - began) / 2, (longest, ended - began)


def test_a_mac_file_taken_for_windows_1252_is_refused_naming_the_encodings_tried(
    ppflow, any_app, tmp_path
):
    """Mac Roman's é and ô read as Windows-1252 give "GŽrard C™tŽ": the file is refused
    whole, rather than a hundred names stored wrong."""
    referrer = factories.staff(any_app)
    path = tmp_path / "referrals.csv"
    text = f"first_name,last_name,email,language,referred_by\nGérard,Côté,gc@ex.org,fr,{referrer}\n"
    path.write_bytes(text.encode("mac_roman"))
    output = " ".join(ppflow("advisor", "import", str(path), code=1).split())
    assert "tried UTF-8 and Windows-1252" in output and "Mac Roman" in output
    assert "line 2" in output and "Côté" not in output
    assert advisors_count(any_app) == 0
    path.write_bytes(text.encode("cp1252"))  # the same file saved as Excel does in French
    assert "imported 1 referral(s)" in " ".join(ppflow("advisor", "import", str(path)).split())
