"""``make serve`` as a person runs it from the checkout, on a fresh setup: the Makefile's own
target (its venv prerequisite set aside), in a terminal's process group. It makes the data
directory the mail sink needs, shows the ports it uses, stops everything when one of its
processes ends (naming it), and Ctrl-C ends it without a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.flows.test_production import _descendants, free_port, until

pytestmark = pytest.mark.prefect
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


class MakeServe:
    def __init__(self, root: Path):
        self.root = root
        self.port, self.smtp_port = free_port(), free_port()
        self.data = root / "fresh" / "data"  # nothing has made it yet
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PPFLOW_") and k not in ("PREFECT_API_URL", "PREFECT_PROFILES_PATH")
        }
        env.update(
            PREFECT_HOME=str(root / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PPFLOW_DATABASE_URL=f"sqlite:///{root}/ppflow.db",
            PPFLOW_DATA_DIR=str(self.data),
            PPFLOW_SMTP__PORT=str(self.smtp_port),
        )
        self.output = root / "make-serve.out"
        # STAMP= : the venv is this one, already installed
        command = ["make", "-s", "-C", str(REPO), "serve", "STAMP=", f"BIN={BIN}"]
        self.make = subprocess.Popen(
            [*command, f"PREFECT_PORT={self.port}"],
            env=env,
            stdout=self.output.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's process group, which Ctrl-C signals
        )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def processes(self) -> dict[int, str]:
        found = {}
        for pid in _descendants(self.make.pid):
            try:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
        return found

    def wait_for(self, words: str, timeout: float = 150) -> None:
        until(
            f"make serve printed {words!r}",
            lambda: words in self.text() or self.make.poll() is not None,
            timeout,
            every=0.5,
        )
        assert words in self.text(), self.text()

    def ended(self, timeout: float = 40) -> int:
        try:
            return self.make.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make serve still runs:\n{self.text()}") from None

    def close(self) -> None:
        if self.make.poll() is None:
            os.killpg(self.make.pid, signal.SIGKILL)
            self.make.wait()


def outside_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (none on a machine without a
    network, where there is nothing to check)."""
    try:
        shown = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [a for a in shown.stdout.split() if "." in a and not a.startswith("127.")]


def alive(pids) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and _running(pid)}


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def make_serve(tmp_path):
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    started = []

    def start() -> MakeServe:
        started.append(MakeServe(tmp_path / f"office-{len(started)}"))
        return started[-1]

    for n in range(2):
        (tmp_path / f"office-{n}").mkdir()
    yield start
    for office in started:
        office.close()


def test_make_serve_stops_all_when_one_process_ends_and_says_which(make_serve):
    office = make_serve()
    banner = (
        f"Prefect UI on http://127.0.0.1:{office.port}, mail sink on 127.0.0.1:{office.smtp_port}"
    )
    office.wait_for(banner)
    assert office.data.is_dir()  # made for the mail sink, on a fresh setup
    for port in (office.port, office.smtp_port):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        for address in outside_addresses():  # loopback only: nothing answers from outside
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()
    running = office.processes()
    [sink] = [pid for pid, command in running.items() if "mail-sink" in command]
    os.kill(sink, signal.SIGKILL)

    assert office.ended() != 0
    said = office.text()
    assert (
        "error: the mail sink (ppflow mail-sink) ended (killed by SIGKILL); stopping the others"
        in said
    )
    assert alive(running) == set(), "a process of make serve outlived it"
    assert "Traceback" not in said


def test_ctrl_c_stops_make_serve_without_a_traceback(make_serve):
    office = make_serve()
    office.wait_for("ppflow serves")
    running = office.processes()
    assert any("prefect server start" in c for c in running.values())
    os.killpg(office.make.pid, signal.SIGINT)  # Ctrl-C in its terminal

    assert office.ended() in (0, -signal.SIGINT)
    said = office.text()
    assert "Traceback" not in said, said
    assert "Segmentation fault" not in said and "make: ***" not in said, said
    assert alive(running) == set(), "a process of make serve outlived it"
