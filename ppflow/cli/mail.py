"""``ppflow templates``, ``ppflow mail``, ``ppflow mail-sink`` and ``ppflow outbox``: the
templates check, dispatch, the development mail sink and reading it, and the outbox.

Output names people by code; only ``mail show`` prints a message as it was sent (it is
how a coordinator reads the sink), personal data included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ppflow.cli.context import current_app, out, styled
from ppflow.cli.errors import CommandGroup, fail

templates_app = CommandGroup(help="The templates and their translations (gettext catalogue).")
mail_app = CommandGroup(help="Send queued mail; read the mail sink.")
outbox_app = CommandGroup(help="The notification outbox: see and re-queue mail.")

STATUS_STYLE = {
    "pending": "yellow",
    "sending": "cyan",
    "sent": "green",
    "failed": "red",
    "dead": "bold red",
}


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------- templates


@templates_app.command("check")
def templates_check() -> None:
    """Render every template in French and English with sample context, and check the
    gettext catalogue; exit 1 on a missing variable or template, and on a message
    untranslated or fuzzy in a language, or said outside _() or missing from the .pot."""
    directory = current_app().settings.templates_dir
    results = current_app().check_templates()
    table = Table(title=f"Templates in {directory}")
    for column in ("notification", "language", "recipient", "result"):
        table.add_column(column)
    for result in results:
        verdict = Text("ok", "green") if result.ok else Text("; ".join(result.problems), "red")
        table.add_row(result.notification, result.language, result.audience, verdict)
    out.print(table)
    bad = [r for r in results if not r.ok]
    if bad:
        fail(f"{len(bad)} template check(s) failed")
    out.print(f"{len(results)} checks passed.")


# --------------------------------------------------------------------------- mail


@mail_app.command("dispatch")
def dispatch(
    limit: Annotated[
        int | None, typer.Option(help="Claim at most this many notifications.")
    ] = None,
) -> None:
    """Run one dispatcher pass: send every notification that is due."""
    smtp = current_app().settings.smtp
    report = current_app().dispatch_pending(limit)
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
            problems.add_row(str(ident), Text(status, style), _short(reason, 90))
        out.print(problems)


@mail_app.command("list")
def list_mail(
    limit: Annotated[int, typer.Option(help="Show the most recent N messages.")] = 50,
) -> None:
    """List the messages stored by the mail sink (codes only; see `mail show`)."""
    root = current_app().maildir
    messages = current_app().stored_mail()
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
def show(
    ident: Annotated[str, typer.Argument(help="Number from `mail list`, key or Message-ID.")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
) -> None:
    """Print one message from the sink as the recipient would read it."""
    stored = current_app().stored_mail(ident)
    for name in ("From", "To", "Subject", "Date", "Message-ID", "X-Ppflow-Notification"):
        out.print(styled("[bold]{name}:[/] {value}", name=name, value=stored.header(name)))
    out.print()
    out.print(stored.html if html else stored.text, highlight=False)


def mail_sink(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "",
    port: Annotated[int, typer.Option(help="Port (default: PPFLOW_SMTP__PORT).")] = 0,
    maildir: Annotated[
        Path | None, typer.Option(help="Maildir (default: PPFLOW_SMTP__MAILDIR).")
    ] = None,
) -> None:
    """Run the development SMTP server in the foreground; every message it accepts is
    stored in a Maildir. Ctrl-C stops it."""
    sink = current_app().mail_sink(host, port, maildir)
    try:
        sink.start()
    except OSError as error:
        fail(f"cannot listen on {sink.host}:{sink.port}: {error}")
    out.print(f"mail sink listening on {sink.host}:{sink.port}", highlight=False)
    out.print(f"storing messages in {sink.maildir}", highlight=False)
    out.print("read them with `ppflow mail list`; Ctrl-C stops the sink", highlight=False)
    sink.serve_forever()


# ------------------------------------------------------------------------- outbox


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option(help="pending, sending, sent, failed or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show the most recent N.")] = 50,
) -> None:
    """List notifications, most recent first."""
    outbox = current_app().outbox()
    entries = outbox.list(status=status, limit=limit)
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
            Text(e.status, style),
            str(e.attempts),
            nxt,
            _short(e.last_error, 50),
        )
    out.print(table)


@outbox_app.command("show")
def outbox_show(ident: Annotated[int, typer.Argument(help="Notification id.")]) -> None:
    """Everything the outbox holds about one notification (codes only)."""
    e = current_app().outbox().get(ident)
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
        str | None,
        typer.Option(help="Re-queue every notification in this state: failed, dead or sending."),
    ] = None,
) -> None:
    """Put failed or dead notifications back in the queue, due now, and those left
    sending by a dispatcher whose lease is over (it stopped before recording them)."""
    done = current_app().outbox().retry(current_app().clock.now(), ids or (), status)
    skipped = sorted(set(ids or ()) - set(done))
    out.print(f"re-queued {len(done)} notification(s): {', '.join(map(str, done)) or '-'}")
    if skipped:
        out.print(
            "left alone (not failed or dead, or still held by a running dispatcher): "
            + ", ".join(map(str, skipped)),
            highlight=False,
        )
