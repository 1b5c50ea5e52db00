"""Names and notes are shown as typed, never obeyed: text that looks like Rich's markup
(a closing tag, a hyperlink, a colour that hides its own text) or like an emoji code
prints literally through every command that shows people, on SQLite then PostgreSQL."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

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
