"""Single CLI commands, imported from their modules and run through Typer's test runner
with a stand-in App (Click's ``obj``): what a coordinator sees when an answer is missing
or wrong, and the one error handler that turns ppflow's expected errors into a message
and exit code 1, never a traceback."""

from __future__ import annotations

import getpass
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from ppflow.cli.advisor import advisor_app
from ppflow.cli.context import meta
from ppflow.cli.errors import CommandGroup
from ppflow.cli.lifecycle import lifecycle
from ppflow.cli.orchestration import answer_app
from ppflow.cli.portal import questionnaire_app
from ppflow.cli.program import program_app
from ppflow.cli.report import report_app
from ppflow.domain.errors import NotFoundError
from ppflow.domain.lifecycle import LIFECYCLES
from ppflow.services.questionnaires import QuestionnaireError, library_for
from ppflow.services.referral_import import CsvFormatError
from ppflow.settings import Settings

# The CLI is read on an 80-column page.
pytestmark = pytest.mark.usefixtures("eighty_columns")

runner = CliRunner()


class Untouchable:
    """An App that fails the test if a command reaches for it."""

    def __getattr__(self, name):
        raise AssertionError(f"the command used app.{name} before checking its input")


def stand_in(tmp_path, actor: str | None = None) -> SimpleNamespace:
    """The part of the App these commands use: settings, the questionnaires, and what
    the report is read from (nothing: the period given is refused before any read)."""
    settings = Settings(data_dir=tmp_path, actor=actor)
    return SimpleNamespace(
        settings=settings,
        questionnaires=lambda: library_for(tmp_path),
        indicators=lambda: None,
        clock=None,
    )


def single(command) -> CommandGroup:
    """A CLI holding one command, under the handler every ppflow command has."""
    group = CommandGroup(help="one command")
    group.command("it")(command)
    return group


def test_lifecycle_prints_the_diagram_of_the_named_transition_table():
    result = runner.invoke(single(lifecycle), ["team"])
    assert result.exit_code == 0, result.output
    assert result.stdout == LIFECYCLES["team"][0].mermaid() + "\n"


def test_an_unknown_lifecycle_is_refused_with_the_choices():
    result = runner.invoke(single(lifecycle), ["robot"])
    assert result.exit_code == 1
    assert "no lifecycle 'robot'; choose one of advisor" in result.stderr


def test_erasing_without_yes_is_refused_before_anything_is_touched():
    result = runner.invoke(advisor_app, ["erase", "PA-7K3M9Q"], obj=Untouchable())
    assert result.exit_code == 1
    assert "cannot be undone; add --yes to confirm" in result.stderr


def test_a_match_answer_names_the_advisor_or_rejects_and_never_both():
    result = runner.invoke(answer_app, ["match", "QT-4HWX2B"], obj=Untouchable())
    assert result.exit_code == 1
    assert "name the --advisor to place, or --reject every proposal" in result.stderr
    both = ["match", "QT-4HWX2B", "--advisor", "PA-7K3M9Q", "--reject"]
    result = runner.invoke(answer_app, both, obj=Untouchable())
    assert result.exit_code == 1
    assert "--advisor PA-7K3M9Q places that advisor and --reject" in result.stderr
    rate = ["match", "QT-4HWX2B", "--reject", "--rate", "30"]
    result = runner.invoke(answer_app, rate, obj=Untouchable())
    assert result.exit_code == 1
    assert "--reject places nobody" in result.stderr


def test_a_badly_written_target_is_a_usage_error():
    result = runner.invoke(
        program_app,
        ["add", "PP-X", "--name", "X", "--department", "Quality", "--target", "ten teams"],
        obj=Untouchable(),
    )
    assert result.exit_code == 2
    assert "write a target as indicator=value:period" in result.output


def test_questionnaire_list_shows_the_shipped_questionnaires(tmp_path):
    result = runner.invoke(questionnaire_app, ["list"], obj=stand_in(tmp_path))
    assert result.exit_code == 0, result.output
    assert "partnership-experience-advisor" in result.stdout


@pytest.mark.parametrize(
    ("configured", "expected"), [("coordinator-7", "coordinator-7"), (None, "cli:{login}")]
)
def test_the_actor_is_ppflow_actor_or_the_login(tmp_path, configured, expected):
    def who(request_id: str = "") -> None:
        print(meta(request_id or None).actor)

    result = runner.invoke(single(who), [], obj=stand_in(tmp_path, configured))
    assert result.stdout.strip() == expected.format(login=getpass.getuser())


def test_a_service_error_from_a_real_command_is_a_message_and_exit_code_1(tmp_path):
    result = runner.invoke(report_app, ["indicators", "--period", "soon"], obj=stand_in(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 'soon' is not a period: write a year (2026)")
    assert "Traceback" not in result.output
    assert result.stdout == ""


def missing_file(tmp_path):
    (tmp_path / "referrals.csv").read_bytes()


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (lambda _: (_ for _ in ()).throw(NotFoundError("advisor", "PA-7K3M9Q")),
         "error: no advisor 'PA-7K3M9Q'"),
        (lambda _: (_ for _ in ()).throw(CsvFormatError("the file is not UTF-8")),
         "error: the file is not UTF-8"),
        (lambda _: (_ for _ in ()).throw(QuestionnaireError("no item 'nope'")),
         "error: no item 'nope'"),
        (missing_file, "referrals.csv: No such file or directory"),
    ],
    ids=["domain", "referral-csv", "questionnaire", "missing-file"],
)  # fmt: skip
def test_every_expected_error_is_one_line_on_stderr_and_exit_code_1(tmp_path, cause, message):
    def failing() -> None:
        cause(tmp_path)

    result = runner.invoke(single(failing), [])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_an_unexpected_error_is_a_bug_and_is_not_dressed_up_as_a_message():
    def broken() -> None:
        raise RuntimeError("a bug")

    result = runner.invoke(single(broken), [])
    assert isinstance(result.exception, RuntimeError)
    assert "error:" not in result.output
