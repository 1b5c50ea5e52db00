"""Import referrals from a CSV file (read by :mod:`ppflow.services.csv_files`): validate
every row first, then import all or nothing (or only the valid rows when the coordinator
asks for it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ppflow.domain.commands import Meta, RegisterReferral
from ppflow.domain.model import normalise_phone
from ppflow.services.advisors import add_referral
from ppflow.services.csv_files import CsvFormatError, read_csv
from ppflow.services.ports import SYSTEM_CLOCK, Clock, UnitOfWork

__all__ = ["CsvFormatError", "import_referrals"]

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
LOOKUP_BATCH = 500


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # advisor codes

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems}


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").replace(",", ";").split(";") if v.strip())


def parse_referrals(
    data: bytes, meta: Meta, source: str = "csv"
) -> tuple[list[tuple[int, RegisterReferral]], list[RowProblem]]:
    """Read the rows into commands, with the problems that need no database."""
    commands: list[tuple[int, RegisterReferral]] = []
    problems: list[RowProblem] = []
    records = read_csv(data, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, multiline=("context",))
    for record in records:
        line, row = record.line, record.values
        if record.problem:
            problems.append(RowProblem(line, record.problem))
            continue
        hours = row.get("availability_hours") or "0"
        if not hours.isdigit():
            problems.append(RowProblem(line, f"availability_hours '{hours}' is not a whole number"))
            continue
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
            availability_hours=int(hours),
            program=row.get("program") or None,
            context=row.get("context", ""),
            source=source,
            meta=meta,
        )
        reasons = cmd.problems()
        if reasons:
            problems.append(RowProblem(line, "; ".join(reasons)))
            continue
        commands.append((line, cmd))
    return commands, problems


def _batches(items: list[str]):
    for start in range(0, len(items), LOOKUP_BATCH):
        yield items[start : start + LOOKUP_BATCH]


def check_against_database(
    uow: UnitOfWork, commands: list[tuple[int, RegisterReferral]]
) -> list[RowProblem]:
    """Referrers known, programs known, and no duplicate within the file or in the pool."""
    problems: list[RowProblem] = []
    keys = sorted({c.referred_by for _, c in commands})
    known: dict[str, str] = {}
    for batch in _batches(keys):
        known.update(uow.staff.known(batch))
    programs = {p.code for p in uow.programs.list()}
    emails = sorted({c.email.lower() for _, c in commands})
    phones = sorted({normalise_phone(c.phone) for _, c in commands if c.phone})
    in_pool: dict[str, str] = {}
    for batch in _batches(emails):
        in_pool.update(uow.advisors.find_by_email_or_phone(batch, []))
    for batch in _batches(phones):
        in_pool.update(uow.advisors.find_by_email_or_phone([], batch))
    first_seen: dict[str, int] = {}
    for line, cmd in commands:
        reasons = []
        if cmd.referred_by not in known and cmd.referred_by.lower() not in known:
            reasons.append(f"referrer '{cmd.referred_by}' is not a known staff member")
        if cmd.program and cmd.program not in programs:
            reasons.append(f"program '{cmd.program}' does not exist")
        for key, label in ((cmd.email.lower(), "e-mail"), (normalise_phone(cmd.phone), "phone")):
            if not key:
                continue
            if key in in_pool:
                reasons.append(f"{label} already in the pool as {in_pool[key]}")
            elif key in first_seen:
                reasons.append(f"same {label} as line {first_seen[key]}")
            else:
                first_seen[key] = line
        if reasons:
            problems.append(RowProblem(line, "; ".join(reasons)))
    return problems


def import_referrals(
    uow: UnitOfWork,
    data: bytes,
    meta: Meta,
    skip_invalid: bool = False,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate every row, then import in one transaction. With problems and without
    ``skip_invalid`` nothing is imported and the report lists every bad row."""
    commands, problems = parse_referrals(data, meta)
    report = ImportReport(rows=len(commands) + len(problems))
    if meta.request_id:  # one request id per row, so that a retried import replays
        commands = [
            (line, replace(cmd, meta=replace(meta, request_id=f"{meta.request_id}:{line}")))
            for line, cmd in commands
        ]
    with uow:
        replayed = [
            uow.transitions.by_request_id(cmd.meta.request_id)
            for _, cmd in commands
            if cmd.meta.request_id
        ]
        if any(replayed):
            report.imported = [t.code for t in replayed if t is not None]
            return report
        problems += check_against_database(uow, commands)
        report.problems = sorted(problems, key=lambda p: p.line)
        if report.problems and not skip_invalid:
            return report
        bad = report.bad_lines
        todo = [(line, cmd) for line, cmd in commands if line not in bad]
        now = clock.now()
        for done, (_line, cmd) in enumerate(todo, start=1):
            report.imported.append(add_referral(uow, cmd, now).code)
            if progress:
                progress(done, len(todo))
        uow.commit()
    return report
