"""What people type, read the way they write it: the readers of choices, numbers, shares,
amounts and dates.

- A choice (a stage, a staff role, a screening outcome, an activity, an expense kind) is
  its code (``on_hold``) or its name (``on hold``, ``en pause``), in any case, with or
  without accents: :func:`choice`. The names are those of the wording catalogue
  (``stages.<kind>.<code>``, ``names.<kind>.<code>``), in the interface's language and in
  English.
- A number takes a decimal point or a decimal comma (``0.8``, ``0,8``), and spaces of any
  kind between thousands (``1 234,50``); a comma with a point (``1,234.5``) is refused, and
  in English so is a comma followed by three digits (``1,234``: thousands or a decimal?).
  A share takes a percent sign too (``80 %`` is 0.8): :func:`number`, :func:`share`,
  :func:`amount` (a Decimal, for money).
- A date is ISO (``2026-12-05``) or written in French or English, month in words
  (``5 décembre 2026``, ``1er mars 2027``, ``December 5, 2026``, ``5 Dec 2026``). A date
  in figures with slashes (``05/12/2026``) is refused: its day and month could be either.

Every reader raises :class:`~ppflow.domain.errors.InvalidInputError` with a message of the
catalogue (``input.*``) in the language given.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale

from ppflow.domain.commands import ScreeningOutcome
from ppflow.domain.compensation import EXPENSE_KINDS, KNOWN_ACTIVITIES
from ppflow.domain.errors import InvalidInputError
from ppflow.domain.lifecycle import AdvisorStage, EngagementStage, TeamStage
from ppflow.domain.model import StaffRole
from ppflow.services.wording import LOCALES, Wording, shipped_wording, typeset

# Each kind of choice: where its names are in the catalogue, and its codes in order.
CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "advisor": ("stages.advisor", tuple(AdvisorStage)),
    "engagement": ("stages.engagement", tuple(EngagementStage)),
    "team": ("stages.team", tuple(TeamStage)),
    "role": ("names.role", tuple(StaffRole)),
    "outcome": ("names.outcome", tuple(ScreeningOutcome)),
    "activity": ("names.activity", KNOWN_ACTIVITIES),
    "expense": ("names.expense", EXPENSE_KINDS),
}
# Other names a choice is known by: a screening outcome is also the advisor's stage it
# leads to ("non retenu·e" as well as "non retenue").
SYNONYMS: dict[str, tuple[str, ...]] = {"outcome": ("stages.advisor",)}
SPACES = re.compile(r"[\s_\-\u00a0\u202f\u2009]+")


def fold(text: str) -> str:
    """``text`` as it is compared: no accents, no case, ``_`` and ``-`` as spaces, one
    space between words (``Réunion`` and ``reunion``, ``on_hold`` and ``On hold``)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return SPACES.sub(" ", bare.casefold()).strip()


def spellings(name: str) -> tuple[str, ...]:
    """A name folded, and each gender of a name written with a point médian:
    ``non retenu·e`` is also ``non retenu`` and ``non retenue``."""
    if "·" not in name:
        return (fold(name),)
    return (fold(name), fold(name.replace("·", "")), fold(re.sub(r"·\w+", "", name)))


def _plain(text: str) -> str:
    """``text`` without accents nor case, one space between words (a date's hyphens kept)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _say(wording: Wording | None, key: str, language: str, **values: object) -> str:
    wording = wording or shipped_wording()
    lang = language if wording.has(f"input.{key}", language) else "en"
    return typeset(wording.text(f"input.{key}", lang), lang).format(**values)


def names(kind: str, language: str, wording: Wording | None = None) -> dict[str, str]:
    """The codes of ``kind`` and their names in ``language`` (the code when unnamed)."""
    wording = wording or shipped_wording()
    prefix, codes = CHOICES[kind]
    return {str(c): wording.label(f"{prefix}.{c}", language, fallback=str(c)) for c in codes}


def choice(
    kind: str,
    text: str,
    language: str,
    wording: Wording | None = None,
    *,
    open_ended: bool = False,
) -> str:
    """The code of the ``kind`` choice that ``text`` names: its code, its name in
    ``language`` or in English, in any case and without accents. Refused, naming the
    choices in ``language``; with ``open_ended`` (an activity may have a rate tier of its
    own), text that names none is returned as it was given, stripped."""
    wording = wording or shipped_wording()
    given = fold(text)
    found: list[str] = []
    for lang in dict.fromkeys((language, "en")):
        for code, name in names(kind, lang, wording).items():
            also = [
                wording.text(f"{prefix}.{code}", lang)
                for prefix in SYNONYMS.get(kind, ())
                if wording.has(f"{prefix}.{code}", lang)
            ]
            known = {fold(code), *spellings(name), *(s for n in also for s in spellings(n))}
            if given in known and code not in found:
                found.append(code)
    if len(found) == 1:
        return found[0]
    shown = names(kind, language, wording)
    if found:
        listed = ", ".join(shown[c] for c in found)
        raise InvalidInputError(
            _say(wording, "ambiguous_choice", language, given=text, choices=listed)
        )
    if open_ended and given:
        return str(text).strip()
    listed = ", ".join(shown.values())
    raise InvalidInputError(_say(wording, "unknown_choice", language, given=text, choices=listed))


# --------------------------------------------------------------------------- numbers

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3},\d{3}$")


def _figures(
    text: str, language: str, wording: Wording | None, *, percent: bool, bad: str = "not_a_number"
):
    """``(value, was_a_percentage)`` for the number written in ``text``; refused with the
    message ``bad`` when it is no number at all."""
    given = str(text)
    bare = re.sub(r"[\s\u00a0\u202f\u2009]+", "", given)
    is_percent = bare.endswith("%")
    if is_percent:
        if not percent:
            raise InvalidInputError(_say(wording, "no_percent", language, given=given))
        bare = bare[:-1]
    if "," in bare and "." in bare:
        raise InvalidInputError(_say(wording, "ambiguous_number", language, given=given))
    if language != "fr" and _THOUSANDS_COMMA.match(bare):
        raise InvalidInputError(_say(wording, "thousands_or_decimal", language, given=given))
    bare = bare.replace(",", ".")
    if not _NUMBER.match(bare):
        raise InvalidInputError(_say(wording, bad, language, given=given))
    return Decimal(bare), is_percent


def number(text: str, language: str, wording: Wording | None = None) -> Decimal:
    """A number with a decimal point or comma: ``0,8`` is 0.8, ``1 234,5`` is 1234.5."""
    return _figures(text, language, wording, percent=False)[0]


def quantity(text: str, language: str, wording: Wording | None = None) -> Decimal:
    """A number, or a percentage as a share (``80 %`` is 0.8): a target may be either."""
    value, is_percent = _figures(text, language, wording, percent=True)
    return value / 100 if is_percent else value


def share(text: str, language: str, wording: Wording | None = None) -> float:
    """A share from 0 to 1: ``0.8``, ``0,8``, ``80 %``, ``80%`` are all 0.8."""
    value, is_percent = _figures(text, language, wording, percent=True, bad="not_a_share")
    if is_percent:
        value = value / 100
    if not 0 <= value <= 1:
        raise InvalidInputError(_say(wording, "share_range", language, given=text))
    return float(value)


def amount(text: str, language: str, wording: Wording | None = None) -> Decimal:
    """Dollars: ``25,50``, ``25.50``, ``25,50 $``, ``$25.50`` are all Decimal('25.50')."""
    bare = str(text).strip()
    if bare.startswith("$"):
        bare = bare[1:]
    elif bare.endswith("$"):
        bare = bare[:-1]
    return _figures(bare, language, wording, percent=False, bad="not_an_amount")[0]


# ----------------------------------------------------------------------------- dates

_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_FIGURES = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:er|re|st|nd|rd|th)? (?:de )?([a-z]+)\.? (\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)? (\d{4})$")


@cache
def _months() -> dict[str, int]:
    """Every month's name in French and English, wide and abbreviated, folded."""
    found: dict[str, int] = {}
    for locale in LOCALES.values():
        months = Locale.parse(locale).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number_, name in months[context][width].items():
                    found[fold(name).rstrip(".")] = number_
    return found


def day(text: str, language: str, wording: Wording | None = None) -> date:
    """A date: ``2026-12-05``, ``5 décembre 2026``, ``1er mars 2027``, ``December 5, 2026``,
    ``5 Dec 2026`` (any case, accents optional). ``05/12/2026`` is refused as ambiguous."""
    given = str(text)
    folded = _plain(given)
    if _FIGURES.match(folded):
        raise InvalidInputError(_say(wording, "ambiguous_date", language, given=given))
    parts: tuple[int, int, int] | None = None
    iso = _ISO.match(folded)
    written = _plain(folded.replace(",", " "))
    by_day = _DAY_MONTH_YEAR.match(written)
    by_month = _MONTH_DAY_YEAR.match(written)
    if iso:
        parts = (int(iso[1]), int(iso[2]), int(iso[3]))
    elif by_day and by_day[2] in _months():
        parts = (int(by_day[3]), _months()[by_day[2]], int(by_day[1]))
    elif by_month and by_month[1] in _months():
        parts = (int(by_month[3]), _months()[by_month[1]], int(by_month[2]))
    if parts is None:
        raise InvalidInputError(_say(wording, "not_a_date", language, given=given))
    try:
        return date(*parts)
    except ValueError:
        raise InvalidInputError(_say(wording, "not_a_date", language, given=given)) from None
