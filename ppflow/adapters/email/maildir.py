"""Reading the sink's Maildir: what ``ppflow mail list`` and ``mail show`` print."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from ppflow.domain.errors import NotFoundError


@dataclass(frozen=True)
class StoredMessage:
    number: int  # position in delivery order, from 1
    key: str
    received: datetime
    message: EmailMessage

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


def _files(root: Path) -> list[tuple[float, str, Path]]:
    found = []
    for sub in ("cur", "new"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            key = path.name.split(":", 1)[0]
            found.append((path.stat().st_mtime, key, path))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def _read(number: int, mtime: float, key: str, path: Path) -> StoredMessage:
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return StoredMessage(number, key, datetime.fromtimestamp(mtime, UTC), message)


def read_maildir(root: Path) -> list[StoredMessage]:
    """Every message, oldest first."""
    return [_read(n, *item) for n, item in enumerate(_files(Path(root)), start=1)]


def remove_all_messages(root: Path) -> int:
    """Delete every message the sink kept (``ppflow demo --reset``). Returns how many."""
    files = _files(Path(root))
    for *_, path in files:
        path.unlink(missing_ok=True)
    return len(files)


def count_messages(root: Path) -> int:
    return len(_files(Path(root)))


def find_message(root: Path, ident: str) -> StoredMessage:
    """One message by its number in ``mail list``, its Maildir key (or a unique start of
    it), or its Message-ID."""
    files = _files(Path(root))
    ident = ident.strip()
    if ident.isdigit() and 1 <= int(ident) <= len(files):
        number = int(ident)
        return _read(number, *files[number - 1])
    matches = [(n, item) for n, item in enumerate(files, start=1) if item[1].startswith(ident)]
    if len(matches) == 1:
        number, item = matches[0]
        return _read(number, *item)
    if ident.startswith("<"):
        for stored in read_maildir(root):
            if stored.header("Message-ID") == ident:
                return stored
    raise NotFoundError("message in the mail sink", ident)


def remove_messages_about(root: Path, recipient_code: str, mentions: Iterable[str]) -> int:
    """Delete every message the sink kept that was sent to one person (by its
    X-Ppflow-Recipient header) or that names them (their name or address in the message,
    e.g. a team lead's introduction): erasure leaves no copy. Returns how many."""
    mentions = [m.casefold() for m in mentions if m and len(m) > 2]
    removed = 0
    for *_, path in _files(Path(root)):
        raw = path.read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        readable = " ".join(
            str(part.get_content()) for part in message.walk() if not part.is_multipart()
        )
        readable = (str(message.get("Subject", "")) + " " + readable).casefold()
        if str(message.get("X-Ppflow-Recipient", "")) == recipient_code or any(
            m in readable for m in mentions
        ):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
