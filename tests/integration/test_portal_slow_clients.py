"""The survey portal under slow clients (slowloris): 1,500 connections that send their
headers a line every 2 seconds, from loopback, for 20 seconds.

- Behind the production recipe's nginx (the shipped ``nginx-portal.conf``, only its ports
  changed), ``/health`` answers within a second throughout and the logs grow by less than
  1 MB, while the portal itself runs at a 1,024-file limit.
- Served bare at that limit, the portal runs out of file descriptors (which is why the
  recipe puts nginx in front), but it writes a line a minute about the connections it
  refuses, not a traceback for each.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ppflow.resources import proxy_file
from tests.integration.conftest import free_port, portal_command, wait_until_healthy

CONNECTIONS = 1500
SECONDS = 20.0
PORTAL_FILES = 1024
NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
)

pytestmark = pytest.mark.skipif(
    not hasattr(os, "getuid") or not Path("/proc/self/status").exists(), reason="Linux only"
)


class Slowloris:
    """Holds ``count`` connections open that never finish their headers: each sends a
    request line, then one header line every ``every`` seconds; a connection the server
    closes is opened again, as the attack does."""

    def __init__(self, port: int, count: int, every: float = 2.0):
        self.port, self.count, self.every = port, count, every
        self.opened = self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Slowloris:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < self.count + 200 <= hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _connect(self) -> list | None:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            return None
        self.opened += 1
        return [sock, 0.0, False]

    def _run(self) -> None:
        held: list[list] = []
        while not self._stop.is_set():
            while len(held) < self.count and (found := self._connect()) is not None:
                held.append(found)
            now = time.monotonic()
            alive = []
            for entry in held:
                sock, last, started = entry
                if not started or now - last >= self.every:
                    line = b"X-Slow: 1\r\n" if started else b"GET /health HTTP/1.1\r\nHost: p\r\n"
                    try:
                        sock.send(line)
                        entry[1:] = [now, True]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        sock.close()
                        self.closed_by_server += 1
                        continue
                alive.append(entry)
            held = alive
            self._stop.wait(0.05)
        for sock, _, _ in held:
            sock.close()


def probe(url: str, seconds: float, every: float = 0.5) -> list[tuple[float, int]]:
    """``/health`` every ``every`` seconds for ``seconds``: (seconds taken, status), with
    status 0 for no answer within 3 s."""
    found = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status = httpx.get(url, timeout=3).status_code
        except httpx.HTTPError:
            status = 0
        found.append((time.monotonic() - started, status))
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    return found


@contextmanager
def nginx_before(portal_base: str, tmp_path: Path):
    """nginx with the shipped configuration, listening on a free loopback port and
    passing to ``portal_base``; its pid file and error log in ``tmp_path``."""
    port = free_port()
    portal_port = portal_base.rsplit(":", 1)[1]
    text = proxy_file().read_text()
    text, listens = re.subn(r"^(\s*)listen 8080;", rf"\1listen 127.0.0.1:{port};", text, flags=re.M)
    text, upstreams = re.subn(
        r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{portal_port};", text
    )
    assert (listens, upstreams) == (1, 1), (
        "the shipped configuration changed its listen or upstream"
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    log = tmp_path / "nginx-error.log"
    process = subprocess.Popen(
        [
            str(NGINX),
            "-p",
            str(tmp_path),
            "-c",
            str(conf),
            "-e",
            str(log),
            "-g",
            f"daemon off; pid {tmp_path}/nginx.pid;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(process, base, "nginx", 20, lambda: process.stderr.read()[-2000:])
    try:
        yield base, port, log
    finally:
        process.terminate()
        process.wait(timeout=10)


needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx)"
)
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="nginx's worker_rlimit_nofile needs root, as in production"
)


@needs_nginx
@needs_root
def test_behind_the_recipes_nginx_health_answers_within_a_second_under_slowloris(
    sqlite_app, tmp_path
):
    portal_log = tmp_path / "portal.log"
    with (
        portal_command(sqlite_app, tmp_path, open_files=PORTAL_FILES, log=portal_log) as served,
        nginx_before(served[1], tmp_path) as (base, port, nginx_log),
    ):
        logs_before = portal_log.stat().st_size + nginx_log.stat().st_size
        with Slowloris(port, CONNECTIONS) as attack:
            time.sleep(3)  # let the connections pile up first
            probes = probe(f"{base}/health", SECONDS - 3)
        logs_after = portal_log.stat().st_size + nginx_log.stat().st_size

    slowest = max(seconds for seconds, _ in probes)
    statuses = {status for _, status in probes}
    growth = logs_after - logs_before
    print(
        f"\nslowloris behind nginx: {attack.opened} connections opened "
        f"({attack.closed_by_server} closed by the server), {len(probes)} probes, "
        f"slowest {slowest:.3f} s, statuses {sorted(statuses)}, logs +{growth} bytes"
    )
    assert attack.opened >= CONNECTIONS, "the attack never held its connections"
    assert statuses == {200}
    assert slowest < 1.0
    assert growth < 1_000_000


def test_served_bare_at_its_file_limit_the_portal_logs_a_line_a_minute_not_a_traceback(
    sqlite_app, tmp_path
):
    """Without the proxy the portal does run out of descriptors: this shows the attack
    is real (health fails) and that it costs the log a line, not megabytes."""
    portal_log = tmp_path / "portal.log"
    with portal_command(sqlite_app, tmp_path, open_files=PORTAL_FILES, log=portal_log) as served:
        _, base = served
        port = int(base.rsplit(":", 1)[1])
        before = portal_log.stat().st_size
        with Slowloris(port, CONNECTIONS):
            time.sleep(3)
            probes = probe(f"{base}/health", 6)
        after = portal_log.stat().st_size
    said = portal_log.read_text(errors="replace")
    print(f"\nbare portal: log +{after - before} bytes, {said.count('Traceback')} traceback(s)")
    assert any(status != 200 for _, status in probes), "the portal was never exhausted"
    assert "refusing connections" in said
    assert "Traceback" not in said, said[-4000:]
    assert after - before < 20_000
