"""The portal refuses a form over its limit as soon as the limit is passed, without reading
the rest: one 1 GB POST to a valid withdrawal link gets a 413 page in seconds, and the
portal's resident memory hardly moves.

The portal runs as ``ppflow portal`` in its own process (uvicorn, as in production), so
that its memory can be read from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ppflow.domain.commands import Meta
from ppflow.services import advisors, links, queries
from tests import factories
from tests.integration.conftest import portal_command

GIGABYTE = 1 << 30
CHUNK = 1 << 20
FIGURES: dict[str, str] = {}

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="resident memory is read from /proc"
)


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


def one_gigabyte():
    """A 1 GB form body, made on the fly so that the test itself stays small."""
    yield b"lang=en&confirm=yes&notes="
    block = b"a" * CHUNK
    for _ in range(GIGABYTE // CHUNK):
        yield block


@pytest.fixture
def portal_process(sqlite_app, tmp_path):
    """``ppflow portal`` on a free loopback port, over the test's database."""
    with portal_command(sqlite_app, tmp_path) as served:
        yield served


def post_gigabyte(url: str, chunked: bool) -> tuple[httpx.Response, float]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if not chunked:
        headers["Content-Length"] = str(len(b"lang=en&confirm=yes&notes=") + GIGABYTE)
    started = time.monotonic()
    answer = httpx.post(url, content=one_gigabyte(), headers=headers, timeout=60)
    return answer, time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_one_gigabyte_post_to_a_withdrawal_link_is_refused_at_once_with_little_memory(
    sqlite_app, portal_process, chunked
):
    app = sqlite_app
    process, base = portal_process
    code = factories.referral(app, factories.staff(app), language="en")
    advisors.invite_advisor(app.uow(), code, Meta("t"), app.clock)
    link = links.withdrawal_link(app.settings, code, datetime.now(UTC))  # the portal's clock
    url = base + link[link.index("/w/") :]
    # warm the portal up on this page and on a small refused form, then measure
    assert httpx.get(url).status_code == 200
    assert httpx.post(url, data={"lang": "en"}).status_code == 400
    before = resident_mb(process.pid)

    answer, seconds = post_gigabyte(url, chunked)

    after = resident_mb(process.pid)
    kind = "chunked" if chunked else "Content-Length"
    FIGURES[kind] = f"RSS {before:.1f} MB -> {after:.1f} MB in {seconds:.2f} s"
    print(f"\n1 GB POST ({kind}): {FIGURES[kind]}")
    assert answer.status_code == 413
    assert "This form is too large" in answer.text and 'lang="en"' in answer.text
    assert seconds < 5
    assert after - before < 20
    # nothing was recorded, and the link still opens the page
    assert queries.get_advisor(app.uow(), code).advisor.stage == "invited"
    assert httpx.get(url).status_code == 200
    assert process.poll() is None


def test_a_declared_length_over_the_limit_is_refused_before_any_of_the_body_is_sent(
    sqlite_app, portal_process
):
    """Only the headers go out: the answer comes without waiting for the body."""
    app = sqlite_app
    _, base = portal_process
    code = factories.referral(app, factories.staff(app), language="fr")
    link = links.withdrawal_link(app.settings, code, datetime.now(UTC))  # the portal's clock
    path = link[link.index("/w/") :]
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {GIGABYTE}\r\n\r\n".encode()
        )
        answer = b""
        while b"</html>" not in answer:
            received = connection.recv(65536)  # times out if the portal waits for the body
            if not received:
                break
            answer += received
    head, _, page = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert "Ce formulaire est trop volumineux" in page.decode() and 'lang="fr"' in page.decode()
    assert queries.get_advisor(app.uow(), code).advisor.stage == "identified"
