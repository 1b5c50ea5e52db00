"""The one place where concrete adapters are built and wired, from settings read once.

The CLI, the survey portal and the flows ask the :class:`App` for what they need (a unit of
work, the dispatcher's ports, the portal, the questionnaires) and never build an adapter
themselves. Secrets kept in Prefect Secret blocks are read here too, once, by
:meth:`App.read_secrets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters import db
from ppflow.services.ports import Clock
from ppflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ppflow.adapters.email.rendering import PersonalLinks, TemplateCheck
    from ppflow.adapters.email.sink import MailSink
    from ppflow.adapters.indicators import SqlIndicators
    from ppflow.adapters.outbox import SqlOutbox
    from ppflow.adapters.sweeps import SqlSweeps
    from ppflow.adapters.unit_of_work import SqlUnitOfWork
    from ppflow.services.indicators import Indicators
    from ppflow.services.links import SigningKeys
    from ppflow.services.notifications import DispatchPolicy, DispatchPorts, DispatchReport
    from ppflow.services.questionnaires import QuestionnaireLibrary


@dataclass
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    _secrets_read: bool = field(default=False, repr=False)

    # ------------------------------------------------------------------- database

    # Each adapter is imported when it is first asked for, so that a command starts with
    # what it uses only (`ppflow report indicators` never loads the privacy or the import
    # machinery).

    def uow(self) -> SqlUnitOfWork:
        """A unit of work: every write goes through one, and commits with it."""
        from ppflow.adapters.unit_of_work import SqlUnitOfWork

        return SqlUnitOfWork(self.session_factory, self.maildir)

    def sweeps(self) -> SqlSweeps:
        from ppflow.adapters.sweeps import SqlSweeps

        return SqlSweeps(self.session_factory)

    def indicators(self) -> SqlIndicators:
        from ppflow.adapters.indicators import SqlIndicators

        return SqlIndicators(self.session_factory)

    def upgrade(self, revision: str = "head") -> None:
        db.upgrade(self.engine, revision)

    def downgrade(self, revision: str = "base") -> None:
        db.downgrade(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None when it is empty)."""
        return db.current_revision(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # -------------------------------------------------------------------- secrets

    def read_secrets(self) -> App:
        """Read the secrets kept in Prefect Secret blocks into the settings, once: the SMTP
        password (``PPFLOW_SMTP__PASSWORD_BLOCK``) and the key that signs survey and
        withdrawal links (``PPFLOW_PORTAL__SIGNING_KEY_BLOCK``). Prefect is imported only
        when a block is named, so the portal and the CLI never need it otherwise."""
        if self._secrets_read:
            return self
        smtp, portal = self.settings.smtp, self.settings.portal
        if (smtp.password_block and not smtp.password) or portal.signing_key_block:
            from prefect.blocks.system import Secret

            def secret(block: str) -> Secret[str]:
                # Typed for a synchronous caller, as every caller of the bootstrap is: only
                # within an event loop would ``load`` give a coroutine.
                return cast("Secret[str]", Secret.load(block))

            if smtp.password_block and not smtp.password:
                smtp.password = secret(smtp.password_block).get()
            if portal.signing_key_block:
                portal.signing_key = secret(portal.signing_key_block).get()
        self._secrets_read = True
        return self

    # ---------------------------------------------------------------------- e-mail

    @property
    def maildir(self) -> Path:
        """Where ``ppflow mail-sink`` keeps the messages it receives."""
        return self.settings.smtp.maildir or self.settings.data_dir / "maildir"

    def signing_keys(self) -> SigningKeys:
        """The keys that sign (the current one) and check (it and the previous ones) the
        personal links, read from their Secret block if one is named. Outside development
        any key not made by ``ppflow keygen`` raises SigningKeyError."""
        from ppflow.services.links import signing_keys

        self.read_secrets()
        return signing_keys(self.settings)

    def renderer(self) -> PersonalLinks:
        """Renders every notification from the templates. The personal links an e-mail
        carries (an advisor's withdrawal link, the survey link of a survey token) are
        signed with the current key when it is rendered, so that they are fresh and the
        outbox holds none. Refuses unusable keys (:meth:`signing_keys`) before any mail."""
        from ppflow.adapters.email.rendering import JinjaRenderer, PersonalLinks

        key = self.signing_keys().current
        inner = JinjaRenderer.from_directory(
            self.settings.templates_dir, self.settings.organization_names()
        )
        portal = self.settings.portal
        return PersonalLinks(inner, self.settings.portal_url, key, portal.link_days, self.clock)

    def check_templates(self) -> list[TemplateCheck]:
        """Everything people read, rendered in every language with sample data: each
        notification, the wording catalogues (the digest and the CLI's labels among them),
        every page of the survey portal, and the HTML report."""
        from ppflow.adapters.email.rendering import check_templates
        from ppflow.adapters.portal_web import check_portal_templates
        from ppflow.adapters.report import check_report_templates

        folder = self.settings.templates_dir
        return [
            *check_templates(folder),
            *check_portal_templates(folder),
            *check_report_templates(folder),
        ]

    def stored_mail(self, ident: str | None = None):
        """The messages the mail sink kept (all of them, or the one ``ident`` names)."""
        from ppflow.adapters.email.maildir import find_message, read_maildir

        return read_maildir(self.maildir) if ident is None else find_message(self.maildir, ident)

    def clear_mail(self) -> int:
        """Delete every message the mail sink kept; returns how many."""
        from ppflow.adapters.email.maildir import remove_all_messages

        return remove_all_messages(self.maildir)

    def outbox(self) -> SqlOutbox:
        from ppflow.adapters.outbox import SqlOutbox

        return SqlOutbox(self.session_factory)

    def mail_sink(
        self, host: str | None = None, port: int | None = None, maildir: Path | None = None
    ) -> MailSink:
        """The embedded SMTP server that keeps every message it receives in a Maildir."""
        from ppflow.adapters.email.sink import DEFAULT_HOST, MailSink

        port = port or self.settings.smtp.port
        return MailSink(maildir or self.maildir, host=host or DEFAULT_HOST, port=port)

    def mail_ports(self) -> DispatchPorts:
        from ppflow.adapters.email.sending import SmtpMailer
        from ppflow.adapters.outbox import SqlDirectory
        from ppflow.services.notifications import DispatchPorts

        smtp = self.read_secrets().settings.smtp
        return DispatchPorts(
            outbox=self.outbox(),
            directory=SqlDirectory(self.session_factory),
            renderer=self.renderer(),
            mailer=lambda: SmtpMailer(smtp, self.clock),
            sender=smtp.sender,
        )

    def dispatch_policy(self) -> DispatchPolicy:
        from ppflow.services.notifications import DispatchPolicy

        smtp = self.settings.smtp
        return DispatchPolicy(
            batch_size=smtp.batch_size,
            lease_seconds=smtp.lease_seconds,
            max_attempts=smtp.max_attempts,
            retry_base_seconds=smtp.retry_base_seconds,
            retry_max_seconds=smtp.retry_max_seconds,
            default_language=smtp.default_language,
        )

    def dispatch_pending(self, max_rows: int | None = None) -> DispatchReport:
        """One dispatcher pass with this app's settings and clock (CLI and scheduled flow)."""
        from ppflow.services.dispatcher import dispatch_once

        return dispatch_once(
            self.mail_ports(), clock=self.clock, policy=self.dispatch_policy(), max_rows=max_rows
        )

    # ---------------------------------------------------------------------- report

    def write_report(
        self, result: Indicators, directory: Path | None = None, lang: str | None = None
    ) -> tuple[Path, Path]:
        """The HTML report and the CSV export of ``result``, written to ``directory``
        (default ``<data_dir>/reports``), in ``lang`` (default: the e-mails' default
        language); returns both paths."""
        from ppflow.adapters.report import write_report

        directory = directory or self.settings.data_dir / "reports"
        language = lang or self.settings.smtp.default_language
        return write_report(
            result, directory, self.settings.templates_dir, self.clock.now(), language
        )

    # ---------------------------------------------------------------------- portal

    def questionnaires(self) -> QuestionnaireLibrary:
        from ppflow.services.questionnaires import library_for

        return library_for(self.settings.data_dir)

    def portal(self) -> Starlette:
        """The survey portal's web application over this app's database. It opens links
        signed with the current or a previous key; unusable keys are refused
        (:meth:`signing_keys`)."""
        from ppflow.adapters.portal_web import create_portal

        keys = self.signing_keys()
        return create_portal(
            self.uow,
            self.clock,
            keys,
            self.settings.templates_dir,
            self.questionnaires(),
        )


class SystemClock:
    """The real time. Only :func:`bootstrap` chooses it: use cases, flows and adapters are
    handed a clock, so that tests and replays can pass any date."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    settings = settings or get_settings()
    engine = db.make_engine(settings.resolved_database_url, settings.database_schema)
    return App(
        settings=settings,
        engine=engine,
        session_factory=db.make_session_factory(engine),
        clock=clock or SystemClock(),
    )
