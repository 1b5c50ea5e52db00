"""Builds the dispatcher's real ports from the bootstrapped app: the one place that knows
which outbox, directory, renderer and mailer the dispatcher uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ppflow.adapters.email.rendering import JinjaRenderer, make_environment
from ppflow.adapters.email.sending import SmtpMailer
from ppflow.adapters.outbox import SqlDirectory, SqlOutbox
from ppflow.services.links import withdrawal_link
from ppflow.services.notifications import (
    DispatchPolicy,
    DispatchPorts,
    DispatchReport,
    dispatch_once,
    dispatch_once_async,
)
from ppflow.settings import Settings

if TYPE_CHECKING:
    from ppflow.bootstrap import App


def maildir_path(settings: Settings) -> Path:
    return settings.smtp.maildir or settings.data_dir / "maildir"


class WithdrawalLinks:
    """Gives every e-mail to an advisor their personal, signed withdrawal link (the footer
    shows it), made when the message is rendered so that it is fresh when it is sent."""

    def __init__(self, inner: JinjaRenderer, settings: Settings):
        self.inner = inner
        self.settings = settings

    def render(self, template: str, language: str, context):
        recipient = context.get("recipient")
        if getattr(recipient, "kind", None) == "advisor" and "withdrawal_url" not in context:
            url = withdrawal_link(self.settings, recipient.code)
            context = {**context, "withdrawal_url": url}
        return self.inner.render(template, language, context)


def make_renderer(settings: Settings) -> WithdrawalLinks:
    return WithdrawalLinks(JinjaRenderer(make_environment(settings.templates_dir)), settings)


def dispatch_policy(settings: Settings) -> DispatchPolicy:
    smtp = settings.smtp
    return DispatchPolicy(
        batch_size=smtp.batch_size,
        lease_seconds=smtp.lease_seconds,
        max_attempts=smtp.max_attempts,
        retry_base_seconds=smtp.retry_base_seconds,
        retry_max_seconds=smtp.retry_max_seconds,
        default_language=smtp.default_language,
    )


def mail_ports(app: App) -> DispatchPorts:
    settings = app.settings
    return DispatchPorts(
        outbox=SqlOutbox(app.session_factory),
        directory=SqlDirectory(app.session_factory),
        renderer=make_renderer(settings),
        mailer=lambda: SmtpMailer(settings.smtp),
        sender=settings.smtp.sender,
    )


def dispatch_pending(app: App, max_rows: int | None = None) -> DispatchReport:
    """One dispatcher pass with the app's settings and clock (CLI and scheduled flow)."""
    return dispatch_once(
        mail_ports(app),
        clock=app.clock,
        policy=dispatch_policy(app.settings),
        max_rows=max_rows,
    )


async def dispatch_pending_async(app: App, max_rows: int | None = None) -> DispatchReport:
    return await dispatch_once_async(
        mail_ports(app),
        clock=app.clock,
        policy=dispatch_policy(app.settings),
        max_rows=max_rows,
    )
