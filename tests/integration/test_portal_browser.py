"""A real headless browser (Debian's chromium, driven over the Chrome DevTools protocol)
opens a personal link served by uvicorn on loopback, answers with the keyboard and a click,
submits, and sees the thank-you page. Nothing is downloaded; without /usr/bin/chromium the
test is skipped."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.portal_helpers import mailed_link, open_engagement, response_row

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium (apt-get install -y chromium) for the headless browser test",
)


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, press keys."""

    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)

    def send(self, method: str, **params):
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=15))
            if message.get("id") == number:
                assert "error" not in message, message
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.05)
        raise AssertionError(f"waited in vain for {expression}")

    def open(self, url: str):
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def press(self, key: str, code: str, key_code: int, text: str | None = None):
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code}
        if text:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", **down)
        self.send(
            "Input.dispatchKeyEvent",
            type="keyUp",
            key=key,
            code=code,
            windowsVirtualKeyCode=key_code,
        )


@pytest.fixture
def browser(tmp_path):
    from websockets.sync.client import connect

    process = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--window-size=390,844",  # a phone's screen
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 20
        while endpoint is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint = found.group(1)
            elif not line and process.poll() is not None:
                break
        assert endpoint, "chromium did not open its DevTools endpoint"
        port = int(re.search(r":(\d+)/", endpoint).group(1))
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        page = next(p for p in pages if p["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            tab = Browser(socket)
            tab.send("Page.enable")
            yield tab
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_person_answers_the_form_in_a_real_browser(sqlite_app, portal_server, browser):
    opened = open_engagement(sqlite_app, language="en")
    url = portal_server + mailed_link(sqlite_app, opened.advisor)
    browser.open(url)

    # what the person sees: the questionnaire in their language, on a phone-sized screen
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert browser.evaluate("document.querySelector('h1').innerText") == (
        "Your experience of the partnership"
    )
    body = browser.evaluate("document.body.innerText")
    assert "My role in the team was explained to me clearly." in body
    assert "Mon rôle" not in body
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # keyboard alone: Tab past the language switch to the first question, Space picks an
    # answer, an arrow key moves within the group
    browser.press("Tab", "Tab", 9)
    assert browser.evaluate("document.activeElement.innerText") == "Français"
    browser.press("Tab", "Tab", 9)
    assert browser.evaluate("document.activeElement.name") == "com_information"
    browser.press(" ", "Space", 32, text=" ")
    browser.press("ArrowRight", "ArrowRight", 39)
    assert (
        browser.evaluate("document.querySelector('input[name=com_information]:checked').value")
        == "2"
    )
    # and a click on a label, as with a finger
    browser.evaluate(
        "[...document.querySelectorAll('input[name=respect_equal]')][4].parentElement.click()"
    )
    browser.evaluate(
        "document.getElementById('a-open_went_well').value = 'Evening meetings <b>helped</b>'"
    )
    browser.evaluate("document.querySelector('button[type=submit]').click()")
    browser.wait_for(
        "document.querySelector('h1') && document.querySelector('h1').innerText"
        " === 'Thank you for taking part'"
    )
    assert 'Your answers to "Your experience of the partnership" are recorded.' in (
        browser.evaluate("document.body.innerText")
    )

    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {
        "com_information": 2,
        "respect_equal": 5,
        "open_went_well": "Evening meetings <b>helped</b>",
    }
    assert row.questionnaire_version == 1

    # the same link, opened again, says it has been used
    browser.open(url + "?lang=fr")
    assert browser.evaluate("document.querySelector('h1').innerText") == (
        "Ce lien a déjà été utilisé"
    )
