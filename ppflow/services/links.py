"""Signed personal links for the portal: a survey link (``/s/...``) and a withdrawal link
(``/w/...``), and the keys that may sign and check them.

A link carries what it opens (a survey token or an advisor code), when it expires, and an
HMAC-SHA256 over both and its kind, with the portal's signing key. Changing any character
breaks the signature; a survey link cannot be turned into a withdrawal link. "Works once"
is kept by the data: an answered survey, or an advisor already withdrawn, refuses the link.

Keys rotate: new links are signed with the current key, and a link is checked against the
current key and every previous one, so that links already sent keep working until they
expire. Outside development, :func:`signing_keys` refuses the development key and weak
keys, and on a database other than the embedded SQLite it refuses the development key
whatever the environment; every path that makes or checks a link gets its keys from it.

Only the standard library is used, so the portal never needs Prefect to check a link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ppflow.domain.errors import PPFlowError
from ppflow.services.ports import HasPortal
from ppflow.settings import DEVELOPMENT_SIGNING_KEY

SURVEY = "s"
WITHDRAWAL = "w"
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Outside development only keys made by ``ppflow keygen`` are accepted: 32 random bytes and
# a 4-byte checksum, in lower-case base32 behind a prefix. The prefix makes a key easy to
# recognise (in a configuration file, or in a secret scanner), the checksum catches a key
# cut short or mistyped, and a key made by hand, however clever it looks, is refused.
KEY_PREFIX = "ppflow_"
KEY_BYTES = 32
_CHECKSUM_BYTES = 4
_MIN_DISTINCT_BYTES = 16  # 32 random bytes have about 30 distinct values; 16 or fewer: none
KEY_ADVICE = "make one with `ppflow keygen`"


class LinkError(Exception):
    """A link that opens nothing. ``reason`` is forged, expired or used."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"the link is {reason}")


class SigningKeyError(PPFlowError):
    """No link may be made or checked with the configured keys (outside development: any
    key not made by ``ppflow keygen``)."""


@dataclass(frozen=True)
class OpenedLink:
    kind: str
    subject: str
    expires_at: datetime


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs new links, and the previous keys that still open the links they
    signed. Iterating gives the current key first."""

    current: str
    previous: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[str]:
        yield self.current
        yield from self.previous


# ----------------------------------------------------------------------- key rules


def _checksum(secret: bytes) -> bytes:
    return hashlib.sha256(b"ppflow-signing-key|" + secret).digest()[:_CHECKSUM_BYTES]


def make_key() -> str:
    """A new signing key: 32 bytes from the operating system's random source."""
    secret = secrets.token_bytes(KEY_BYTES)
    encoded = base64.b32encode(secret + _checksum(secret)).decode("ascii")
    return KEY_PREFIX + encoded.rstrip("=").lower()


def key_problems(key: str) -> list[str]:
    """Why ``key`` may not sign links outside development, each reason worded to follow
    "the key" (empty list: it may)."""
    if key == DEVELOPMENT_SIGNING_KEY:
        return ["is the development default"]
    body = key.removeprefix(KEY_PREFIX)
    if body == key or not body:
        return ["was not made by `ppflow keygen` (its keys start with ppflow_)"]
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != KEY_BYTES + _CHECKSUM_BYTES:
        return ["is not a whole `ppflow keygen` key (cut short, or a character changed?)"]
    secret, checksum = raw[:KEY_BYTES], raw[KEY_BYTES:]
    if not hmac.compare_digest(checksum, _checksum(secret)):
        return ["fails its checksum (a character changed, added or lost?)"]
    if len(set(secret)) <= _MIN_DISTINCT_BYTES:
        return ["was not made from random bytes"]
    return []


def configured_key_problems(settings: HasPortal) -> list[str]:
    """Every weakness of the current and previous keys, each naming the key it is about."""
    portal = settings.portal
    problems = [f"the signing key {p}" for p in key_problems(portal.signing_key or "")]
    for number, key in enumerate(portal.previous_signing_keys, start=1):
        problems += [f"previous signing key {number} {p}" for p in key_problems(key or "")]
    return problems


def strict(settings: HasPortal) -> bool:
    """Outside development, only keys made by ``ppflow keygen`` are accepted."""
    return settings.environment != "development"


def on_embedded_database(settings: HasPortal) -> bool:
    """Whether the application database is an SQLite file: one machine's own, as on a
    development machine. PostgreSQL is shared, so its processes serve real people."""
    return settings.resolved_database_url.startswith("sqlite")


def development_key_refusal(settings: HasPortal) -> str | None:
    """Why the development key may not be used here, or None. Whatever PPFLOW_ENVIRONMENT
    says, a process whose database is not the embedded SQLite refuses it: its links would
    reach real people, and anyone can forge a link signed with a published key. A worker
    that never got the organization's configuration is the usual cause."""
    portal = settings.portal
    if on_embedded_database(settings):
        return None
    if DEVELOPMENT_SIGNING_KEY not in (portal.signing_key, *portal.previous_signing_keys):
        return None
    backend = settings.resolved_database_url.split(":", 1)[0].split("+", 1)[0]
    return (
        f"the development signing key is refused with a {backend} database, whatever "
        "PPFLOW_ENVIRONMENT says: set PPFLOW_PORTAL__SIGNING_KEY (or "
        "PPFLOW_PORTAL__SIGNING_KEY_BLOCK) for every process, e.g. in the file PPFLOW_ENV_FILE "
        f"names; {KEY_ADVICE}"
    )


def signing_keys(settings: HasPortal) -> SigningKeys:
    """The keys with which links may be signed and checked here. Outside development it
    raises SigningKeyError when the current or a previous key is the development key or is
    weak: a link signed with a known key can be forged by anyone."""
    portal = settings.portal
    refusal = development_key_refusal(settings)
    if refusal:
        raise SigningKeyError(refusal)
    if strict(settings):
        problems = configured_key_problems(settings)
        if problems:
            raise SigningKeyError(
                f"refused with PPFLOW_ENVIRONMENT={settings.environment}: "
                f"{'; '.join(problems)}; {KEY_ADVICE} (see `ppflow check`)"
            )
    return SigningKeys(portal.signing_key, tuple(portal.previous_signing_keys))


# ----------------------------------------------------------------------- links


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


def verify(keys: str | Iterable[str], kind: str, signed: str, now: datetime) -> OpenedLink:
    """Open a signed segment with any of ``keys`` (one key, or :class:`SigningKeys`), or
    raise LinkError('forged' | 'expired'). Every key is compared, in constant time."""
    parts = signed.split(".")
    if len(parts) != 3 or not _SUBJECT.match(parts[0]):
        raise LinkError("forged")
    subject, expiry_hex, mac = parts
    try:
        expiry = int(expiry_hex, 16)
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (ValueError, OverflowError, OSError):
        raise LinkError("forged") from None
    candidates = (keys,) if isinstance(keys, str) else tuple(keys)
    matched = False
    for key in candidates:
        matched |= hmac.compare_digest(mac, _mac(key, kind, subject, expiry))
    if not matched:
        raise LinkError("forged")
    if now >= expires_at:
        raise LinkError("expired")
    return OpenedLink(kind, subject, expires_at)


def _url(base: str, kind: str, segment: str) -> str:
    return f"{base.rstrip('/')}/{kind}/{segment}"


def survey_url(portal_url: str, token: str, now: datetime, key: str, link_days: int = 30) -> str:
    """The personal survey link of a ``survey_request`` e-mail, made when it is rendered."""
    return _url(portal_url, SURVEY, sign(key, SURVEY, token, now + timedelta(days=link_days)))


def withdrawal_url(
    portal_url: str, advisor_code: str, now: datetime, key: str, link_days: int = 30
) -> str:
    """The personal withdrawal link for the footer of an advisor's e-mails."""
    expires = now + timedelta(days=link_days)
    return _url(portal_url, WITHDRAWAL, sign(key, WITHDRAWAL, advisor_code, expires))


def survey_link(settings: HasPortal, token: str, now: datetime) -> str:
    """:func:`survey_url` with the settings' current key, address and lifetime."""
    return survey_url(
        settings.portal_url,
        token,
        now,
        signing_keys(settings).current,
        settings.portal.link_days,
    )


def withdrawal_link(settings: HasPortal, advisor_code: str, now: datetime) -> str:
    """:func:`withdrawal_url` with the settings' current key, address and lifetime."""
    return withdrawal_url(
        settings.portal_url,
        advisor_code,
        now,
        signing_keys(settings).current,
        settings.portal.link_days,
    )
