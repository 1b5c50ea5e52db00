"""Sending with aiosmtplib: a few connections opened once per dispatcher pass and reused
for every message, each message multipart text + HTML.

How a failure is classified (the dispatcher decides what to do with it):
- **permanent**: the server refused the recipient or the message with a 5xx reply;
- **transient**: anything else: connection refused or dropped, timeout, a 4xx reply, a
  refused sender or login (a configuration problem that a retry after the fix cures).

When a connection cannot be opened at all, the server is taken as unreachable for the
rest of the pass: the remaining messages fail at once as transient instead of each
waiting for its own timeout.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from ppflow.services.notifications import Delivery, OutgoingEmail
from ppflow.settings import SmtpSettings

CONNECTION_ERRORS = (SMTPException, OSError, asyncio.TimeoutError)


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((email.to_name, email.to_address))
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = email.message_id
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpMailer:
    """One dispatcher pass's connections: ``async with SmtpMailer(settings) as m``."""

    def __init__(self, settings: SmtpSettings, concurrency: int | None = None):
        if settings.use_tls and settings.starttls:
            raise ValueError("SMTP: use_tls (implicit TLS) and starttls exclude each other")
        self.settings = settings
        self.concurrency = max(1, concurrency or settings.concurrency)
        self._clients: list[aiosmtplib.SMTP | None] = []
        self._unreachable: str | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._local_hostname = socket.gethostname() or "localhost"

    async def __aenter__(self) -> SmtpMailer:
        self._clients = [None] * self.concurrency
        self._unreachable = None
        if self.settings.ca_file and (self.settings.use_tls or self.settings.starttls):
            self._tls_context = ssl.create_default_context(cafile=str(self.settings.ca_file))
        return self

    async def __aexit__(self, *exc: object) -> None:
        clients = [c for c in self._clients if c is not None]
        self._clients = [None] * self.concurrency
        await asyncio.gather(*(self._quit(c) for c in clients))

    @property
    def unreachable(self) -> str | None:
        return self._unreachable

    async def send(self, emails: Sequence[OutgoingEmail]) -> list[Delivery]:
        queue = deque(emails)
        results: dict[int, Delivery] = {}
        slots = range(min(self.concurrency, len(emails)))
        await asyncio.gather(*(self._work(slot, queue, results) for slot in slots))
        return [results[email.key] for email in emails]

    # ------------------------------------------------------------------ internals

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username or None,
            password=s.password if s.username else None,
            use_tls=s.use_tls,
            start_tls=bool(s.starttls),
            tls_context=self._tls_context,
            timeout=s.timeout_seconds,
            local_hostname=self._local_hostname,
        )

    async def _work(self, slot: int, queue: deque, results: dict[int, Delivery]) -> None:
        while queue:
            email = queue.popleft()
            if self._unreachable:
                results[email.key] = Delivery(email.key, False, reply=self._unreachable)
                continue
            client = self._clients[slot]
            if client is None or not client.is_connected:
                client = self._new_client()
                try:
                    await client.connect()
                except CONNECTION_ERRORS as exc:
                    self._unreachable = f"cannot connect to the SMTP server: {_describe(exc)}"
                    results[email.key] = Delivery(email.key, False, reply=self._unreachable)
                    continue
                self._clients[slot] = client
            results[email.key] = await self._deliver(slot, client, email)

    async def _deliver(self, slot: int, client: aiosmtplib.SMTP, email: OutgoingEmail) -> Delivery:
        key = email.key
        try:
            message = build_message(email, self.settings.sender)
        except (ValueError, TypeError) as exc:
            return Delivery(key, False, permanent=True, reply=f"message not built: {exc}")
        try:
            await client.send_message(message)
            return Delivery(key, True)
        except SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            reply = f"{refusal.code} {refusal.message}"
            return Delivery(key, False, permanent=_is_permanent(refusal.code), reply=reply)
        except SMTPSenderRefused as exc:
            return Delivery(key, False, reply=f"sender refused: {exc.code} {exc.message}")
        except SMTPNotSupported as exc:
            return Delivery(key, False, permanent=True, reply=f"not supported: {exc}")
        except SMTPResponseException as exc:
            if exc.code == 421:  # the server is closing the connection
                await self._drop(slot, client)
            reply = f"{exc.code} {exc.message}"
            return Delivery(key, False, permanent=_is_permanent(exc.code), reply=reply)
        except CONNECTION_ERRORS as exc:
            # Dropped or timed out mid-conversation: the state of the connection is
            # unknown, so open a new one for the next message.
            await self._drop(slot, client)
            return Delivery(key, False, reply=_describe(exc))

    async def _drop(self, slot: int, client: aiosmtplib.SMTP) -> None:
        self._clients[slot] = None
        client.close()

    async def _quit(self, client: aiosmtplib.SMTP) -> None:
        try:
            if client.is_connected:
                await client.quit(timeout=5)
        except CONNECTION_ERRORS:
            client.close()
