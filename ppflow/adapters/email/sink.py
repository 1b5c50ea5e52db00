"""The mail sink of the embedded default: an aiosmtpd server on loopback that stores every
message it accepts in a Maildir, where ``ppflow mail list`` and ``mail show`` read it.

It offers SMTPUTF8 (RFC 6531), as most servers do today, so that mail to an
internationalised address such as ``ève@example.org`` can be tried on the embedded default;
``smtputf8=False`` makes a server without it, as some older ones are."""

from __future__ import annotations

import mailbox
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

DEFAULT_HOST = "127.0.0.1"


class MaildirHandler:
    """aiosmtpd handler: one Maildir file per accepted message, written before the server
    answers 250, so that what the sender counts as delivered is on disk."""

    def __init__(self, maildir: Path):
        self.path = Path(maildir)
        # a fresh setup has no data directory yet (on PostgreSQL nothing else makes it)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(self.path, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.store(envelope)
        return "250 2.0.0 Message accepted for delivery"

    def store(self, envelope) -> str:
        envelope_lines = "".join(f"Delivered-To: {rcpt}\n" for rcpt in envelope.rcpt_tos)
        body = envelope.original_content.replace(b"\r\n", b"\n")
        return self.maildir.add(envelope_lines.encode() + body)


class MailSink:
    """Start and stop a sink in a background thread (tests, demo) or run it in the
    foreground with :meth:`serve_forever` (``ppflow mail-sink``)."""

    def __init__(
        self,
        maildir: Path,
        host: str = DEFAULT_HOST,
        port: int = 8025,
        handler: MaildirHandler | None = None,
        smtputf8: bool = True,
    ):
        self.maildir = Path(maildir)
        self.smtputf8 = smtputf8
        self.host = host
        self.port = port
        self.handler = handler or MaildirHandler(self.maildir)
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> MailSink:
        if self._controller is None:
            controller = Controller(
                self.handler,
                hostname=self.host,
                port=self.port,
                enable_SMTPUTF8=self.smtputf8,
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` is set, or the process gets Ctrl-C or SIGTERM."""
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.start()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
