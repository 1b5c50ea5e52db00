"""Signed personal links for the portal: a survey link (``/s/...``) and a withdrawal link
(``/w/...``).

A link carries what it opens (a survey token or an advisor code), when it expires, and an
HMAC-SHA256 over both and its kind, with the portal's signing key. Changing any character
breaks the signature; a survey link cannot be turned into a withdrawal link. "Works once"
is kept by the data: an answered survey, or an advisor already withdrawn, refuses the link.
Only the standard library is used, so the portal never needs Prefect to check a link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ppflow.services.ports import HasPortal

SURVEY = "s"
WITHDRAWAL = "w"
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class LinkError(Exception):
    """A link that opens nothing. ``reason`` is forged, expired or used."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"the link is {reason}")


@dataclass(frozen=True)
class OpenedLink:
    kind: str
    subject: str
    expires_at: datetime


def _mac(key: str, kind: str, subject: str, expiry: int) -> str:
    message = f"ppflow-link|{kind}|{subject}|{expiry}".encode()
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(key: str, kind: str, subject: str, expires_at: datetime) -> str:
    """The signed path segment for ``subject``: ``<subject>.<expiry>.<mac>``."""
    if not _SUBJECT.match(subject):
        raise ValueError("a link subject is a code or token of letters, digits, '-' and '_'")
    expiry = int(expires_at.timestamp())
    return f"{subject}.{expiry:x}.{_mac(key, kind, subject, expiry)}"


def verify(key: str, kind: str, signed: str, now: datetime) -> OpenedLink:
    """Open a signed segment, or raise LinkError('forged' | 'expired')."""
    parts = signed.split(".")
    if len(parts) != 3 or not _SUBJECT.match(parts[0]):
        raise LinkError("forged")
    subject, expiry_hex, mac = parts
    try:
        expiry = int(expiry_hex, 16)
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (ValueError, OverflowError, OSError):
        raise LinkError("forged") from None
    if not hmac.compare_digest(mac, _mac(key, kind, subject, expiry)):
        raise LinkError("forged")
    if now >= expires_at:
        raise LinkError("expired")
    return OpenedLink(kind, subject, expires_at)


def _url(base: str, kind: str, segment: str) -> str:
    return f"{base.rstrip('/')}/{kind}/{segment}"


def survey_url(portal_url: str, token: str, now: datetime, key: str, link_days: int = 30) -> str:
    """The personal survey link sent in a ``survey_request`` e-mail."""
    return _url(portal_url, SURVEY, sign(key, SURVEY, token, now + timedelta(days=link_days)))


def withdrawal_link(settings: HasPortal, advisor_code: str, now: datetime | None = None) -> str:
    """The personal withdrawal link for the footer of an advisor's e-mails."""
    expires = (now or datetime.now(UTC)) + timedelta(days=settings.portal.link_days)
    return _url(
        settings.portal_url,
        WITHDRAWAL,
        sign(settings.portal.signing_key, WITHDRAWAL, advisor_code, expires),
    )


def configured_survey_url(portal_url: str, token: str, now: datetime) -> str:
    """For use cases whose callers pass only the portal URL: the key and lifetime come from
    the settings read once by :func:`ppflow.settings.get_settings` (a Prefect Secret block,
    if configured, is loaded into them by the entry point before any link is made)."""
    from ppflow.settings import get_settings

    portal = get_settings().portal
    return survey_url(portal_url, token, now, portal.signing_key, portal.link_days)
