"""The one CSV reader of every import (referrals, hours, questionnaire responses).

It decodes the file, checks its size and its header, and gives each record with the line
it starts on, its values stripped, and what is wrong with the record itself (more fields
than the header, a field over the limit, a control character). What the values mean is
for the import that reads them. A file that cannot be read as a whole raises
:class:`CsvFormatError`, with a message a coordinator can act on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from ppflow.domain.errors import InvalidInputError

MAX_BYTES = 50_000_000
MAX_FIELD = 2000


class CsvFormatError(InvalidInputError):
    """The file as a whole cannot be read (size, encoding, header, quoting)."""


@dataclass(frozen=True)
class CsvRecord:
    line: int  # where the record starts in the file (line 1 is the header)
    values: dict[str, str]
    problem: str | None = None


def decode(data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """A CSV file's text; anything but UTF-8 is refused with the line of the first bad byte."""
    if len(data) > max_bytes:
        raise CsvFormatError(f"the file is over {max_bytes // 1_000_000} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvFormatError(
            f"the file is not UTF-8 (first bad byte on line {line}); "
            "save it as 'CSV UTF-8' and try again"
        ) from None


def _bad_controls(value: str, multiline: bool) -> bool:
    allowed = "\t\n\r" if multiline else "\t"
    return any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value)


def read_csv(
    data: bytes,
    required: Iterable[str],
    optional: Iterable[str] = (),
    *,
    lowercase_header: bool = False,
    multiline: Iterable[str] = (),
    max_bytes: int = MAX_BYTES,
    max_field: int = MAX_FIELD,
) -> list[CsvRecord]:
    """The records of a CSV file whose header has every ``required`` column. Blank records
    are left out. Columns beyond ``required`` and ``optional`` are kept (a questionnaire's
    items); only the fields named in ``multiline`` may hold line breaks."""
    required, optional, multiline = tuple(required), tuple(optional), set(multiline)
    reader = csv.DictReader(io.StringIO(decode(data, max_bytes), newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as error:
        raise CsvFormatError(f"the header (line 1) cannot be read: {error}") from None
    if lowercase_header:
        header = [h.lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        expected = f"expected {', '.join(required)}"
        if optional:
            expected += f" and optionally {', '.join(optional)}"
        raise CsvFormatError(
            f"the header (line 1) lacks the column(s) {', '.join(missing)}; {expected}"
        )
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise CsvFormatError(f"the header (line 1) has the column(s) {', '.join(twice)} twice")
    reader.fieldnames = header
    records: list[CsvRecord] = []
    start = reader.line_num + 1
    try:
        for raw in reader:
            line, start = start, reader.line_num + 1
            if None in raw:
                records.append(CsvRecord(line, {}, "more fields than the header has columns"))
                continue
            values = {k: (v or "").strip() for k, v in raw.items()}
            if not any(values.values()):
                continue
            records.append(CsvRecord(line, values, _problem(values, multiline, max_field)))
    except csv.Error as error:
        raise CsvFormatError(f"line {start}: {error}") from None
    return records


def _problem(values: dict[str, str], multiline: set[str], max_field: int) -> str | None:
    too_long = [k for k, v in values.items() if len(v) > max_field]
    if too_long:
        return f"field(s) {', '.join(too_long)} longer than {max_field}"
    controls = sorted(k for k, v in values.items() if _bad_controls(v, k in multiline))
    if controls:
        return f"control characters in {', '.join(controls)}"
    return None
