"""Headless Chromium for the page tests: Debian's /usr/bin/chromium, driven by Playwright
through ``executable_path`` (Playwright never downloads a browser of its own here).

``browser`` is one Chromium per test module; ``page_at(width)`` opens a page of that
width (390 px for a phone, 1280 px for a desktop). ``screenshot(page, name)`` saves a full
page PNG in the folder ``PPFLOW_SCREENSHOTS`` names, when it is set, so that a person can
look at what the tests saw."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PPFLOW_CHROMIUM", "/usr/bin/chromium"))
NO_CHROMIUM = f"no {CHROMIUM} (apt-get install -y chromium) for the headless browser tests"
PHONE, DESKTOP = 390, 1280
WIDTHS = (PHONE, DESKTOP)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)


# One Chromium per test module, not per session: while Playwright's sync API is open, the
# main thread reports a running event loop, and the tests after it that call asyncio.run
# (the mail dispatcher does) would fail.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_at(browser):
    """``page_at(width)``: a fresh page ``width`` CSS pixels wide (closed after the test)."""
    contexts = []

    def open_page(width: int, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scroll)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


def screenshot(page, name: str) -> Path | None:
    """Save a full-page PNG under $PPFLOW_SCREENSHOTS as ``<name>.png`` (nothing when the
    variable is unset)."""
    folder = os.environ.get("PPFLOW_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / (re.sub(r"[^\w.-]+", "-", name) + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
