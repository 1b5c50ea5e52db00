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
import hashlib
import hmac
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ppflow.domain.errors import PPFlowError
from ppflow.services.ports import HasPortal
from ppflow.settings import DEVELOPMENT_SIGNING_KEY, get_settings

SURVEY = "s"
WITHDRAWAL = "w"
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# What a signing key needs outside development.
MIN_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 8
MIN_ENTROPY_BITS = 80
_REPEAT = 4  # a run of this many characters seen earlier in the key adds no entropy
KEY_ADVICE = (
    "use a random secret of at least 32 characters, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)


class LinkError(Exception):
    """A link that opens nothing. ``reason`` is forged, expired or used."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"the link is {reason}")


class SigningKeyError(PPFlowError):
    """No link may be made or checked with the configured keys (outside development: the
    development key, or a weak key)."""


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


def estimated_entropy_bits(key: str) -> float:
    """A rough, pessimistic estimate of the key's entropy: the Shannon entropy of its
    characters, counted only over the characters that do not repeat a run of 4 or more
    seen earlier in the key (so "Secret12Secret12..." counts its first "Secret12" only)."""
    key = key[:256]  # longer keys are judged by their start; it is enough
    if not key:
        return 0.0
    counts = Counter(key)
    per_character = sum(n / len(key) * math.log2(len(key) / n) for n in counts.values())
    fresh, i = 0, 0
    while i < len(key):
        seen = key[:i]
        length = 0
        while i + length < len(key) and key[i : i + length + 1] in seen:
            length += 1
        if length >= _REPEAT:
            i += length
        else:
            fresh += 1
            i += 1
    return per_character * fresh


def _classes(key: str) -> set[str]:
    found = set()
    for character in key:
        if character.islower():
            found.add("lower-case letters")
        elif character.isupper():
            found.add("upper-case letters")
        elif character.isdigit():
            found.add("digits")
        else:
            found.add("symbols")
    return found


def key_problems(key: str) -> list[str]:
    """Why ``key`` is too weak to sign links outside development, each reason worded to
    follow "the key" (empty list: it is strong enough)."""
    if key == DEVELOPMENT_SIGNING_KEY:
        return ["is the development default"]
    problems = []
    if len(key) < MIN_KEY_LENGTH:
        problems.append(f"has {len(key)} characters; {MIN_KEY_LENGTH} are needed")
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_CHARACTERS:
        plural = "s" if distinct != 1 else ""
        problems.append(
            f"has {distinct} distinct character{plural}; {MIN_DISTINCT_CHARACTERS} are needed"
        )
    classes = _classes(key)
    if len(classes) == 1:
        problems.append(f"is only {classes.pop()}")
    bits = estimated_entropy_bits(key)
    if bits < MIN_ENTROPY_BITS:
        problems.append(f"has about {bits:.0f} bits of entropy; {MIN_ENTROPY_BITS} are needed")
    return problems


def configured_key_problems(settings: HasPortal) -> list[str]:
    """Every weakness of the current and previous keys, each naming the key it is about."""
    portal = settings.portal
    problems = [f"the signing key {p}" for p in key_problems(portal.signing_key or "")]
    for number, key in enumerate(portal.previous_signing_keys, start=1):
        problems += [f"previous signing key {number} {p}" for p in key_problems(key or "")]
    return problems


def strict(settings: HasPortal) -> bool:
    """Outside development, weak keys are refused."""
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


def configured_keys() -> SigningKeys:
    """For use cases whose callers pass no keys: those of the settings read once by
    :func:`ppflow.settings.get_settings` (a Prefect Secret block, if configured, is loaded
    into them by the entry point before any link is made)."""
    return signing_keys(get_settings())


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


def survey_link(settings: HasPortal, token: str, now: datetime | None = None) -> str:
    """:func:`survey_url` with the settings' current key, address and lifetime."""
    return survey_url(
        settings.portal_url,
        token,
        now or datetime.now(UTC),
        signing_keys(settings).current,
        settings.portal.link_days,
    )


def withdrawal_link(settings: HasPortal, advisor_code: str, now: datetime | None = None) -> str:
    """:func:`withdrawal_url` with the settings' current key, address and lifetime."""
    return withdrawal_url(
        settings.portal_url,
        advisor_code,
        now or datetime.now(UTC),
        signing_keys(settings).current,
        settings.portal.link_days,
    )
