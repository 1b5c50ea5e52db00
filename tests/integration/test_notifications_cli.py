"""The mail commands as a coordinator uses them, on a real database and SMTP server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
import pytest
from typer.testing import CliRunner

from ppflow.adapters.email.maildir import count_messages
from ppflow.cli import app as ppflow_cli
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from tests import factories
from tests.integration.conftest import free_port


@pytest.fixture
def cli(mail_app):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(ppflow_cli, list(args), obj=mail_app)

    return invoke


def contact(app, code):
    with app.uow() as uow:
        return uow.advisors.contact(code)


def test_dispatch_then_read_the_sink_with_personal_data_only_in_mail_show(
    cli, mail_app, smtp_server
):
    referrer = factories.staff(mail_app, "provider")
    code = factories.referral(mail_app, referrer, first_name="Rosalie", last_name="Gagnon")
    person = contact(mail_app, code)

    dispatched = cli("mail", "dispatch")
    assert dispatched.exit_code == 0, dispatched.output
    assert "Dispatch to 127.0.0.1" in dispatched.output
    assert smtp_server.count() == 1

    listed = cli("mail", "list")
    assert listed.exit_code == 0, listed.output
    assert "referral_acknowledgement" in listed.output and referrer in listed.output
    for private in (person.email, "Rosalie", "Gagnon", "staff"):
        assert private not in listed.output.replace("Staff", "")  # no names, no addresses

    shown = cli("mail", "show", "1")
    assert shown.exit_code == 0, shown.output
    assert "Merci pour votre référence" in shown.output
    assert code in shown.output
    assert "@example.org" in shown.output  # the coordinator reads the message as sent
    html = cli("mail", "show", "1", "--html")
    assert "<!DOCTYPE html>" in html.output

    missing = cli("mail", "show", "99")
    assert missing.exit_code == 1
    assert "no message in the mail sink '99'" in missing.output


def test_outbox_list_show_and_retry_a_rejected_invitation(cli, mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    code = factories.referral(mail_app, referrer)
    advisors.invite_advisor(mail_app.uow(), code, Meta(actor="test"), mail_app.clock)
    address = contact(mail_app, code).email
    smtp_server.reject(address)
    cli("mail", "dispatch")

    listed = cli("outbox", "list", "--status", "failed")
    assert listed.exit_code == 0, listed.output
    assert "invitation" in listed.output and code in listed.output
    assert "550 5.1.1" in listed.output
    assert address not in listed.output
    failed_id = next(
        line.split("│")[1].strip()
        for line in listed.output.splitlines()
        if "invitation" in line and "│" in line
    )

    shown = cli("outbox", "show", failed_id)
    assert shown.exit_code == 0, shown.output
    assert f"invitation:{code}" in shown.output and "failed" in shown.output

    assert cli("outbox", "retry").exit_code == 1  # says what to retry
    smtp_server.accept(address)
    retried = cli("outbox", "retry", failed_id)
    assert f"re-queued 1 notification(s): {failed_id}" in retried.output
    cli("mail", "dispatch")
    recipients = [m.header("X-Ppflow-Recipient") for m in smtp_server.messages()]
    assert recipients.count(code) == 1

    wrong = cli("outbox", "list", "--status", "lost")
    assert wrong.exit_code == 1 and "not one of pending" in wrong.output


def test_mail_sink_command_listens_on_loopback_and_stores_what_it_receives(tmp_path):
    port = free_port()
    maildir = tmp_path / "sink"
    script = textwrap.dedent(
        f"""
        from ppflow.bootstrap import bootstrap
        from ppflow.cli import app
        from ppflow.settings import Settings
        settings = Settings(data_dir={str(tmp_path)!r})
        app(
            ["mail-sink", "--port", "{port}", "--maildir", {str(maildir)!r}],
            obj=bootstrap(settings),
        )
        """
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        first = server.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in first, first + server.stdout.read()
        assert str(maildir) in server.stdout.readline()
        message = EmailMessage()
        message["From"] = "a@example.org"
        message["To"] = "b@example.org"
        message["Subject"] = "hello"
        message.set_content("body")
        asyncio.run(aiosmtplib.send(message, hostname="127.0.0.1", port=port))
        assert count_messages(maildir) == 1
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)


def test_advisor_add_refuses_control_characters_as_the_csv_import_does(cli, mail_app):
    referrer = factories.staff(mail_app, "provider")

    added = cli(
        "advisor", "add", "--first-name", "Eve\r\nBcc: x@y.example", "--last-name", "Roy",
        "--email", "eve.roy@example.org", "--referred-by", referrer,
    )  # fmt: skip

    assert added.exit_code != 0
    assert "first name contains control characters" in added.output
    assert "Bcc" not in added.output and "Traceback" not in added.output
    assert len(added.output.strip().splitlines()) == 1
    with mail_app.uow() as uow:
        assert uow.advisors.find_by_email_or_phone(["eve.roy@example.org"], []) == {}


def test_outbox_retry_requeues_what_a_dead_dispatcher_left_sending(cli, mail_app, smtp_server):
    referrer = factories.staff(mail_app, "provider")
    factories.referral(mail_app, referrer)
    outbox = mail_app.outbox()
    now = mail_app.clock.now()
    (left,) = outbox.claim(now, 1, now + timedelta(seconds=30), "died")

    held = cli("outbox", "retry", str(left.id))
    assert held.exit_code == 0, held.output
    assert "re-queued 0" in held.output and "still held by a running dispatcher" in held.output

    mail_app.clock.moment += timedelta(seconds=31)
    retried = cli("outbox", "retry", "--status", "sending")
    assert f"re-queued 1 notification(s): {left.id}" in retried.output
    assert cli("mail", "dispatch").exit_code == 0
    assert smtp_server.count() == 1
