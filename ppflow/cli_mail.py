"""Mail commands of the ``ppflow`` CLI: templates check, dispatch, the mail sink, reading
the sink, and the outbox.

``register(app, get_app)`` adds them to the main Typer app. Output names people by code;
only ``mail show`` prints a message as it was sent (it is how a coordinator reads the
sink), personal data included.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ppflow.domain.errors import PPFlowError

if TYPE_CHECKING:
    from ppflow.bootstrap import App

STATUS_STYLE = {
    "pending": "yellow",
    "sending": "cyan",
    "sent": "green",
    "failed": "red",
    "dead": "bold red",
}


def _consoles() -> tuple[Console, Console]:
    width = None if sys.stdout.isatty() else 160
    return Console(width=width), Console(stderr=True, width=width)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer, get_app: Callable[[], App]) -> None:
    """Add ``templates``, ``mail``, ``mail-sink`` and ``outbox`` to ``app``."""
    out, err = _consoles()
    templates_app = typer.Typer(help="Bilingual e-mail templates.", no_args_is_help=True)
    mail_app = typer.Typer(help="Send queued mail; read the mail sink.", no_args_is_help=True)
    outbox_app = typer.Typer(
        help="The notification outbox: see and re-queue mail.", no_args_is_help=True
    )
    app.add_typer(templates_app, name="templates")
    app.add_typer(mail_app, name="mail")
    app.add_typer(outbox_app, name="outbox")

    def fail(message: str) -> None:
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(1)

    # ---------------------------------------------------------------- templates

    @templates_app.command("check")
    def templates_check() -> None:
        """Render every template in French and English with sample context; exit 1 on a
        missing variable or translation."""
        from ppflow.adapters.email.rendering import check_templates

        directory = get_app().settings.templates_dir
        results = check_templates(directory)
        table = Table(title=f"Templates in {directory}")
        for column in ("notification", "language", "recipient", "result"):
            table.add_column(column)
        for result in results:
            verdict = "[green]ok[/]" if result.ok else "[red]" + "; ".join(result.problems)
            table.add_row(result.notification, result.language, result.audience, verdict)
        out.print(table)
        bad = [r for r in results if not r.ok]
        if bad:
            fail(f"{len(bad)} template check(s) failed")
        out.print(f"{len(results)} checks passed.")

    # ---------------------------------------------------------------- mail

    @mail_app.command("dispatch")
    def mail_dispatch(
        limit: Annotated[
            int | None, typer.Option(help="Claim at most this many notifications.")
        ] = None,
    ) -> None:
        """Run one dispatcher pass: send every notification that is due."""
        from ppflow.adapters.email.wiring import dispatch_pending

        application = get_app()
        smtp = application.settings.smtp
        try:
            report = dispatch_pending(application, max_rows=limit)
        except PPFlowError as error:
            fail(str(error))
        table = Table(title=f"Dispatch to {smtp.host}:{smtp.port}")
        for column in ("claimed", "sent", "retry later", "failed", "dead", "notices queued"):
            table.add_column(column, justify="right")
        table.add_row(
            *map(
                str,
                (
                    report.claimed,
                    report.sent,
                    report.retried,
                    report.failed,
                    report.dead,
                    report.notices,
                ),
            )
        )
        out.print(table)
        if report.problems:
            problems = Table(title="Not sent in this pass")
            for column in ("id", "status", "reason"):
                problems.add_column(column)
            for ident, status, reason in report.problems[:50]:
                style = STATUS_STYLE.get(status, "")
                problems.add_row(str(ident), f"[{style}]{status}[/]", _short(reason, 90))
            out.print(problems)

    @mail_app.command("list")
    def mail_list(
        limit: Annotated[int, typer.Option(help="Show the most recent N messages.")] = 50,
    ) -> None:
        """List the messages stored by the mail sink (codes only; see `mail show`)."""
        from ppflow.adapters.email.maildir import read_maildir
        from ppflow.adapters.email.wiring import maildir_path

        root = maildir_path(get_app().settings)
        messages = read_maildir(root)
        table = Table(title=f"Mail sink {root}: {len(messages)} message(s)")
        for column in ("#", "received", "template", "recipient", "subject"):
            table.add_column(column)
        for stored in messages[-limit:] if limit > 0 else messages:
            table.add_row(
                str(stored.number),
                _when(stored.received),
                stored.header("X-Ppflow-Template") or "-",
                stored.header("X-Ppflow-Recipient") or "-",
                _short(stored.header("Subject"), 70),
            )
        out.print(table)

    @mail_app.command("show")
    def mail_show(
        ident: Annotated[str, typer.Argument(help="Number from `mail list`, key or Message-ID.")],
        html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
    ) -> None:
        """Print one message from the sink as the recipient would read it."""
        from ppflow.adapters.email.maildir import find_message
        from ppflow.adapters.email.wiring import maildir_path

        try:
            stored = find_message(maildir_path(get_app().settings), ident)
        except PPFlowError as error:
            fail(str(error))
        for name in ("From", "To", "Subject", "Date", "Message-ID", "X-Ppflow-Notification"):
            out.print(f"[bold]{name}:[/] {stored.header(name)}", highlight=False, markup=True)
        out.print()
        out.print(stored.html if html else stored.text, highlight=False, markup=False)

    @app.command("mail-sink")
    def mail_sink(
        host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "",
        port: Annotated[int, typer.Option(help="Port (default: PPFLOW_SMTP__PORT).")] = 0,
        maildir: Annotated[
            Path | None, typer.Option(help="Maildir (default: PPFLOW_SMTP__MAILDIR).")
        ] = None,
    ) -> None:
        """Run the development SMTP server in the foreground; every message it accepts is
        stored in a Maildir. Ctrl-C stops it."""
        from ppflow.adapters.email.sink import DEFAULT_HOST, MailSink
        from ppflow.adapters.email.wiring import maildir_path

        settings = get_app().settings
        sink = MailSink(
            maildir or maildir_path(settings),
            host=host or DEFAULT_HOST,
            port=port or settings.smtp.port,
        )
        try:
            sink.start()
        except OSError as error:
            fail(f"cannot listen on {sink.host}:{sink.port}: {error}")
        out.print(f"mail sink listening on {sink.host}:{sink.port}", highlight=False)
        out.print(f"storing messages in {sink.maildir}", highlight=False)
        out.print("read them with `ppflow mail list`; Ctrl-C stops the sink", highlight=False)
        sink.serve_forever()

    # ---------------------------------------------------------------- outbox

    def _outbox():
        from ppflow.adapters.outbox import SqlOutbox

        return SqlOutbox(get_app().session_factory)

    @outbox_app.command("list")
    def outbox_list(
        status: Annotated[
            str | None, typer.Option(help="pending, sending, sent, failed or dead.")
        ] = None,
        limit: Annotated[int, typer.Option(help="Show the most recent N.")] = 50,
    ) -> None:
        """List notifications, most recent first."""
        outbox = _outbox()
        try:
            entries = outbox.list(status=status, limit=limit)
        except PPFlowError as error:
            fail(str(error))
        counts = ", ".join(f"{k} {v}" for k, v in outbox.counts().items())
        table = Table(title=f"Outbox ({counts})")
        for column in ("id", "template", "recipient", "lang", "status", "tries", "next", "error"):
            table.add_column(column)
        for e in entries:
            style = STATUS_STYLE.get(e.status, "")
            nxt = _when(e.sent_at) if e.status == "sent" else _when(e.next_attempt_at)
            table.add_row(
                str(e.id),
                e.template,
                e.recipient_code,
                e.language,
                f"[{style}]{e.status}[/]",
                str(e.attempts),
                nxt,
                _short(e.last_error, 50),
            )
        out.print(table)

    @outbox_app.command("show")
    def outbox_show(ident: Annotated[int, typer.Argument(help="Notification id.")]) -> None:
        """Everything the outbox holds about one notification (codes only)."""
        try:
            e = _outbox().get(ident)
        except PPFlowError as error:
            fail(str(error))
        table = Table(show_header=False, title=f"Notification {e.id}")
        table.add_column("field", style="bold")
        table.add_column("value")
        rows = [
            ("template", e.template),
            ("recipient", f"{e.recipient_kind} {e.recipient_code}"),
            ("language", e.language),
            ("status", e.status),
            ("attempts", str(e.attempts)),
            ("next attempt", _when(e.next_attempt_at)),
            ("sent at", _when(e.sent_at)),
            ("Message-ID", e.message_id or "-"),
            ("last error", e.last_error or "-"),
            ("idempotency key", e.idempotency_key),
            ("context", ", ".join(f"{k}={v}" for k, v in e.context.items())),
            ("created", _when(e.created_at)),
        ]
        for field, value in rows:
            table.add_row(field, value)
        out.print(table)

    @outbox_app.command("retry")
    def outbox_retry(
        ids: Annotated[list[int] | None, typer.Argument(help="Notification ids.")] = None,
        status: Annotated[
            str | None, typer.Option(help="Re-queue every notification in this state.")
        ] = None,
    ) -> None:
        """Put failed or dead notifications back in the queue, due now."""
        application = get_app()
        try:
            done = _outbox().retry(application.clock.now(), ids or (), status)
        except PPFlowError as error:
            fail(str(error))
        skipped = sorted(set(ids or ()) - set(done))
        out.print(f"re-queued {len(done)} notification(s): {', '.join(map(str, done)) or '-'}")
        if skipped:
            out.print(
                f"left alone (not failed or dead): {', '.join(map(str, skipped))}",
                highlight=False,
            )
