"""Sending with aiosmtplib: a few connections opened once per dispatcher pass and reused
for every message, each message multipart text + HTML.

An internationalised address (not plain ASCII, such as ``ève@example.org``) goes out
with SMTPUTF8 (RFC 6531) when the server offers it; when it does not, the message fails
for good with a reason saying so, since no retry can change that.

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
import base64
import binascii
import functools
import re
import secrets
import socket
import ssl
from collections.abc import Callable, Sequence
from email.utils import formataddr, formatdate, parseaddr

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from ppflow.services.ports import Clock, Delivery, OutgoingEmail
from ppflow.settings import SmtpSettings

CONNECTION_ERRORS = (SMTPException, OSError, asyncio.TimeoutError)
NO_SMTPUTF8 = (
    "the address is internationalised (not plain ASCII) and the SMTP server does not "
    "offer SMTPUTF8; not sent"
)
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _encoded_words(value: str) -> str:
    """A header value as RFC 2047 encoded words when it is not plain ASCII."""
    if value.isascii():
        return value
    words, chunk = [], ""
    for char in value:
        if len((chunk + char).encode()) > 45:  # 45 bytes -> 60 base64 characters a word
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return "\r\n ".join(
        "=?utf-8?b?" + base64.b64encode(word.encode()).decode() + "?=" for word in words
    )


def _mailbox(name: str, address: str) -> str:
    """A From or To header's value: the name as RFC 2047 encoded words when it is not plain
    ASCII (quoted when it holds specials), the address as it is. An internationalised
    address is written in UTF-8 (RFC 6532: such a message goes only to a server offering
    SMTPUTF8)."""
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    if not name:
        return address
    if not name.isascii():
        name = _encoded_words(name)
    elif _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def sender_parts(sender: str) -> tuple[str, str]:
    """The setting ``sender`` ("partenariat@example.org", or with a name, "Équipe
    partenariat <partenariat@example.org>") as its name and its address."""
    name, address = parseaddr(sender)
    return name, (address or sender.strip())


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> str:
    """The From header of every message a sender sends (worked out once)."""
    return _mailbox(*sender_parts(sender))


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").encode()
    return binascii.b2a_qp(body, istext=True).replace(b"\n", b"\r\n")


def build_message(email: OutgoingEmail, sender: str, date: str) -> bytes:
    """The message as it goes on the wire: multipart/alternative, text then HTML, both
    UTF-8 quoted-printable. The sender is an address, or a name and an address
    ("Équipe partenariat <partenariat@example.org>"); names that are not plain ASCII go
    out as RFC 2047 encoded words.

    Built from the standard library's pieces (``formataddr``, ``binascii``'s
    quoted-printable) rather than ``email.message.EmailMessage``, whose header parsing
    and folding cost several times more CPU than sending the message does:
    ``tests/benchmarks/bench_dispatch.py`` measures both. The sink's reader and any mail
    client parse it as usual. The boundary starts with "=_", which quoted-printable
    content can never contain."""
    for value in (sender, email.to_name, email.to_address, email.subject, *sum(email.headers, ())):
        if "\r" in value or "\n" in value:
            raise ValueError("a header holds a line break")
    headers = [
        ("From", _from_header(sender)),
        ("To", _mailbox(email.to_name, email.to_address)),
        ("Subject", _encoded_words(email.subject)),
        ("Date", date),
        ("Message-ID", email.message_id),
        *email.headers,
        ("MIME-Version", "1.0"),
    ]
    boundary = "=_ppflow_" + secrets.token_hex(12)
    lines = []
    for name, value in headers:
        lines.append(f"{name}: {value}")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    part = (
        '--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return b"".join(
        (
            head,
            part.format(b=boundary, kind="plain").encode(),
            _qp(email.text),
            b"\r\n",
            part.format(b=boundary, kind="html").encode(),
            _qp(email.html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpMailer:
    """One dispatcher pass's connections: ``async with SmtpMailer(settings, clock) as m``.
    The clock dates each message."""

    def __init__(self, settings: SmtpSettings, clock: Clock, concurrency: int | None = None):
        if settings.use_tls and settings.starttls:
            raise ValueError("SMTP: use_tls (implicit TLS) and starttls exclude each other")
        self.settings = settings
        self.clock = clock
        self._date: tuple[int, str] = (0, "")
        self.concurrency = max(1, concurrency or settings.concurrency)
        self._clients: list[aiosmtplib.SMTP | None] = []
        self._unreachable: str | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._local_hostname = socket.gethostname() or "localhost"
        self._envelope_sender = sender_parts(settings.sender)[1]

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

    async def stream(self, source: asyncio.Queue, deliver: Callable[[Delivery], None]) -> None:
        """Send what arrives on ``source`` until a ``None`` arrives, over up to
        ``concurrency`` connections, reporting each outcome to ``deliver`` as it comes."""
        await asyncio.gather(
            *(self._work(slot, source, deliver) for slot in range(self.concurrency))
        )

    async def send(self, emails: Sequence[OutgoingEmail]) -> list[Delivery]:
        """Send a list and return the outcomes in the same order."""
        source: asyncio.Queue = asyncio.Queue()
        for email in emails:
            source.put_nowait(email)
        source.put_nowait(None)
        results: dict[int, Delivery] = {}
        await self.stream(source, lambda d: results.__setitem__(d.key, d))
        return [results[email.key] for email in emails]

    # ------------------------------------------------------------------ internals

    def _date_header(self) -> str:
        """The Date header, worked out once a second (messages go out by the hundred)."""
        second = int(self.clock.now().timestamp())
        if self._date[0] != second:
            self._date = (second, formatdate(second, localtime=False))
        return self._date[1]

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

    async def _work(
        self, slot: int, source: asyncio.Queue, deliver: Callable[[Delivery], None]
    ) -> None:
        while (email := await source.get()) is not None:
            deliver(await self._attempt(slot, email))
        source.put_nowait(None)  # let the other workers see the end too

    async def _attempt(self, slot: int, email: OutgoingEmail) -> Delivery:
        if self._unreachable:
            return Delivery(email.key, False, reply=self._unreachable)
        client = self._clients[slot]
        if client is None or not client.is_connected:
            client = self._new_client()
            try:
                await client.connect()
            except CONNECTION_ERRORS as exc:
                self._unreachable = f"cannot connect to the SMTP server: {_describe(exc)}"
                return Delivery(email.key, False, reply=self._unreachable)
            self._clients[slot] = client
        return await self._deliver(slot, client, email)

    async def _deliver(self, slot: int, client: aiosmtplib.SMTP, email: OutgoingEmail) -> Delivery:
        key = email.key
        try:
            message = build_message(email, self.settings.sender, self._date_header())
        except (ValueError, TypeError, UnicodeError) as exc:
            return Delivery(key, False, permanent=True, reply=f"message not built: {exc}")
        try:
            options = []
            if not (self._envelope_sender + email.to_address).isascii():
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                if not client.supports_extension("smtputf8"):
                    return Delivery(key, False, permanent=True, reply=NO_SMTPUTF8)
                options = ["SMTPUTF8"]
            await client.sendmail(
                self._envelope_sender, [email.to_address], message, mail_options=options
            )
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
