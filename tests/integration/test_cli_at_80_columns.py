"""The command line as a coordinator reads it on an 80-column terminal: a history with its
dates and stages whole, help that wraps between words, daily commands first, codes in
any case, messages without a library's prefix, the deployment names of the Prefect UI,
and empty sections that say so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppflow import cli
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.wording import shipped_wording
from tests import factories

pytestmark = pytest.mark.usefixtures("eighty_columns")

runner = CliRunner()
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def speaking(app, language: str):
    app.settings = app.settings.model_copy(update={"language": language})
    return app


def invoke(app, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli.app, list(args), obj=app)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def recruited_by_a_flow(app) -> tuple[str, str]:
    """An advisor invited and screened by a flow run: the moves carry its run's id."""
    code = factories.referral(app, factories.staff(app))
    run = str(uuid.uuid4())
    invite = Meta("flow:recruit-advisor", request_id=f"{run}:invite", flow_run_id=run)
    advisors.invite_advisor(app.uow(), code, invite, app.clock)
    screen = Meta(
        "cli:coordinator",
        reason="keen, and knows the unit well",
        request_id=f"{run}:screening",
        flow_run_id=run,
    )
    advisors.apply_screening_outcome(app.uow(), code, "retained", screen, clock=app.clock)
    return code, run


def history_rows(output: str) -> list[list[str]]:
    """The first line of each move: when, from, to, by."""
    rows = [line for line in output.splitlines() if re.match(r"^│ \d{4}-", line)]
    return [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_history_at_80_columns_shows_whole_dates_and_stage_labels_and_no_run_ids(
    sqlite_app, language
):
    app = speaking(sqlite_app, language)
    code, run = recruited_by_a_flow(app)
    shown = invoke(app, "advisor", "history", code)
    assert all(len(line) <= 80 for line in shown.splitlines()), shown
    assert "…" not in shown
    rows = history_rows(shown)
    stages = ["identified", "invited", "screening", "recruited"]
    label = shipped_wording().stage
    assert [row[2] for row in rows] == [label("advisor", s, language) for s in stages]
    assert [row[1] for row in rows] == ["-", *(label("advisor", s, language) for s in stages[:-1])]
    assert all(DATE.fullmatch(row[0]) for row in rows), rows
    assert [row[3] for row in rows[1:]] == ["flow:recruit-advisor", *["cli:coordinator"] * 2]
    assert "keen, and knows" in shown
    assert run not in shown and not UUID.search(shown)

    verbose = invoke(app, "advisor", "history", code.lower(), "--verbose")
    assert f"{run}:screening" in verbose and f"{run}:invite" in verbose
    assert history_rows(verbose) == rows


def words_of(output: str) -> list[str]:
    """The words of a help page, its boxes taken away."""
    return re.sub(r"[│╭╮╰╯─┃━┏┓┗┛┡┩╇┳╋]", " ", output).split()


def needless_breaks(output: str) -> list[str]:
    """Lines of a help panel broken before the edge of their column: the next line of the
    same text starts with a word that would have fit. A line goes on the one above when
    it starts at the panel's help column (its rightmost, where wrapped text goes on).
    Typer puts its [required] and [default: ...] notes on lines of their own."""
    found = []
    panels = re.findall(r"╭[^\n]*\n((?:│[^\n]*\n)+)╰", output)
    for panel in panels:
        rows = [line[1:-1] for line in panel.splitlines()]
        indent = [len(r) - len(r.lstrip()) for r in rows if r.strip()]
        help_column = max(indent)
        for row, following in zip(rows, rows[1:], strict=False):
            words = following.split()
            start = len(following) - len(following.lstrip())
            if not words or words[0].startswith("[") or start != help_column or start <= 1:
                continue
            text = row[start:].rstrip()
            room = len(row) - start - 1  # the column's right padding
            if text and len(text) + 1 + len(words[0]) <= room:
                found.append(f"{text!r} then {words[0]!r}")
    return found


@pytest.mark.parametrize(
    "command",
    [[], ["advisor"], ["advisor", "list"], ["answer", "screening"], ["run"], ["check"]],
    ids=lambda c: " ".join(c) or "ppflow",
)
def test_help_at_80_columns_wraps_between_words_and_shows_no_type_names(command, monkeypatch):
    wide = runner.invoke(cli.app, [*command, "--help"], env={"COLUMNS": "400"})
    narrow = runner.invoke(cli.app, [*command, "--help"])
    assert narrow.exit_code == 0 and wide.exit_code == 0, narrow.output
    assert all(len(line) <= 80 for line in narrow.output.splitlines())
    # the same words, each whole: a word split across two lines would be two other words
    assert words_of(narrow.output) == words_of(wide.output)
    # and lines break where the page ends, not where a docstring's lines did
    assert needless_breaks(narrow.output) == []
    assert "…" not in narrow.output
    for noise in ("<bool>", "<str>", "<int", "<list", "range>"):
        assert noise not in narrow.output


def test_the_choices_of_an_option_are_listed_in_its_help_between_words():
    shown = runner.invoke(cli.app, ["answer", "screening", "--help"]).output
    assert "One of: retained, not_retained, declined." in " ".join(words_of(shown))


def test_help_lists_the_daily_commands_first():
    shown = runner.invoke(cli.app, ["--help"]).output
    panels = re.findall(r"╭─ ([^─]+?) ─", shown)
    assert panels == ["Options", *cli.PANELS]
    listed = re.findall(r"^│ ([a-z][a-z-]+) ", shown, flags=re.MULTILINE)
    first_setup = min(listed.index(name) for name in ("serve", "demo", "mail-sink", "db"))
    daily = ["advisor", "team", "engagement", "waiting", "answer", "run", "pay", "report"]
    assert all(listed.index(name) < first_setup for name in daily), listed
    assert listed[-1] == "lifecycle" and listed[0] == "advisor"


def test_codes_are_accepted_in_any_case(sqlite_app):
    app = speaking(sqlite_app, "en")
    lead = factories.staff(app, role="front_line_manager")
    code = factories.referral(app, lead)
    assert code in invoke(app, "advisor", "show", code.lower())
    assert "on_hold" in invoke(app, "advisor", "hold", code.lower(), "--reason", "a move")
    team_added = invoke(app, "team", "add", "--name", "Day care", "--lead", lead.lower())
    team = re.search(r"QT-[0-9A-Z]{6}", team_added).group(0)
    assert lead in invoke(app, "team", "show", team.lower())


def test_only_code_parameters_with_a_code_s_shape_are_upper_cased():
    from ppflow.cli.context import normalized

    assert normalized("advisor", "pa-7k3m9q") == "PA-7K3M9Q"
    assert normalized("present", "pa-7k3m9q, pa-2b3c4d") == "PA-7K3M9Q, PA-2B3C4D"
    assert normalized("present", ["pa-7k3m9q"]) == ["PA-7K3M9Q"]
    assert normalized("referred_by", "sam.lee@example.org") == "sam.lee@example.org"
    assert normalized("code", "referrals.csv") == "referrals.csv"  # `run identify FILE`
    assert normalized("tag", "en-ligne") == "en-ligne"  # not a code parameter


def test_a_setting_that_cannot_be_read_is_one_message_without_the_library_prefix(
    tmp_path, monkeypatch
):
    from ppflow.settings import get_settings

    monkeypatch.setenv("PPFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS", "[not json")
    get_settings.cache_clear()
    cli.get_app.cache_clear()
    try:
        result = runner.invoke(cli.app, ["advisor", "list"])
    finally:
        get_settings.cache_clear()
        cli.get_app.cache_clear()
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: a setting cannot be read: PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS: "
        "not a JSON list of keys"
    )
    assert "Value error" not in result.output and "pydantic" not in result.output


def test_a_value_a_library_refused_is_said_without_its_prefix():
    from pydantic import BaseModel, ValidationError, field_validator

    from ppflow.cli.errors import describe

    class Answer(BaseModel):
        outcome: str

        @field_validator("outcome")
        @classmethod
        def _known(cls, value: str) -> str:
            raise ValueError(f"'{value}' is not one of retained, not_retained, declined")

    with pytest.raises(ValidationError) as refused:
        Answer(outcome="maybe")
    assert "Value error, " in str(refused.value)
    assert describe(refused.value) == (
        "outcome: 'maybe' is not one of retained, not_retained, declined"
    )


@pytest.mark.parametrize(("language", "none"), [("en", "Consents: none"), ("fr", "aucun")])
def test_empty_sections_say_none_instead_of_an_empty_table(sqlite_app, language, none):
    app = speaking(sqlite_app, language)
    code = factories.referral(app, factories.staff(app))
    shown = invoke(app, "advisor", "show", code)
    assert none in shown
    assert "purpose" not in shown and "┏" not in shown  # no headers over nothing
    assert "none" in invoke(speaking(app, "en"), "staff", "list", "--role", "coordinator")


SCRIPT = Path(sys.executable).with_name("ppflow")


def run_command(tmp_path, *args: str) -> subprocess.CompletedProcess:
    down = "http://127.0.0.1:9/api"  # nothing listens on the discard port
    env = {
        **os.environ,
        "PPFLOW_DATA_DIR": str(tmp_path),
        "PREFECT_API_URL": down,
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="the ppflow console script is not installed")
def test_run_takes_the_deployment_names_the_prefect_ui_shows(tmp_path, sqlite_app, monkeypatch):
    # Each name is resolved to its deployment, so the command goes on to reach the Prefect
    # server (down here: exit code 3); an unknown name is refused before (exit code 1).
    # The installed command, once as a process of its own; the other names in this process
    # (a process imports Prefect and every flow: 2.5 s each).
    started = run_command(tmp_path, "run", "Dispatch-Notifications")
    assert started.returncode == 3, started.stderr
    assert "cannot reach the Prefect server" in started.stderr
    from httpcore._backends.base import NetworkBackend
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # the client's back-off between its three attempts to connect is skipped
    monkeypatch.setattr(NetworkBackend, "sleep", lambda self, seconds: None)
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        for name in ("dispatch-notifications", "dispatch"):
            started = runner.invoke(cli.app, ["run", name], obj=sqlite_app)
            assert started.exit_code == 3, started.output
            assert "cannot reach the Prefect server" in started.stderr
        unknown = runner.invoke(cli.app, ["run", "dispatch-everything"], obj=sqlite_app)
    assert unknown.exit_code == 1
    assert "no deployment 'dispatch-everything'" in unknown.stderr
    assert "dispatch (dispatch-notifications)" in unknown.stderr


CODE = re.compile(r"\b(?:PA|ST|QT|EN|PP)-[0-9A-Z]+\b")


@pytest.mark.parametrize(
    "command",
    [["advisor", "list"], ["team", "list"], ["staff", "list"], ["questionnaire", "list"]],
    ids=" ".join,
)
def test_lists_at_80_columns_cut_no_code_or_word(sqlite_app, command):
    app = speaking(sqlite_app, "en")
    invoke(app, "demo", "--seed-only")
    narrow = invoke(app, *command)
    wide = runner.invoke(cli.app, command, obj=app, env={"COLUMNS": "400"}).output
    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    assert "…" not in narrow
    assert CODE.findall(narrow) == CODE.findall(wide)  # every code whole, on one line


def test_the_cli_texts_come_from_the_shipped_catalogue_when_an_organization_s_copy_lacks_them(
    sqlite_app, tmp_path
):
    import shutil

    from ppflow.resources import templates_dir

    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    (copy / "wording" / "cli.yaml").unlink()
    app = speaking(sqlite_app, "en")
    app.settings = app.settings.model_copy(update={"templates_dir": copy})
    code = factories.referral(app, factories.staff(app))
    assert "Consents: none" in invoke(app, "advisor", "show", code)
    assert f"History of {code}" in invoke(app, "advisor", "history", code)
