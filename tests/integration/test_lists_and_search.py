"""The pool and the search by name at any size, on SQLite then PostgreSQL: `advisor list`
shows a page and says how many more match, writes plain rows when piped, and filters in
SQL; `advisor find` reads the folded text the contacts table keeps (`search_text`, filled
on every write, backfilled by migration 0008, emptied by erasure)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy import select as sql_select

from ppflow.adapters import db
from ppflow.adapters.orm import AdvisorRow, ContactRow
from ppflow.cli import advisor as advisor_cli
from ppflow.domain.commands import EditAdvisor, Meta
from ppflow.services import corrections, queries
from ppflow.services.ports import AdvisorFilter
from ppflow.services.privacy import erase_advisor
from ppflow.services.referral_import import import_referrals
from tests import factories
from tests.conftest import make_app

SCRIPT = Path(sys.executable).with_name("ppflow")


def search_texts(app) -> dict[str, str | None]:
    """Each advisor's stored search_text, by code."""
    with app.engine.connect() as connection:
        rows = connection.execute(
            sql_select(AdvisorRow.code, ContactRow.search_text).join(
                ContactRow, ContactRow.advisor_id == AdvisorRow.id
            )
        )
        return dict(rows.all())


# ------------------------------------------------------------------------ the pool


def test_the_list_shows_a_page_and_says_how_many_more_match(any_app, ppflow, monkeypatch):
    referrer = factories.staff(any_app)
    codes = [factories.referral(any_app, referrer) for _ in range(5)]

    shown = ppflow("advisor", "list", "--limit", "2")
    assert [line.split("\t")[0] for line in shown.splitlines()[:2]] == codes[:2]
    assert shown.splitlines()[2:] == ["3 more match: use --limit N to see more, or --all"]
    monkeypatch.setattr(advisor_cli, "PAGE", 4)  # the default page, made small
    shown = ppflow("advisor", "list")
    assert [line.split("\t")[0] for line in shown.splitlines()[:4]] == codes[:4]
    assert "1 more match" in shown and codes[4] not in shown
    shown = ppflow("advisor", "list", "--all")
    assert [line.split("\t")[0] for line in shown.splitlines()] == codes  # and no note
    assert "more match" not in ppflow("advisor", "list", "--limit", "5")
    refused = ppflow("advisor", "list", "--all", "--limit", "3", code=2)
    assert "error: give --limit or --all, not both" in refused


def test_piped_rows_are_plain_one_a_line_split_at_tabs(any_app, ppflow):
    referrer = factories.staff(any_app)
    factories.modules(any_app, "PP-101")
    code = factories.ready_advisor(
        any_app,
        referrer,
        tags=("santé", "tab\there", "[red]x[/]"),
        skills=("writing", "line\nbreak"),
        availability_hours=6,
    )
    (line,) = ppflow("advisor", "list", "--stage", "ready").splitlines()
    assert line.split("\t") == [
        code,
        "ready",
        "fr",
        "[red]x[/],santé,tab\\there",
        "line\\nbreak,writing",
        "6",
        "0",
    ]


def in_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What ``ppflow ARGS`` shows in a terminal (a pseudo-terminal here)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SCRIPT), *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed: the command ended
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    return shown.decode()


@pytest.mark.skipif(not SCRIPT.exists(), reason="the ppflow console script is not installed")
def test_a_terminal_gets_the_table_with_how_many_it_shows_of_how_many(sqlite_app, tmp_path):
    referrer = factories.staff(sqlite_app)
    codes = [factories.referral(sqlite_app, referrer) for _ in range(3)]
    env = {
        **os.environ,
        "PPFLOW_DATABASE_URL": sqlite_app.settings.resolved_database_url,
        "PPFLOW_DATA_DIR": str(tmp_path),
        "COLUMNS": "100",
        "TERM": "dumb",
    }
    shown = in_a_terminal(["advisor", "list", "--limit", "2"], env)
    assert "Advisor pool (2 of 3)" in shown and "┏" in shown  # a table, with its title
    assert codes[0] in shown and codes[1] in shown and codes[2] not in shown
    assert "1 more match: use --limit N to see more, or --all" in shown
    assert "\t" not in shown


def test_the_filters_run_in_sql_and_match_whole_items(any_app):
    referrer = factories.staff(any_app)
    sante = factories.referral(any_app, referrer, tags=("santé mentale",), skills=("écoute",))
    both = factories.referral(any_app, referrer, tags=("cancer", "santé mentale"))
    longer = factories.referral(any_app, referrer, tags=("cancer-du-sein",))
    quoted = factories.referral(any_app, referrer, tags=('say "cancer"',))
    english = factories.referral(any_app, referrer, language="en", languages=("en",), tags=())

    def codes(**criteria) -> list[str]:
        page = queries.pool_page(any_app.uow(), AdvisorFilter(**criteria))
        assert page.total == len(page.entries)
        return [e.advisor.code for e in page.entries]

    assert codes(tags=("cancer",)) == [both]  # not "cancer-du-sein", nor 'say "cancer"'
    assert codes(tags=("santé mentale",)) == [sante, both]
    assert codes(tags=("cancer", "santé mentale")) == [both]
    assert codes(skills=("écoute",)) == [sante]
    assert codes(tags=("cancer-du-sein",)) == [longer]
    assert codes(tags=('say "cancer"',)) == [quoted]
    assert codes(language="en") == [english]
    page = queries.pool_page(any_app.uow(), AdvisorFilter(limit=2))
    assert (len(page.entries), page.total, page.more) == (2, 5, 3)


# ---------------------------------------------------------------------- the search


def test_the_search_text_is_written_with_the_contact_and_erased_with_it(any_app, tmp_path):
    referrer = factories.staff(any_app)
    added = factories.referral(
        any_app, referrer, first_name="Hélène", last_name="CÔTÉ", email="H.Cote@Example.org"
    )
    data = (
        "first_name,last_name,email,language,referred_by\n"
        f"Zoë,Ouellet-Bérubé,zoe@example.org,fr,{referrer}\n"
    ).encode()
    report = import_referrals(any_app.uow(), data, Meta("test"), clock=any_app.clock)
    (imported,) = report.imported
    texts = search_texts(any_app)
    assert texts[added] == "helene cote h.cote@example.org"
    assert texts[imported] == "zoe ouellet-berube zoe@example.org"

    corrections.edit_advisor(
        any_app.uow(),
        EditAdvisor(added, last_name="Lévesque", meta=Meta("test", reason="married")),
        any_app.clock,
    )
    assert search_texts(any_app)[added] == "helene levesque h.cote@example.org"
    assert [m.code for m in queries.find_advisors(any_app.uow(), "LEVESQUE")] == [added]

    erase_advisor(any_app.uow(), added, any_app.clock, actor="cli:privacy-officer")
    assert search_texts(any_app)[added] is None
    assert queries.find_advisors(any_app.uow(), "erased") == []


def test_a_search_for_a_wildcard_finds_only_that_character(any_app, ppflow):
    referrer = factories.staff(any_app)
    under = factories.referral(any_app, referrer, email="first_last@example.org")
    plain = factories.referral(any_app, referrer, email="firstxlast@example.org")
    percent = factories.referral(any_app, referrer, last_name="Cent%")

    assert [m.code for m in queries.find_advisors(any_app.uow(), "t_l")] == [under]
    assert [m.code for m in queries.find_advisors(any_app.uow(), "%")] == [percent]
    assert plain in ppflow("advisor", "find", "firstxlast")
    assert plain not in ppflow("advisor", "find", "t_l")


def test_the_search_gives_at_most_its_limit_in_registration_order(any_app):
    referrer = factories.staff(any_app)
    codes = [factories.referral(any_app, referrer, first_name="Éloïse") for _ in range(4)]
    found = queries.find_advisors(any_app.uow(), "eloise", limit=3)
    assert [m.code for m in found] == codes[:3]
    assert {(m.first_name, m.stage) for m in found} == {("Éloïse", "identified")}


# -------------------------------------------------------------------- migration 0008


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_app(request, tmp_path, clock):
    app, cleanup = make_app(request.param, tmp_path, clock, migrate=False)
    yield app
    app.dispose()
    if cleanup:
        cleanup()


def analyzed(app) -> set[str]:
    """The tables the database holds statistics for (taken by ANALYZE)."""
    with app.engine.connect() as connection:
        if app.engine.dialect.name == "sqlite":
            found = connection.execute(text("SELECT DISTINCT tbl FROM sqlite_stat1"))
        else:
            found = connection.execute(
                text(
                    "SELECT relname FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() AND last_analyze IS NOT NULL"
                )
            )
        return {name for (name,) in found}


def test_migration_0008_folds_every_contact_not_erased_and_goes_down_again(empty_app, clock):
    db.upgrade(empty_app.engine, "0007_survey_requests_ended")
    people = [("Hélène", "Côté", "Helene@Example.org", None), ("Éric", "Roy", "e@x.org", clock)]
    with empty_app.engine.begin() as connection:
        for n, (first, last, email, erased) in enumerate(people, start=1):
            connection.execute(
                insert(AdvisorRow.__table__).values(
                    code=f"PA-M{n}",
                    stage="identified",
                    languages=[],
                    tags=[],
                    skills=[],
                    availability_hours=0,
                    version=1,
                    stage_changed_at=clock.now(),
                )
            )
            connection.execute(
                text(
                    "INSERT INTO contacts (advisor_id, first_name, last_name, email, phone,"
                    " language, context, erased_at) VALUES (:a, :f, :l, :e, '', 'fr', '', :x)"
                ),
                {"a": n, "f": first, "l": last, "e": email, "x": erased and erased.now()},
            )

    db.upgrade(empty_app.engine, "0008_contacts_search_text")
    assert search_texts(empty_app) == {"PA-M1": "helene cote helene@example.org", "PA-M2": None}
    assert "contacts" in analyzed(empty_app)  # the statistics were taken after migrating
    assert [m.code for m in queries.find_advisors(empty_app.uow(), "HÉLÈNE")] == ["PA-M1"]

    db.downgrade(empty_app.engine, "0007_survey_requests_ended")
    with empty_app.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("contacts")}
        assert "search_text" not in columns
        assert connection.execute(text("SELECT count(*) FROM contacts")).scalar() == 2
    db.upgrade(empty_app.engine, "head")
    assert search_texts(empty_app)["PA-M1"] == "helene cote helene@example.org"


# ------------------------------------------------------- statistics of the indicators


@pytest.mark.postgres
def test_the_report_takes_the_statistics_postgresql_lacks(tmp_path, clock):
    """Migrated (statistics of empty tables), then filled with no ANALYZE and, as on a
    server without autovacuum, none taken since: the first indicator query takes them, the
    next finds them current."""
    from ppflow.adapters.indicators import keep_statistics
    from tests.seeding import seed_pool

    app, cleanup = make_app("postgres", tmp_path, clock)
    try:
        seed_pool(app, 300, clock.now())
        app.dispose()  # the seeding connection's counts of changes reach the server

        app.indicators().funnel_at(clock.now())
        with app.engine.connect() as connection:
            counted = connection.execute(
                text(
                    "SELECT c.relname, c.reltuples FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema()"
                    " AND c.relname IN ('transitions', 'advisors')"
                )
            )
            assert dict(counted.all()) == {"transitions": 300, "advisors": 300}
        with app.session_factory() as session:
            assert keep_statistics(session) == []  # current now
    finally:
        app.dispose()
        cleanup()
