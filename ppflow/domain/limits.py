"""How long a text and how large a number ppflow accepts: the same on SQLite and on
PostgreSQL, because the domain refuses what either database could not hold (SQLite
would store a 100,000-character name; PostgreSQL refuses 201 characters in a column of
200, and an integer above 2^31 - 1 in an integer column). Every database column is at
least as long as the limit here (``ppflow.adapters.orm``)."""

from __future__ import annotations

MAX_PERSON_NAME = 100  # a given or family name (column of 200)
MAX_NAME = 200  # a staff member's full name, a team's, a program's, a department (200)
MAX_EMAIL = 254  # the longest address SMTP carries (RFC 5321 path; column of 320)
MAX_REQUEST_ID = 64  # an idempotence key (column of 64)
MAX_TEXT = 10_000  # any one value typed on a command line
MIN_INTEGER = -(2**31)  # PostgreSQL's integer, which SQLite's holds too
MAX_INTEGER = 2**31 - 1
MIN_YEAR = 1900  # a fiscal or calendar year
MAX_YEAR = 9998  # a fiscal year ends in the next calendar year, which must exist

# Characters that reorder what follows them on screen: a name holding U+202E (right-to-left
# override) reads backwards in a list, and can make one name look like another.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def has_bidi_controls(value: str) -> bool:
    return any(c in BIDI_CONTROLS for c in value)


def name_problems(label: str, value: str, most: int = MAX_NAME) -> list[str]:
    """What is wrong with a name (a person's, a team's...): too long, or holding a
    character that reorders the text around it. Empty when it is fine."""
    problems = []
    if len(value.strip()) > most:
        problems.append(f"{label} is longer than {most} characters")
    if has_bidi_controls(value):
        problems.append(f"{label} contains a text direction control character (such as U+202E)")
    return problems


def email_problems(label: str, value: str) -> list[str]:
    if len(value.strip()) > MAX_EMAIL:
        return [f"{label} is longer than {MAX_EMAIL} characters"]
    return []


def integer_problem(label: str, value: int, least: int = MIN_INTEGER) -> str | None:
    """Why ``value`` cannot be stored as an integer, or None."""
    if not least <= value <= MAX_INTEGER:
        return f"{label} must be between {least} and {MAX_INTEGER}"
    return None
