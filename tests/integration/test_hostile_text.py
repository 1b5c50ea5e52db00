"""Names and notes are shown as typed, never obeyed: text that looks like Rich's markup
(a closing tag, a hyperlink, a colour that hides its own text) or like an emoji code
prints literally through every command that shows people, on SQLite then PostgreSQL.
And what either database could not hold (a 100,000-character name, an integer above
2^31 - 1, a NUL) is refused the same way on both, writing nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow.adapters.orm import Base
from ppflow.cli import app as cli
from ppflow.domain.commands import AddProgram, AddStaff, AddTeam, Meta
from ppflow.domain.compensation import CompensationPolicy
from ppflow.services import advisors, compensation, integration, organization
from tests import factories

runner = CliRunner()

CLOSING = "[/]"  # Rich: "closing tag '[/]' has nothing to close"
LINK = "[link=http://evil.example]Click here[/link]"  # a clickable terminal hyperlink
HIDDEN = "[red on red]unseen[/]"  # red on red: the text vanishes
EMOJI = ":warning: [bold]loud[/bold]"


@pytest.fixture
def hostile(any_app, monkeypatch):
    """A program, a team, a lead and an engaged advisor, each named with markup; a move
    and a pay entry voided with a reason in markup. Returns the codes."""
    monkeypatch.setenv("COLUMNS", "400")  # a value is checked whole, never wrapped
    app = any_app
    factories.modules(app, "PP-101")
    organization.add_program(app.uow(), AddProgram("PP-X", HIDDEN, EMOJI), app.clock)
    lead = organization.add_staff(
        app.uow(), AddStaff(LINK, "lead@example.org", "front_line_manager", HIDDEN)
    ).code
    referrer = factories.staff(app)
    team = organization.add_team(
        app.uow(), AddTeam(EMOJI, program="PP-X", lead=lead, meta=Meta("t")), app.clock
    ).code
    advisor = factories.ready_advisor(
        app, referrer, first_name=CLOSING, last_name=LINK, tags=(HIDDEN,)
    )
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    engagement = integration.confirm_match(
        app.uow(), team, advisor, Meta("t"), role=HIDDEN, hourly_rate=25.0, clock=app.clock
    ).engagement
    compensation.log_hours(
        app.uow(),
        compensation.LogHours(engagement, app.clock.now().date(), "meeting", "1"),
        CompensationPolicy.from_values(500.0, 0.8, 4),
        app.clock,
    )
    (entry,) = compensation.list_entries(app.uow(), engagement)
    compensation.void_entry(
        app.uow(), compensation.VoidEntry(entry.id, CLOSING + HIDDEN), app.clock
    )
    advisors.put_on_hold(app.uow(), advisor, Meta("t", reason=LINK), app.clock)
    return {"advisor": advisor, "team": team, "engagement": engagement}


def shown(app, *args: str) -> str:
    result = runner.invoke(cli, list(args), obj=app)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_names_and_notes_print_literally_through_every_command_that_shows_people(any_app, hostile):
    advisor, team, engagement = hostile["advisor"], hostile["team"], hostile["engagement"]
    expected = {
        ("advisor", "list"): [HIDDEN],
        ("advisor", "find", "Click"): [f"{CLOSING} {LINK}"],
        ("advisor", "show", advisor, "--contact"): [f"contact: {CLOSING} {LINK}"],
        ("advisor", "history", advisor): [LINK],
        ("staff", "list"): [LINK, HIDDEN],
        ("team", "list"): [EMOJI],
        ("team", "show", team): [EMOJI, HIDDEN],
        ("program", "show", "PP-X"): [HIDDEN, EMOJI],
        ("engagement", "list"): [HIDDEN],
        ("engagement", "show", engagement): [HIDDEN],
        ("pay", "entries"): [CLOSING + HIDDEN],
        ("waiting",): [],  # codes only; it must still print without tripping on them
    }
    missing = {}
    for args, values in expected.items():
        output = shown(any_app, *args)
        lost = [value for value in values if value not in output]
        if lost:
            missing[" ".join(args)] = (lost, output)
        assert "\x1b]8;" not in output  # no terminal hyperlink, whatever the terminal
    assert missing == {}


# ------------------------------------------------- limits, the same on both databases

# a name, the exit code and what the message says: past what any command accepts, a usage
# error; within it, the domain's refusal
NAMES = {
    "x" * 100_000: (2, "at most 10000 are accepted"),
    "n" * 300: (1, "longer than 100 characters"),
    "n" * 101: (1, "longer than 100 characters"),
    "Ad\u202eevil": (1, "text direction control character"),
    "Zo\u2066ë\u2069": (1, "text direction control character"),
}


@pytest.mark.parametrize("name", list(NAMES), ids=["100k", "300", "101", "U+202E", "isolate"])
def test_a_name_too_long_or_with_a_direction_control_is_refused_and_nothing_is_written(
    any_app, name
):
    staff = factories.staff(any_app, role="coordinator")
    before = counts(any_app)
    for first, last in ((name, "Tremblay"), ("Zoë", name)):
        added = runner.invoke(
            cli,
            ["advisor", "add", "--first-name", first, "--last-name", last,
             "--email", "zoe@example.org", "--referred-by", staff],
            obj=any_app,
        )  # fmt: skip
        code, said = NAMES[name]
        assert added.exit_code == code, added.output
        assert said in re.sub(r"[\s│]+", " ", added.output), added.output  # panel unwrapped
    assert counts(any_app) == before


@pytest.mark.parametrize(
    "args",
    [
        ["staff", "add", "--name", "n" * 201, "--email", "s@example.org", "--role", "provider"],
        ["staff", "add", "--name", "Zoë", "--email", "a" * 243 + "@example.org",
         "--role", "provider"],
        ["team", "add", "--name", "t" * 201],
        ["team", "add", "--name", "Équipe \u202e"],
        ["program", "add", "PP-" + "X" * 30, "--name", "P", "--department", "D"],
    ],
    ids=["staff name", "e-mail of 255", "team name", "team name bidi", "program code"],
)  # fmt: skip
def test_the_domain_refuses_what_either_database_could_not_hold(any_app, args):
    before = counts(any_app)
    refused = runner.invoke(cli, args, obj=any_app)
    assert refused.exit_code == 1, refused.output
    assert refused.output.startswith("error: ") and "Traceback" not in refused.output
    assert counts(any_app) == before


def test_a_request_id_longer_than_its_column_is_refused(any_app):
    staff = factories.staff(any_app, role="coordinator")
    before = counts(any_app)
    added = runner.invoke(
        cli,
        ["advisor", "add", "--first-name", "Zoë", "--last-name", "Roy",
         "--email", "zoe@example.org", "--referred-by", staff, "--request-id", "r" * 65],
        obj=any_app,
    )  # fmt: skip
    assert added.exit_code == 1, added.output
    assert added.output == "error: a request id is at most 64 characters\n"
    assert counts(any_app) == before


@pytest.mark.parametrize(
    "args",
    [
        ["advisor", "list", "--available-hours", str(2**63)],
        ["pay", "void", str(2**63), "--reason", "typo"],
        ["outbox", "show", str(2**31)],
        ["advisor", "find", "nul\x00byte"],
        ["advisor", "find", "x" * 100_000],
    ],
    ids=["2^63", "void 2^63", "2^31", "NUL", "100k"],
)
def test_a_value_no_command_accepts_is_a_usage_error(any_app, args):
    refused = runner.invoke(cli, args, obj=any_app)
    assert refused.exit_code == 2, refused.output
    assert "Invalid value" in refused.output


@pytest.mark.parametrize("year", ["-1", "99999", str(2**31 - 1)])
def test_a_year_out_of_range_is_refused(any_app, year):
    refused = runner.invoke(cli, ["pay", "summary", "--year", year], obj=any_app)
    assert refused.exit_code == 1, refused.output
    assert f"year {year} is not 1900 to 9998" in refused.output


def test_an_unknown_revision_is_a_message(any_app):
    refused = runner.invoke(cli, ["db", "downgrade", "nope"], obj=any_app)
    assert refused.exit_code == 1, refused.output
    assert refused.output == "error: Can't locate revision identified by 'nope'\n"


def test_a_file_that_is_not_a_questionnaire_is_a_message(any_app):
    refused = runner.invoke(cli, ["questionnaire", "add", "/etc/passwd"], obj=any_app)
    assert refused.exit_code == 1, refused.output
    assert refused.output == "error: passwd: name the file <name>.v<version>.yaml\n"


def counts(app) -> tuple[int, ...]:
    with app.engine.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        )
