"""Real servers on loopback: the survey portal under uvicorn, and for the notification tests
an SMTP server, the project's own mail sink (aiosmtpd on a free loopback port, storing in
a Maildir), with faults a test can switch on:
- ``down()`` / ``up()``: the port refuses connections, then listens again;
- ``reject(address, reply)``: RCPT TO for that address gets this reply (550, 451, ...);
- ``go_down_after(n)``: after n more accepted messages, the next DATA loses its
  connection without an answer and every new connection is dropped until ``up()``.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ppflow.adapters.email.maildir import StoredMessage, count_messages, read_maildir
from ppflow.adapters.email.sink import MaildirHandler, MailSink
from ppflow.settings import SmtpSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FaultyHandler(MaildirHandler):
    """The sink's handler plus switchable faults. aiosmtpd runs it on one event-loop
    thread, so its counters need no lock."""

    def __init__(self, maildir: Path):
        super().__init__(maildir)
        self.replies: dict[str, str] = {}
        self.accepted = 0
        self.budget: int | None = None  # messages still accepted before going down
        self.broken = False
        self.dropped = 0

    def _drop(self, server) -> None:
        self.dropped += 1
        server.transport.abort()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.broken:
            self._drop(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.budget is not None and self.budget <= 0:
            self.broken = True
        if self.broken:
            self._drop(server)
            return "421 4.3.0 going away"
        self.store(envelope)
        self.accepted += 1
        if self.budget is not None:
            self.budget -= 1
        return "250 2.0.0 OK"


@dataclass
class SmtpServer:
    maildir: Path
    port: int
    handler: FaultyHandler
    sink: MailSink = field(init=False)

    def __post_init__(self):
        self.sink = MailSink(self.maildir, port=self.port, handler=self.handler)

    def down(self) -> None:
        self.sink.stop()

    def up(self) -> None:
        self.handler.broken = False
        self.handler.budget = None
        self.sink.start()

    def reject(self, address: str, reply: str = "550 5.1.1 <%s>: mailbox unavailable") -> None:
        self.handler.replies[address.lower()] = reply.replace("%s", address)

    def accept(self, address: str) -> None:
        self.handler.replies.pop(address.lower(), None)

    def go_down_after(self, accepted: int) -> None:
        self.handler.budget = accepted

    def count(self) -> int:
        return count_messages(self.maildir)

    def messages(self) -> list[StoredMessage]:
        return read_maildir(self.maildir)

    def settings(self, **overrides) -> SmtpSettings:
        values = dict(
            host="127.0.0.1",
            port=self.port,
            sender="partenariat@hopital.example",
            timeout_seconds=5,
            concurrency=4,
            batch_size=50,
            retry_base_seconds=60,
            retry_max_seconds=3600,
            max_attempts=5,
            maildir=self.maildir,
        )
        values.update(overrides)
        return SmtpSettings(**values)


@pytest.fixture
def smtp_server(tmp_path) -> SmtpServer:
    maildir = tmp_path / "maildir"
    server = SmtpServer(maildir, free_port(), FaultyHandler(maildir))
    server.sink.start()
    yield server
    server.sink.stop()


@pytest.fixture
def mail_app(sqlite_app, smtp_server):
    """The application on a fresh SQLite database, sending to the test server."""
    sqlite_app.settings = sqlite_app.settings.model_copy(update={"smtp": smtp_server.settings()})
    return sqlite_app


@pytest.fixture
def portal_server(sqlite_app):
    """The survey portal served by uvicorn on loopback, as ``ppflow portal`` serves it."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        sqlite_app.portal(), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def eighty_columns(monkeypatch):
    """The page a coordinator's terminal has by default: 80 columns (the CLI's consoles
    take COLUMNS when a command starts, and so does Typer's help)."""
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def ppflow(any_app):
    """``ppflow(*args, code=0)``: the whole command line on ``any_app``, as a coordinator
    types it; asserts the exit code and that no traceback shows, and returns the output."""
    from typer.testing import CliRunner

    from ppflow.cli import app as ppflow_cli

    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(ppflow_cli, list(args), obj=any_app)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def wait_until_healthy(process, base: str, what: str, seconds: float, said) -> None:
    """Wait until ``base``/health answers 200; if ``process`` ends first or ``seconds``
    pass, kill it and fail with what it said (``said()``)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{what} did not start: {said()!r}")
        time.sleep(0.1)


@contextmanager
def portal_command(app, tmp_path: Path, open_files: int | None = None, log: Path | None = None):
    """``ppflow portal`` as a process of its own on a free loopback port, over ``app``'s
    database; ``open_files`` caps its file descriptors, ``log`` takes what it prints.
    Yields the process and its base address."""
    port = free_port()
    env = {
        **os.environ,
        "PPFLOW_DATABASE_URL": app.settings.database_url,
        "PPFLOW_DATA_DIR": str(tmp_path),
        "PPFLOW_PORTAL__SIGNING_KEY": app.settings.portal.signing_key,
        "PPFLOW_ENVIRONMENT": "development",
    }

    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    ppflow = Path(sys.executable).with_name("ppflow")
    output = log.open("ab") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [str(ppflow), "portal", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL if log is None else output,
        stderr=output,
        preexec_fn=limit_files,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(
        process,
        base,
        "the portal",
        60,
        lambda: log.read_text()[-2000:] if log else process.stderr.read()[-2000:],
    )
    try:
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
