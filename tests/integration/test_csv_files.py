"""The one CSV reader takes files as people have them: Excel in French (semicolons,
Windows-1252), tabs, a byte-order mark, headers in any case or spacing; it reports every
problem of a record at the line where the record starts, and refuses what it cannot read
with a message, never the csv module's error."""

from __future__ import annotations

import codecs

import pytest

from ppflow.services.csv_files import CsvFormatError, describe, read_csv

REQUIRED = ("first_name", "last_name", "email")


def test_a_french_excel_file_is_read_as_windows_1252_with_semicolons():
    data = "First_Name; Last Name ;EMAIL\r\nÉlise;Côté;elise@example.org\r\n".encode("cp1252")
    assert b"\xc9lise" in data  # "É" as Excel writes it in French: one byte, 0xC9
    csv_file = read_csv(data, REQUIRED)
    assert (csv_file.encoding, csv_file.delimiter) == ("Windows-1252", ";")
    assert csv_file.described == "read as Windows-1252, separated by semicolons"
    [record] = csv_file.records
    assert record.values == {
        "first_name": "Élise",
        "last_name": "Côté",
        "email": "elise@example.org",
    }
    assert describe(data) == "read as Windows-1252, separated by semicolons"


def test_a_tab_separated_file_is_read_by_its_tabs():
    data = b"first name\tlast-name\temail\nAna\tRoy, Jr\tana@example.org\n"
    csv_file = read_csv(data, REQUIRED)
    assert csv_file.described == "read as UTF-8, separated by tabs"
    assert [r.values["last_name"] for r in csv_file] == ["Roy, Jr"]


def test_a_file_with_a_byte_order_mark_keeps_its_first_column():
    data = codecs.BOM_UTF8 + "first_name,last_name,email\nZoé,Lé,z@example.org\n".encode()
    csv_file = read_csv(data, REQUIRED)
    assert csv_file.encoding == "UTF-8 with BOM"
    assert [r.values["first_name"] for r in csv_file] == ["Zoé"]


def test_excel_unicode_text_is_read_as_utf16_with_tabs():
    data = "First Name\tLast Name\tE-mail\r\nÈve\tNoël\te@example.org\r\n".encode("utf-16")
    csv_file = read_csv(data, ("first_name", "last_name", "e_mail"))
    assert csv_file.described == "read as UTF-16, separated by tabs"
    assert [r.values["first_name"] for r in csv_file] == ["Ève"]


def test_excel_separator_hint_is_honoured_and_lines_still_count_from_the_file():
    data = b"sep=;\nfirst_name;last_name;email\nA;B;a@example.org\nC;D\x07;c@example.org\n"
    csv_file = read_csv(data, REQUIRED)
    assert csv_file.delimiter == ";"
    assert [(r.line, r.problem) for r in csv_file] == [
        (3, None),
        (4, "control characters in last_name"),
    ]


def test_a_comma_inside_a_quoted_header_does_not_decide_the_separator():
    data = b'"first_name";"last_name";"email, work"\nA;B;a@example.org\n'
    csv_file = read_csv(data, ("first_name", "last_name"))
    assert csv_file.delimiter == ";"
    assert next(iter(csv_file)).values["email,_work"] == "a@example.org"


@pytest.mark.parametrize(
    "header",
    [
        "First_Name,Last_Name,Email",
        " first name , LAST-NAME ,  EMAIL",
        "FIRST  NAME,last name,email",
    ],
)
def test_headers_match_whatever_their_case_spacing_hyphens_or_underscores(header):
    csv_file = read_csv(f"{header}\nA,B,a@example.org\n".encode(), REQUIRED)
    assert set(next(iter(csv_file)).values) == set(REQUIRED)


def test_two_headers_that_are_the_same_column_are_refused():
    with pytest.raises(CsvFormatError, match="first_name twice"):
        read_csv(b"First Name,first_name,last_name,email\n", REQUIRED)


def test_a_header_read_with_the_wrong_separator_says_what_it_found():
    with pytest.raises(CsvFormatError, match="lacks the column.*; it has first_name\\|"):
        read_csv(b"first_name|last_name|email\nA|B|c\n", REQUIRED)


def test_every_problem_of_a_record_is_reported_at_the_line_it_starts_on():
    data = (
        'first_name,last_name,email,context\nA,B,a@example.org,"first line\nsecond line\nthird"\n'
        + "C\x07,"
        + "x" * 2001
        + ",c@example.org,,extra\n"
    ).encode()
    records = list(read_csv(data, REQUIRED, ("context",), multiline=("context",)))
    assert [r.line for r in records] == [2, 5]
    assert records[0].problems == ()
    assert records[1].problems == (
        "more fields than the header has columns",
        "field(s) last_name longer than 2000",
        "control characters in first_name",
    )


def test_a_field_over_the_csv_modules_limit_is_refused_with_a_message():
    data = b'first_name,last_name,email\nA,B,a@example.org\nC,"' + b"x" * 200_000 + b'",c@x.org\n'
    with pytest.raises(CsvFormatError) as refused:
        read_csv(data, REQUIRED)
    message = str(refused.value)
    assert message.startswith("line 3: a field runs over 131,072 characters")
    assert "_csv" not in message and "field limit" not in message


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused_with_their_line():
    with pytest.raises(CsvFormatError, match="neither UTF-8 nor Windows-1252 .*0x81 on line 3"):
        read_csv(b"first_name,last_name,email\nA,B,a@x.org\nC,\x81,c@x.org\n", REQUIRED)
