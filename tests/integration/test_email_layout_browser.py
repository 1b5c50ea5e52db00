"""Every e-mail, in French and in English, opened in headless Chromium at the width of a
small phone (320 px), a common one (390 px) and a desktop (1280 px): nothing is wider than
the screen, so nothing is cut off on the right. With PPFLOW_SCREENSHOTS set, a full-page
PNG of each is saved there. Without /usr/bin/chromium the browser tests are skipped; the
check of the markup itself (for mail clients that ignore CSS) always runs."""

from __future__ import annotations

import re

import pytest

from tests.browser import DESKTOP, PHONE, horizontal_overflow, needs_chromium, screenshot
from tests.integration.test_email_wording import ADVISOR, EVERY_MAIL, STAFF, render

SMALL_PHONE = 320
LONG_TEAM = "Urgence et parcours des personnes âgées en perte d'autonomie — Hôpital régional"
# What real mail holds and the samples may not: long names, a long digest, a long reply.
REALISTIC = {
    "team_name": LONG_TEAM,
    "reply": "550 5.1.1 (address): Recipient address rejected: user unknown in virtual "
    "mailbox table; see https://postmaster.example.org/errors/550-5.1.1-recipient-unknown",
}
CARD = "document.querySelectorAll('table')[1].getBoundingClientRect()"


def realistic(name: str) -> dict:
    from ppflow.services.notifications import NOTIFICATIONS

    sample = NOTIFICATIONS[name].sample
    values = {k: v for k, v in REALISTIC.items() if k in sample}
    if name == "reminder_digest":
        values.update(items=sample["items"] * 6, total=60)
    return values


@needs_chromium
@pytest.mark.parametrize("width", [SMALL_PHONE, PHONE, DESKTOP])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_mail_fits_the_screen_from_a_small_phone_to_a_desktop(page_at, language, width):
    page = page_at(width)
    cases = [c for c in EVERY_MAIL if c[1] == language]
    for name, _, person in cases:
        mail, _ = render(name, language, person, **realistic(name))
        page.set_content(mail.html)
        label = f"email-{name}-{language}-{person.kind}-{width}"
        screenshot(page, label)
        assert horizontal_overflow(page) == 0, f"{label} scrolls sideways"
        card = page.evaluate(f"(() => {{ const r = {CARD}; return [r.left, r.right]; }})()")
        assert card[0] >= 0 and card[1] <= width, f"{label}: the card runs off the screen"
        if width == DESKTOP:  # the card stops at 600 px on a wide screen
            assert round(card[1] - card[0]) == 600, label


@needs_chromium
def test_the_representative_mails_read_in_full_on_a_phone(page_at):
    """The text of the survey request, the invitation, the withdrawal notice and the
    digest is all inside the screen: no word of it starts or ends beyond the right edge."""
    page = page_at(PHONE)
    for name, person in (
        ("survey_request", ADVISOR),
        ("invitation", ADVISOR),
        ("advisor_withdrawn", STAFF),
        ("reminder_digest", STAFF),
    ):
        for language in ("fr", "en"):
            mail, _ = render(name, language, person, **realistic(name))
            page.set_content(mail.html)
            beyond = page.evaluate(
                """(() => {
                  const out = [];
                  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                  while (walker.nextNode()) {
                    const range = document.createRange();
                    range.selectNodeContents(walker.currentNode);
                    for (const r of range.getClientRects())
                      if (r.width && r.right > window.innerWidth + 0.5)
                        out.push(walker.currentNode.textContent.trim().slice(0, 40));
                  }
                  return out;
                })()"""
            )
            assert beyond == [], f"{name}/{language}: cut off on the right: {beyond}"


MSO = re.compile(r"<!--\[if mso\]>.*?<!\[endif\]-->", re.S)


def test_no_fixed_width_is_wider_than_a_phone_for_mail_clients_that_ignore_css():
    """Clients that drop CSS (max-width included) lay out by the attributes: every table
    is width="100%", and no width attribute or inline width is wider than 320 px (the
    600 px table for Outlook on Windows is inside its conditional comment)."""
    for name, language, person in EVERY_MAIL:
        mail, _ = render(name, language, person)
        html = MSO.sub("", mail.html)
        tables = re.findall(r"<table\b[^>]*>", html)
        assert tables and all('width="100%"' in t for t in tables), (name, language)
        widths = [int(w) for w in re.findall(r'\bwidth="(\d+)"', html)]
        widths += [int(w) for w in re.findall(r"(?<![-\w])width:\s*(\d+)px", html)]
        assert all(w <= SMALL_PHONE for w in widths), (name, language, widths)
