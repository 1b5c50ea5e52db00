"""Import referrals from a CSV file (read by :mod:`ppflow.services.csv_files`).

Two steps, so that a large file neither blocks other writers nor goes in half:

1. **Check, reading only.** Every row is read and checked on its own (every problem of
   the row, at the line where its record starts), then against the database with a few
   set-based queries: referrers and programs known, no e-mail address (lower case) or
   phone (digits) already in the pool, none twice in the file. Nothing is written, so no
   write lock is held however long the file is.
2. **Write, in one short transaction.** The rows ``add_referral`` would write one by one
   (advisor, contact, referral, the ``None -> identified`` transition, and the referral
   acknowledgement and one ``referral_received`` per coordinator in the outbox) go in as a
   few bulk inserts, with the same idempotency keys, contexts and transition links.

If someone registers one of the same people between the two steps, the database refuses
the insert and the whole import fails with :class:`RegisteredMeanwhileError`; importing
again then reports that row. With problems and without ``skip_invalid`` nothing is
imported and the report lists every bad row.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from ppflow.domain.commands import Meta, RegisterReferral
from ppflow.domain.errors import DuplicateError
from ppflow.domain.model import (
    CODE_ALPHABET,
    CODE_LENGTH,
    StaffRole,
    normalise_phone,
)
from ppflow.domain.model import valid_email as _valid_email
from ppflow.services.csv_files import ACCEPTED, CsvFormatError, iter_csv
from ppflow.services.notifications import InvalidRecipientError, queue_notification
from ppflow.services.ports import Clock, NewReferral, Notice, UnitOfWork

__all__ = ["ACCEPTED", "CsvFormatError", "RegisteredMeanwhileError", "import_referrals"]

REQUIRED_COLUMNS = ("first_name", "last_name", "email", "language", "referred_by")
OPTIONAL_COLUMNS = (
    "phone",
    "languages",
    "tags",
    "skills",
    "availability_hours",
    "program",
    "context",
)
LOOKUP_BATCH = 5000  # values per IN (...) of the set-based checks

Progress = Callable[[int, int], None]


class RegisteredMeanwhileError(DuplicateError):
    """The database refused the bulk insert: someone registered one of the same people
    (or ran the same import) between the check and the write. Nothing was imported."""

    def __init__(self) -> None:
        super().__init__(
            "someone registered one of these people meanwhile; import again (nothing was imported)"
        )


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # advisor codes
    encoding: str = ""
    described: str = ""  # how the file was read, e.g. "read as UTF-8, separated by commas"

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems}


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").replace(",", ";").split(";") if v.strip())


@dataclass(slots=True)
class _Row:
    line: int
    cmd: RegisterReferral
    reasons: list[str]
    referrer: str | None = None  # staff code, once known


def parse_referrals(
    data: bytes, meta: Meta, source: str = "csv", checked: Progress | None = None
) -> tuple[list[_Row], str, str]:
    """Read the rows into commands, each with every problem that needs no database.
    Returns the rows, the encoding assumed and how the file was read."""
    csv_file = iter_csv(data, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, multiline=("context",))
    estimate = max(1, data.count(b"\n"))
    rows: list[_Row] = []
    for record in csv_file.records:
        line, row = record.line, record.values
        reasons = list(record.problems)
        hours = row.get("availability_hours") or "0"
        if not hours.isdigit():
            reasons.append(f"availability_hours '{hours}' is not a whole number")
        cmd = RegisterReferral(
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            referred_by=row["referred_by"],
            phone=row.get("phone", ""),
            language=row["language"].lower(),
            languages=tuple(x.lower() for x in _split(row.get("languages", ""))),
            tags=_split(row.get("tags", "")),
            skills=_split(row.get("skills", "")),
            availability_hours=int(hours) if hours.isdigit() else 0,
            program=row.get("program") or None,
            context=row.get("context", ""),
            source=source,
            meta=meta,
        )
        reasons += cmd.problems()
        rows.append(_Row(line, cmd, reasons))
        if checked and len(rows) % 1000 == 0:
            checked(len(rows), max(estimate, len(rows)))
    if checked:
        checked(len(rows), len(rows))
    return rows, csv_file.encoding, csv_file.described


def _batches(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), LOOKUP_BATCH):
        yield items[start : start + LOOKUP_BATCH]


def check_against_database(uow: UnitOfWork, rows: list[_Row]) -> None:
    """Add to each row what the database says is wrong with it: referrer or program
    unknown, its e-mail or phone already in the pool or on an earlier line of the file.
    A few set-based queries, whatever the number of rows; nothing is written."""
    keys = sorted({r.cmd.referred_by.strip() for r in rows if r.cmd.referred_by.strip()})
    known: dict[str, str] = {}
    for batch in _batches(keys):
        known.update(uow.staff.known(batch))
    programs = {p.code for p in uow.programs.list()}
    addresses = {s.code: s.email for s in uow.staff.list()}
    emails = sorted({r.cmd.email.strip().lower() for r in rows if r.cmd.email.strip()})
    phones = sorted({normalise_phone(r.cmd.phone) for r in rows if r.cmd.phone})
    in_pool: dict[str, str] = {}
    for batch in _batches(emails):
        in_pool.update(uow.advisors.find_by_email_or_phone(batch, []))
    for batch in _batches(phones):
        in_pool.update(uow.advisors.find_by_email_or_phone([], batch))
    first_seen: dict[str, int] = {}
    for row in rows:
        cmd, reasons = row.cmd, row.reasons
        own_problems = bool(reasons)
        key = cmd.referred_by.strip()
        row.referrer = known.get(key) or known.get(key.lower())
        if key and row.referrer is None:
            reasons.append(f"referrer '{cmd.referred_by}' is not a known staff member")
        elif row.referrer and not _valid_email(addresses.get(row.referrer)):
            reasons.append(f"referrer {row.referrer} has no valid e-mail address")
        if cmd.program and cmd.program not in programs:
            reasons.append(f"program '{cmd.program}' does not exist")
        email, phone = cmd.email.strip().lower(), normalise_phone(cmd.phone)
        for value, label in ((email, "e-mail"), (phone, "phone")):
            if not value:
                continue
            if value in in_pool:
                reasons.append(f"{label} already in the pool as {in_pool[value]}")
            elif value in first_seen:
                reasons.append(f"same {label} as line {first_seen[value]}")
            elif not own_problems:  # a row that cannot go in takes no address from another
                first_seen[value] = row.line


def _coordinators(uow: UnitOfWork) -> list[str]:
    """Who gets a ``referral_received``; each must have an address, as queue_notification
    checks for every message."""
    coordinators = uow.staff.list(role=StaffRole.COORDINATOR)
    for member in coordinators:
        if not _valid_email(member.email):
            raise InvalidRecipientError(
                f"staff {member.code} has no valid e-mail address; the 'referral_received' "
                "notification was not queued. Correct the address first."
            )
    return [c.code for c in coordinators]


def _random_codes(count: int) -> set[str]:
    """Codes as :func:`ppflow.domain.model.new_code` makes them (``PA-`` and six random
    characters of its alphabet), many at once from one draw of random bytes: a byte
    picks a character when it is below the largest multiple of the alphabet's length,
    so that every character is as likely."""
    size, limit = len(CODE_ALPHABET), 256 - 256 % len(CODE_ALPHABET)
    codes: set[str] = set()
    while len(codes) < count:
        picks = [CODE_ALPHABET[b % size] for b in secrets.token_bytes(count * 8) if b < limit]
        for start in range(0, len(picks) - CODE_LENGTH + 1, CODE_LENGTH):
            codes.add("PA-" + "".join(picks[start : start + CODE_LENGTH]))
    return set(list(codes)[:count])


def _new_codes(uow: UnitOfWork, count: int) -> list[str]:
    """``count`` advisor codes, distinct and not in the database yet."""
    codes: list[str] = []
    taken: set[str] = set()
    while len(codes) < count:
        fresh = list(_random_codes(count - len(codes)) - taken)
        for batch in _batches(fresh):
            taken |= uow.referral_batch.codes_taken(batch)
        for code in fresh:
            if code not in taken:
                taken.add(code)
                codes.append(code)
    return codes


def _referrals(
    planned: list[tuple[str, _Row]],
    coordinators: list[str],
    now: datetime,
    progress: Progress | None,
) -> Iterator[NewReferral]:
    """What each row writes, built as the bulk insert asks for it (a few thousand at a
    time, so that a large file is never held as rows and as inserts at once); these are
    the rows add_referral writes for one referral."""
    total = len(planned)
    step = max(1, total // 100)
    for done, (code, row) in enumerate(planned, start=1):
        cmd, referrer = row.cmd, row.referrer or ""
        advisor, contact = cmd.advisor(code, now), cmd.contact()
        m = cmd.meta
        meta = Meta(m.actor, m.reason or f"referred by {referrer}", m.request_id, m.flow_run_id)
        transition = advisor.begin(meta, now)
        context = {"advisor": code, "referrer": referrer}
        # the referrer is thanked for each person; the coordinators hear once per import
        notices = (
            Notice(
                "referral_acknowledgement", referrer, f"referral_acknowledgement:{code}", context
            ),
        )
        yield NewReferral(advisor, contact, referrer, cmd.source, transition, notices)
        if progress and (done % step == 0 or done == total):
            progress(done, total)


IMPORT_NOTICE_CODES = 50  # the codes an import notice lists; the rest are counted


def _tell_coordinators(
    uow: UnitOfWork, coordinators: list[str], codes: list[str], meta: Meta, now: datetime
) -> None:
    """One notice to each coordinator for the whole import, with the count and the codes
    (a 300-row file sends each coordinator one e-mail, not 300)."""
    key = meta.request_id or codes[0]
    for coordinator in coordinators:
        queue_notification(
            uow,
            template="referrals_imported",
            recipient_kind="staff",
            recipient_code=coordinator,
            context={
                "count": len(codes),
                "advisors": codes[:IMPORT_NOTICE_CODES],
                "more": max(0, len(codes) - IMPORT_NOTICE_CODES),
            },
            idempotency_key=f"referrals_imported:{key}:{coordinator}",
            at=now,
            transition_id=None,
        )


def import_referrals(
    uow: UnitOfWork,
    data: bytes,
    meta: Meta,
    skip_invalid: bool = False,
    *,
    clock: Clock,
    progress: Progress | None = None,
    checked: Progress | None = None,
) -> ImportReport:
    """Check every row (reading only), then import in one short transaction.
    ``checked(done, total)`` follows the check, ``progress(done, total)`` the write."""
    rows, encoding, described = parse_referrals(data, meta, checked=checked)
    report = ImportReport(rows=len(rows), encoding=encoding, described=described)
    if meta.request_id:  # one request id per row, so that a retried import replays
        for row in rows:
            row_meta = replace(meta, request_id=f"{meta.request_id}:{row.line}")
            row.cmd = replace(row.cmd, meta=row_meta)
    with uow:  # reads only: no write lock is taken, however long this takes
        request_ids = [r.cmd.meta.request_id for r in rows if r.cmd.meta.request_id]
        replayed: dict[str, str] = {}
        for batch in _batches(request_ids):
            replayed.update(uow.referral_batch.replayed(batch))
        if replayed:
            report.imported = [replayed[i] for i in request_ids if i in replayed]
            return report
        check_against_database(uow, rows)
        report.problems = [RowProblem(r.line, "; ".join(r.reasons)) for r in rows if r.reasons]
        if report.problems and not skip_invalid:
            return report
        good = [r for r in rows if not r.reasons]
        coordinators = _coordinators(uow) if good else []
        planned = list(zip(_new_codes(uow, len(good)), good, strict=True))
    del rows, good
    if not planned:
        return report
    with uow:  # the one write transaction: bulk inserts, then commit
        now = clock.now()
        uow.referral_batch.add(_referrals(planned, coordinators, now, progress), now)
        _tell_coordinators(uow, coordinators, [code for code, _ in planned], meta, now)
        uow.commit()
    report.imported = [code for code, _ in planned]
    return report
