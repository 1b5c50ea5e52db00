"""The ``ppflow`` command line: Typer commands over the service layer.

One module per group of commands; this module assembles them into :data:`app`, in the
order ``ppflow --help`` lists them. Every command goes through one error handler
(:mod:`ppflow.cli.errors`) and works on the App of :func:`ppflow.cli.context.current_app`.
"""

from __future__ import annotations

from ppflow.cli import (
    advisor,
    check,
    compensation,
    db,
    demo,
    incident,
    keys,
    lifecycle,
    mail,
    meeting,
    orchestration,
    portal,
    program,
    report,
    staff,
    team,
)
from ppflow.cli.context import current_app, get_app
from ppflow.cli.errors import CommandGroup

__all__ = ["PANELS", "app", "current_app", "get_app", "main"]

app = CommandGroup(
    help="ppflow: bring patient advisors into quality-improvement teams.",
    pretty_exceptions_enable=False,
)

# `ppflow --help` lists the commands in panels, daily work first, then the program and its
# people, mail, and last what sets ppflow up and runs it.
DAILY = "Daily work"
PROGRAM = "Program and people"
MAIL = "Mail"
SETUP = "Setting up and running"
PANELS = (DAILY, PROGRAM, MAIL, SETUP)

app.add_typer(advisor.advisor_app, name="advisor", rich_help_panel=DAILY)
app.add_typer(team.team_app, name="team", rich_help_panel=DAILY)
app.add_typer(team.engagement_app, name="engagement", rich_help_panel=DAILY)
app.add_typer(meeting.meeting_app, name="meeting", rich_help_panel=DAILY)
app.command("waiting", rich_help_panel=DAILY)(orchestration.waiting)
app.add_typer(orchestration.answer_app, name="answer", rich_help_panel=DAILY)
app.command("run", rich_help_panel=DAILY)(orchestration.run)
app.add_typer(portal.feedback_app, name="feedback", rich_help_panel=DAILY)
app.add_typer(compensation.pay_app, name="pay", rich_help_panel=DAILY)
app.add_typer(report.report_app, name="report", rich_help_panel=DAILY)

app.add_typer(program.program_app, name="program", rich_help_panel=PROGRAM)
app.add_typer(staff.staff_app, name="staff", rich_help_panel=PROGRAM)
app.add_typer(incident.incident_app, name="incident", rich_help_panel=PROGRAM)
app.add_typer(portal.questionnaire_app, name="questionnaire", rich_help_panel=PROGRAM)

app.add_typer(mail.mail_app, name="mail", rich_help_panel=MAIL)
app.add_typer(mail.outbox_app, name="outbox", rich_help_panel=MAIL)
app.add_typer(mail.templates_app, name="templates", rich_help_panel=MAIL)

app.command("serve", rich_help_panel=SETUP)(orchestration.serve)
app.command("portal", rich_help_panel=SETUP)(portal.portal)
app.command("mail-sink", rich_help_panel=SETUP)(mail.mail_sink)
app.add_typer(db.db_app, name="db", rich_help_panel=SETUP)
app.command("check", rich_help_panel=SETUP)(check.check)
app.command("keygen", rich_help_panel=SETUP)(keys.keygen)
app.command("demo", rich_help_panel=SETUP)(demo.demo)
app.command("lifecycle", rich_help_panel=SETUP)(lifecycle.lifecycle)


def main() -> None:  # pragma: no cover
    app()
