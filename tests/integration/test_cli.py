"""The ppflow command line as a coordinator uses it, on a real SQLite file."""

from __future__ import annotations

import re
import shutil

import pytest
from typer.testing import CliRunner

from ppflow import cli
from ppflow.services.wording import shipped_wording
from ppflow.settings import get_settings
from tests.conftest import sqlite_template

# The CLI is read on an 80-column page.
pytestmark = pytest.mark.usefixtures("eighty_columns")

runner = CliRunner()


@pytest.fixture
def ppflow(tmp_path, monkeypatch):
    monkeypatch.setenv("PPFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("PPFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PPFLOW_ACTOR", "cli:coordinator-test")
    get_settings.cache_clear()
    cli.get_app.cache_clear()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli.app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    # the session's migrated template: `db upgrade` finds it at the head (a migration
    # from empty through the command: test_env_file.py, test_cli_fuzz.py)
    shutil.copyfile(sqlite_template(), tmp_path / "cli.db")
    invoke("db", "upgrade")
    yield invoke
    cli.get_app().dispose()
    cli.get_app.cache_clear()
    get_settings.cache_clear()


def code_in(output: str, prefix: str) -> str:
    return re.search(rf"\b{prefix}-[0-9A-Z]{{6}}\b", output).group(0)


def test_a_coordinator_builds_a_program_a_team_and_a_pool(ppflow):
    provider = code_in(
        ppflow(
            "staff", "add", "--name", "Dr Who", "--email", "who@example.org", "--role", "provider"
        ).output,
        "ST",
    )
    lead = code_in(
        ppflow(
            "staff",
            "add",
            "--name",
            "Lee Lead",
            "--email",
            "lee@example.org",
            "--role",
            "front_line_manager",
        ).output,
        "ST",
    )
    ppflow(
        "program",
        "add",
        "PP-T",
        "--name",
        "Test program",
        "--department",
        "Quality",
        "--manager",
        lead,
        "--target",
        "teams_with_two_advisors=5:2027",
    )
    shown = ppflow("program", "show", "PP-T").output
    assert "Quality" in shown and lead in shown and "teams_with_two_advisors" in shown
    team = code_in(
        ppflow(
            "team",
            "add",
            "--name",
            "Oncology QI",
            "--lead",
            lead,
            "--program",
            "PP-T",
            "--language",
            "fr",
            "--tag",
            "cancer",
        ).output,
        "QT",
    )
    assert team in ppflow("team", "list").output
    assert "at least 2 advisors" in ppflow("team", "show", team).output
    fr = code_in(
        ppflow(
            "advisor",
            "add",
            "--first-name",
            "Anne",
            "--last-name",
            "Xylo",
            "--email",
            "anne@example.org",
            "--referred-by",
            provider,
            "--language",
            "fr",
            "--tag",
            "cancer,caregiver",
        ).output,
        "PA",
    )
    en = code_in(
        ppflow(
            "advisor",
            "add",
            "--first-name",
            "Bob",
            "--last-name",
            "Yak",
            "--email",
            "bob@example.org",
            "--referred-by",
            "who@example.org",
            "--language",
            "en",
            "--tag",
            "cardiac",
        ).output,
        "PA",
    )
    listed = ppflow("advisor", "list", "--language", "en").output
    assert en in listed and fr not in listed
    tagged = ppflow("advisor", "list", "--tag", "caregiver").output
    assert fr in tagged and en not in tagged
    assert ppflow("advisor", "list", "--stage", "invited").output.count("PA-") == 0
    # personal data only on request
    assert "Xylo" not in ppflow("advisor", "show", fr).output
    assert "Xylo" in ppflow("advisor", "show", fr, "--contact").output
    history = ppflow("advisor", "history", fr).output
    identified = shipped_wording().stage("advisor", "identified", "fr")
    assert identified in history and "cli:coordinator-test" in history
    assert ppflow("staff", "list", "--role", "provider").output.count("ST-") == 1


def test_bad_input_gets_a_clear_error_and_exit_code(ppflow):
    result = ppflow(
        "advisor",
        "add",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--email",
        "not-an-address",
        "--referred-by",
        "ST-NOBODY",
        ok=False,
    )
    assert result.exit_code == 1
    assert "e-mail 'not-an-address' is not a valid address" in result.output
    result = ppflow("advisor", "history", "PA-ZZZZZZ", ok=False)
    assert result.exit_code == 1 and "no advisor 'PA-ZZZZZZ'" in result.output
    result = ppflow(
        "program", "add", "X", "--name", "n", "--department", "d", "--target", "oops", ok=False
    )
    assert result.exit_code == 2 and "indicator=value:period" in result.output


def test_history_prints_the_whole_ordered_log(ppflow):
    ppflow("demo", "--seed-only")
    pool = ppflow("advisor", "list", "--stage", "on_hold").output
    code = code_in(pool, "PA")
    history = ppflow("advisor", "history", code).output
    states = ["identified", "invited", "screening", "recruited", "preparing", "ready", "on_hold"]
    labels = [shipped_wording().stage("advisor", s, "fr") for s in states]  # the CLI speaks fr
    moved = re.compile(r"^│ \d{4}-\d\d-\d\d \d\d:\d\d ")
    rows = [line for line in history.splitlines() if moved.match(line)]
    assert len(rows) == len(states)
    assert [row.split("│")[3].strip() for row in rows] == labels
    assert "health reasons" in " ".join(history.split())


def test_the_quick_demo_seeds_once_and_prints_pool_and_teams(ppflow):
    first = ppflow("demo", "--seed-only").output
    assert "seeded the demonstration program" in first
    assert "Advisor pool (11)" in first and "QI teams" in first
    second = ppflow("demo", "--seed-only").output
    assert "already there" in second and "Advisor pool (11)" in second
    assert "Advisor pool (11)" in ppflow("demo", "--reset", "--seed-only").output


def test_demo_reset_clears_the_mail_of_earlier_runs(ppflow, tmp_path):
    from types import SimpleNamespace

    from ppflow.adapters.email.sink import MaildirHandler

    sink = MaildirHandler(tmp_path / "maildir")  # what an earlier demonstration delivered
    for n in range(3):
        content = f"Subject: earlier {n}\r\n\r\nbody\r\n".encode()
        sink.store(SimpleNamespace(rcpt_tos=["a@example.org"], original_content=content))
    assert len(cli.get_app().stored_mail()) == 3
    again = ppflow("demo", "--reset", "--seed-only").output
    assert "removed 3 e-mail(s) of earlier runs" in " ".join(again.split())
    assert cli.get_app().stored_mail() == []


def test_the_lifecycle_command_prints_the_table_as_mermaid(ppflow):
    out = ppflow("lifecycle", "engagement").output
    assert out.startswith("stateDiagram-v2") and "completed --> evaluated" in out


def test_a_coordinator_records_objectives_and_ends_an_engagement(ppflow):
    from ppflow.domain.commands import Meta
    from ppflow.services import integration
    from tests import factories

    app = cli.get_app()
    factories.modules(app, "PP-101")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    code = factories.ready_advisor(app, factories.staff(app))
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    engagement = integration.confirm_match(
        app.uow(), team, code, Meta("t"), clock=app.clock
    ).engagement
    assert code in ppflow("team", "objectives", team).output
    refused = ppflow("engagement", "end", engagement, "--early", ok=False)
    assert refused.exit_code == 1 and "no reason recorded" in refused.output
    assert "active -> completed" in ppflow("engagement", "end", engagement).output
    assert "ready" in ppflow("advisor", "show", code).output
