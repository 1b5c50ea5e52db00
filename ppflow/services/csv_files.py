"""The one CSV reader of every import (referrals, hours, questionnaire responses).

It takes files as people have them: saved by Excel in French (semicolons, Windows-1252),
by LibreOffice or a script (commas, UTF-8 with or without a byte-order mark), or as
"Unicode text" (tabs, UTF-16). It decodes the file, says which encoding and separator it
assumed, matches the header whatever its case, spacing, hyphens or underscores, and gives
each record with the line it starts on, its values stripped, and every problem of the
record itself (more fields than the header, a field over the limit, a control
character). What the values mean is for the import that reads them. A file that cannot
be read as a whole raises :class:`CsvFormatError`, with a message a coordinator can act
on.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ppflow.domain.errors import InvalidInputError

MAX_BYTES = 50_000_000
MAX_FIELD = 2000
# The csv module's own limit on one field; a longer one is nearly always a quote left open.
CSV_FIELD_LIMIT = csv.field_size_limit()

DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
# What Mac Roman's é, ô and à become when read as Windows-1252 ("GŽrard C™tŽ"): one of
# these right after a letter, and before a letter or at the end of a word.
MAC_ROMAN_AS_CP1252 = re.compile(r"(?<=[^\W\d_])[Ž™ˆ](?=[^\W\d_]|\b)")
ACCEPTED = (
    "CSV with a header line, separated by commas, semicolons or tabs, in UTF-8 (with or "
    "without BOM), UTF-16 with BOM, or Windows-1252 (Excel's 'CSV' in French); column "
    "names in any case, with spaces, hyphens or underscores"
)


class CsvFormatError(InvalidInputError):
    """The file as a whole cannot be read (size, encoding, header, quoting)."""


@dataclass(frozen=True)
class CsvRecord:
    line: int  # where the record starts in the file (line 1 is the header)
    values: dict[str, str]
    problems: tuple[str, ...] = ()

    @property
    def problem(self) -> str | None:
        """Every problem of the record in one sentence, or None."""
        return "; ".join(self.problems) or None


@dataclass(frozen=True)
class CsvFile:
    """A file as read: its records, and the encoding and separator assumed for it.
    Iterating it gives the records, so it stands wherever a list of records did."""

    encoding: str
    delimiter: str
    records: Sequence[CsvRecord] | Iterator[CsvRecord]

    @property
    def described(self) -> str:
        """For the coordinator: e.g. "read as Windows-1252, separated by semicolons"."""
        return f"read as {self.encoding}, separated by {DELIMITERS[self.delimiter]}"

    def __iter__(self) -> Iterator[CsvRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)  # type: ignore[arg-type]


def _line_of(data: bytes, position: int) -> int:
    return data[:position].count(b"\n") + 1


def decode(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[str, str]:
    """A CSV file's text and the encoding it was read as: UTF-8 with or without a BOM,
    UTF-16 with a BOM, and otherwise Windows-1252 (what Excel writes in French)."""
    if len(data) > max_bytes:
        raise CsvFormatError(f"the file is over {max_bytes // 1_000_000} MB")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as error:
            line = _line_of(data, error.start + len(codecs.BOM_UTF8))
            raise CsvFormatError(
                f"the file starts as UTF-8 but is not (first bad byte on line {line}); "
                "save it as 'CSV UTF-8' and try again"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise CsvFormatError(
                "the file starts as UTF-16 but is not; save it as 'CSV UTF-8' and try again"
            ) from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as error:
        line = _line_of(data, error.start)
        raise CsvFormatError(
            f"the file is neither UTF-8 nor Windows-1252 (byte 0x{data[error.start]:02X} "
            f"on line {line}); save it as 'CSV UTF-8' and try again"
        ) from None
    misread = MAC_ROMAN_AS_CP1252.search(text)
    if misread:
        # Not a guess at the right encoding: a person fixes one file more surely than a
        # hundred names stored wrong. The message names no value (it may be a name).
        line = text.count("\n", 0, misread.start()) + 1
        raise CsvFormatError(
            f"the file is neither UTF-8 nor Windows-1252: read as Windows-1252, line {line} "
            f"has '{misread.group()}' inside a word, as a Mac file (Mac Roman) does with é, "
            "ô or à; tried UTF-8 and Windows-1252. Save it as 'CSV UTF-8' and try again"
        )
    return text, "Windows-1252"


def _separator_hint(text: str) -> tuple[str | None, str]:
    """Excel honours a first line ``sep=;``; take it, and read the rest."""
    first, newline, rest = text.partition("\n")
    hint = re.fullmatch(r"sep=(.)\r?", first)
    if hint and hint.group(1) in DELIMITERS:
        return hint.group(1), rest
    return None, text


def detect_delimiter(text: str) -> str:
    """The separator of the header line: whichever of comma, semicolon and tab it holds
    most often outside quotes (a comma when it holds none: one column)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def normalise_header(name: str) -> str:
    """``"First_Name"``, ``" first name "`` and ``"FIRST-NAME"`` are all ``first_name``."""
    return re.sub(r"[\s_\-]+", "_", name.strip().lower()).strip("_")


def describe(data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """How a file will be read, for the coordinator ("read as UTF-8, separated by commas")."""
    text, encoding = decode(data, max_bytes)
    hint, text = _separator_hint(text)
    return CsvFile(encoding, hint or detect_delimiter(text), ()).described


# Control characters other than tab, and other than line breaks where a field may hold them.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROLS_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _bad_controls(value: str, multiline: bool) -> bool:
    return (_CONTROLS_MULTILINE if multiline else _CONTROLS).search(value) is not None


def iter_csv(
    data: bytes,
    required: Iterable[str],
    optional: Iterable[str] = (),
    *,
    multiline: Iterable[str] = (),
    max_bytes: int = MAX_BYTES,
    max_field: int = MAX_FIELD,
) -> CsvFile:
    """The file's header is checked now (every ``required`` column, none twice); its
    records come one by one as they are read, so a large file is never held twice. Blank
    records are left out. Columns beyond ``required`` and ``optional`` are kept (a
    questionnaire's items); only the fields named in ``multiline`` may hold line breaks.
    Column names are given in :func:`normalise_header` form."""
    required, optional, multiline = tuple(required), tuple(optional), set(multiline)
    text, encoding = decode(data, max_bytes)
    hint, text = _separator_hint(text)
    delimiter = hint or detect_delimiter(text)
    offset = 1 if hint else 0  # the hint line comes before the header
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        raw_header = next(reader, [])
    except csv.Error as error:
        raise CsvFormatError(f"the header (line {1 + offset}) cannot be read: {error}") from None
    header = [normalise_header(h) for h in raw_header]
    at = f"the header (line {1 + offset})"
    missing = [c for c in required if c not in header]
    if missing:
        expected = f"expected {', '.join(required)}"
        if optional:
            expected += f" and optionally {', '.join(optional)}"
        seen = f"; it has {', '.join(h for h in header if h) or 'nothing'}"
        if len(header) == 1 and delimiter == ",":
            seen += " (one column: are the values separated by something else?)"
        raise CsvFormatError(f"{at} lacks the column(s) {', '.join(missing)}; {expected}{seen}")
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise CsvFormatError(f"{at} has the column(s) {', '.join(twice)} twice")
    return CsvFile(encoding, delimiter, _records(reader, header, offset, multiline, max_field))


def _records(
    reader, header: list[str], offset: int, multiline: set[str], max_field: int
) -> Iterator[CsvRecord]:
    start = reader.line_num + 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            values = {k: (v or "").strip() for k, v in zip(header, fields, strict=False) if k}
            for name in header[len(fields) :]:
                if name:
                    values[name] = ""
            extra = any(v.strip() for v in fields[len(header) :])
            if not extra and not any(values.values()):
                continue
            problems = _problems(values, multiline, max_field)
            if extra:
                problems.insert(0, "more fields than the header has columns")
            yield CsvRecord(line + offset, values, tuple(problems))
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise CsvFormatError(
                f"line {start + offset}: a field runs over {CSV_FIELD_LIMIT:,} characters; "
                'a quote (") is probably left open there'
            ) from None
        raise CsvFormatError(f"line {start + offset}: {error}") from None


def read_csv(
    data: bytes,
    required: Iterable[str],
    optional: Iterable[str] = (),
    *,
    multiline: Iterable[str] = (),
    max_bytes: int = MAX_BYTES,
    max_field: int = MAX_FIELD,
) -> CsvFile:
    """As :func:`iter_csv`, with every record read at once (so that a quoting error
    anywhere in the file is raised here)."""
    csv_file = iter_csv(
        data, required, optional, multiline=multiline, max_bytes=max_bytes, max_field=max_field
    )
    return CsvFile(csv_file.encoding, csv_file.delimiter, list(csv_file.records))


def _problems(values: dict[str, str], multiline: set[str], max_field: int) -> list[str]:
    problems = []
    too_long = [k for k, v in values.items() if len(v) > max_field]
    if too_long:
        problems.append(f"field(s) {', '.join(too_long)} longer than {max_field}")
    controls = sorted(k for k, v in values.items() if _bad_controls(v, k in multiline))
    if controls:
        problems.append(f"control characters in {', '.join(controls)}")
    return problems
