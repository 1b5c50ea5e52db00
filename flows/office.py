"""``make serve``: a partnership office on one machine. It starts the Prefect server (API
and UI, on 127.0.0.1 only), the mail sink and ``ppflow serve``, each a process of its own,
and keeps them together: if one of them ends, it stops the others and says which one ended;
Ctrl-C or SIGTERM stops them all, ``ppflow serve`` first, without a traceback.

    python -m ppflow_flows.office [--port 4200]

The data directory and the Maildir are made first, so that the mail sink finds them on a
fresh setup whatever the database is. The banner gives the ports in use: the Prefect
server's (``--port``) and the mail sink's (``PPFLOW_SMTP__PORT``)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 180  # the Prefect server's first start migrates its database
STOP_SECONDS = 15  # each process gets this long after its signal, then is killed


@dataclass
class Child:
    name: str  # what a person calls it: "the Prefect server", "the mail sink"
    command: list[str]
    process: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        # A session of its own: Ctrl-C reaches this supervisor only, which stops the
        # children in order (a Prefect server stopped under a runner hangs its stop).
        self.process = subprocess.Popen(self.command, env=env, start_new_session=True)

    def ended(self) -> str | None:
        """How it ended (None while it runs)."""
        code = self.process.poll() if self.process else None
        if code is None:
            return None
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def stop(self, how: signal.Signals, group: bool = True) -> None:
        """Send ``how`` to its process group (or to the process alone), then SIGKILL the
        group if it has not ended within STOP_SECONDS."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            if group:
                os.killpg(self.process.pid, how)
            else:
                self.process.send_signal(how)
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop everything, and end with exit code 0."""


def _stop_requested(signum, frame) -> None:
    raise Stop


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppflow_flows.office", description=__doc__)
    parser.add_argument("--port", type=int, default=4200, help="the Prefect server's port")
    port = parser.parse_args(argv).port

    from ppflow.bootstrap import bootstrap

    app = bootstrap()
    settings, maildir = app.settings, app.maildir
    app.dispose()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    maildir.parent.mkdir(parents=True, exist_ok=True)
    smtp_port = settings.smtp.port
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = Child(
        "the Prefect server (prefect server start)",
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
    )
    sink = Child(
        "the mail sink (ppflow mail-sink)",
        [str(BIN / "ppflow"), "mail-sink", "--port", str(smtp_port)],
    )
    runner = Child("ppflow serve", [str(BIN / "ppflow"), "serve"])
    children = [server, sink, runner]

    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    code = 0
    try:
        server.start(env)
        sink.start(env)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (_answers(api + "/health") and _listens("127.0.0.1", smtp_port)):
            _watch(children)
            if time.monotonic() > deadline:
                raise Ended(f"the Prefect server did not answer at {api} in {STARTUP_SECONDS} s")
            time.sleep(0.5)
        print(
            f"Prefect UI on http://127.0.0.1:{port}, mail sink on 127.0.0.1:{smtp_port} "
            f"(messages in {maildir}); Ctrl-C stops all",
            flush=True,
        )
        runner.start({**env, "PREFECT_API_URL": api})
        while True:
            _watch(children)
            time.sleep(0.5)
    except Stop:
        print("stopping: ppflow serve, the mail sink, the Prefect server", flush=True)
    except Ended as ended:
        print(f"error: {ended}; stopping the others", file=sys.stderr, flush=True)
        code = 1
    # further Ctrl-C while stopping would only leave processes behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # ppflow serve stops within 3 s of SIGTERM, and waiting runs stay suspended. The signal
    # goes to it alone: it kills its flow processes itself, once its runner stands still, and
    # hands their runs back; a signal to the whole group would reach those processes too,
    # whose engines could end their runs Crashed first.
    runner.stop(signal.SIGTERM, group=False)
    sink.stop(signal.SIGTERM)
    server.stop(signal.SIGTERM)
    return code


class Ended(Exception):
    """One of the processes ended on its own."""


def _watch(children: list[Child]) -> None:
    for child in children:
        how = child.ended()
        if how is not None:
            raise Ended(f"{child.name} ended ({how})")


if __name__ == "__main__":
    sys.exit(main())
