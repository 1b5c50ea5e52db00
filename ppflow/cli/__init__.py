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

__all__ = ["app", "current_app", "get_app", "main"]

app = CommandGroup(
    help="ppflow: bring patient advisors into quality-improvement teams.",
    pretty_exceptions_enable=False,
)

app.command("serve")(orchestration.serve)
app.command("run")(orchestration.run)
app.command("waiting")(orchestration.waiting)
app.command("lifecycle")(lifecycle.lifecycle)
app.command("demo")(demo.demo)
app.command("mail-sink")(mail.mail_sink)
app.command("check")(check.check)
app.command("portal")(portal.portal)

app.add_typer(db.db_app, name="db")
app.add_typer(advisor.advisor_app, name="advisor")
app.add_typer(team.team_app, name="team")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(program.program_app, name="program")
app.add_typer(incident.incident_app, name="incident")
app.add_typer(team.engagement_app, name="engagement")
app.add_typer(meeting.meeting_app, name="meeting")
app.add_typer(orchestration.answer_app, name="answer")
app.add_typer(mail.templates_app, name="templates")
app.add_typer(mail.mail_app, name="mail")
app.add_typer(mail.outbox_app, name="outbox")
app.add_typer(portal.feedback_app, name="feedback")
app.add_typer(portal.questionnaire_app, name="questionnaire")
app.add_typer(compensation.pay_app, name="pay")
app.add_typer(report.report_app, name="report")


def main() -> None:  # pragma: no cover
    app()
