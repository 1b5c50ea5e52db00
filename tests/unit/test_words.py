"""The readers of what people type: choices, numbers, shares, amounts and dates, in French
and in English (ppflow.services.words)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ppflow.domain.errors import InvalidInputError
from ppflow.services import words

CHOICES = [
    # kind, typed, interface language, code
    ("advisor", "en pause", "fr", "on_hold"),
    ("advisor", "EN PAUSE", "fr", "on_hold"),
    ("advisor", "on_hold", "fr", "on_hold"),
    ("advisor", "On Hold", "fr", "on_hold"),  # English always
    ("advisor", "on-hold", "en", "on_hold"),
    ("advisor", "on hold", "en", "on_hold"),
    ("advisor", "non retenu", "fr", "not_retained"),
    ("advisor", "non retenue", "fr", "not_retained"),
    ("advisor", "  Not   retained ", "en", "not_retained"),
    ("engagement", "terminée tôt", "fr", "ended_early"),
    ("engagement", "TERMINEE TOT", "fr", "ended_early"),
    ("team", "fermée", "fr", "closed"),
    ("team", "fermee", "fr", "closed"),
    ("outcome", "retenue", "fr", "retained"),
    ("outcome", "Non retenue", "fr", "not_retained"),
    ("outcome", "not_retained", "fr", "not_retained"),
    ("outcome", "declined", "en", "declined"),
    ("activity", "réunion", "fr", "meeting"),
    ("activity", "reunion", "fr", "meeting"),
    ("activity", "Meeting", "fr", "meeting"),
    ("role", "haute direction", "fr", "top_level_manager"),
    ("role", "top-level manager", "en", "top_level_manager"),
    ("role", "TOP_LEVEL_MANAGER", "en", "top_level_manager"),
    ("expense", "stationnement", "fr", "parking"),
]


@pytest.mark.parametrize(("kind", "typed", "language", "code"), CHOICES)
def test_a_choice_is_its_code_or_its_name_in_any_case_without_accents(kind, typed, language, code):
    assert words.choice(kind, typed, language) == code


@pytest.mark.parametrize(
    ("kind", "typed", "language", "listed"),
    [
        ("advisor", "paused", "fr", "en pause"),
        ("advisor", "en pause", "en", "on hold"),  # a French name in an English interface
        ("outcome", "maybe", "fr", "non retenue"),
        ("outcome", "maybe", "en", "not retained"),
        ("role", "", "fr", "haute direction"),
    ],
)
def test_a_choice_that_names_nothing_is_refused_listing_the_choices_in_the_language(
    kind, typed, language, listed
):
    with pytest.raises(InvalidInputError) as refused:
        words.choice(kind, typed, language)
    assert listed in str(refused.value)
    other = "n'est pas" if language == "en" else "is not one of"
    assert other not in str(refused.value)


def test_an_open_ended_choice_keeps_what_names_no_known_one():
    assert words.choice("activity", "réunion", "fr", open_ended=True) == "meeting"
    assert words.choice("activity", "coaching", "fr", open_ended=True) == "coaching"


SHARES = [
    ("0.8", 0.8),
    ("0,8", 0.8),
    ("80 %", 0.8),
    ("80%", 0.8),
    ("80\u00a0%", 0.8),  # non-breaking space
    ("80\u202f%", 0.8),  # narrow no-break space
    ("100 %", 1.0),
    ("0", 0.0),
    (",5", 0.5),
    ("12,5 %", 0.125),
]


@pytest.mark.parametrize(("typed", "share"), SHARES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_share_takes_a_decimal_comma_and_a_percent_sign(typed, share, language):
    assert words.share(typed, language) == pytest.approx(share)


@pytest.mark.parametrize(
    ("typed", "language", "says"),
    [
        ("150 %", "fr", "entre 0 et 100 %"),
        ("1,5", "en", "between 0 and 100 %"),
        ("beaucoup", "fr", "n'est pas une proportion"),
        ("0,8,1", "en", "is not a share"),
        ("1,234.5", "en", "mixes a comma and a point"),
        ("1.234,5", "fr", "mêle une virgule et un point"),
    ],
)
def test_a_share_that_cannot_be_read_is_refused_saying_why(typed, language, says):
    with pytest.raises(InvalidInputError, match=says):
        words.share(typed, language)


AMOUNTS = [
    ("25,50", "fr", Decimal("25.50")),
    ("25.50", "fr", Decimal("25.50")),
    ("25,50 $", "fr", Decimal("25.50")),
    ("$25.50", "en", Decimal("25.50")),
    ("1 234,50", "fr", Decimal("1234.50")),
    ("1\u202f234,50\u00a0$", "fr", Decimal("1234.50")),
    ("1,234", "fr", Decimal("1.234")),  # in French, a comma is the decimal mark
    ("0", "en", Decimal("0")),
]


@pytest.mark.parametrize(("typed", "language", "value"), AMOUNTS)
def test_an_amount_is_a_decimal_with_a_point_or_a_comma(typed, language, value):
    found = words.amount(typed, language)
    assert isinstance(found, Decimal)
    assert found == value


@pytest.mark.parametrize(
    ("typed", "language", "says"),
    [
        ("1,234.50", "en", "mixes a comma and a point"),
        ("1.234,50", "fr", "mêle une virgule et un point"),
        ("1,234", "en", "thousands or a decimal"),  # English: 1234 or 1.234?
        ("vingt", "fr", "n'est pas un montant"),
        ("25 %", "en", "not a percentage here"),
        ("25..5", "en", "not an amount"),
    ],
)
def test_an_amount_that_cannot_be_read_is_refused_saying_why(typed, language, says):
    with pytest.raises(InvalidInputError, match=says):
        words.amount(typed, language)


DATES = [
    "2026-12-05",
    "2026/12/05",
    "5 décembre 2026",
    "5 DÉCEMBRE 2026",
    "5 decembre 2026",
    "05 déc. 2026",
    "5 de décembre 2026",
    "December 5, 2026",
    "december 5 2026",
    "Dec. 5, 2026",
    "5 December 2026",
    "5th December 2026",
    "  5\u00a0décembre\u00a02026 ",
]


@pytest.mark.parametrize("typed", DATES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_date_is_iso_or_written_in_french_or_english(typed, language):
    assert words.day(typed, language) == date(2026, 12, 5)


@pytest.mark.parametrize(
    ("typed", "value"),
    [("1er mars 2027", date(2027, 3, 1)), ("1 août 2027", date(2027, 8, 1))],
)
def test_the_first_of_the_month_may_be_written_as_an_ordinal(typed, value):
    assert words.day(typed, "fr") == value


@pytest.mark.parametrize("typed", ["05/12/2026", "5/12/26", "12/05/2026", "05.12.2026"])
@pytest.mark.parametrize(
    ("language", "says"),
    [("fr", "jour/mois ou mois/jour"), ("en", "day/month or month/day")],
)
def test_a_date_in_figures_with_slashes_is_refused_as_ambiguous(typed, language, says):
    with pytest.raises(InvalidInputError) as refused:
        words.day(typed, language)
    assert says in str(refused.value)
    assert "2026-12-05" in str(refused.value)  # what to write instead


@pytest.mark.parametrize("typed", ["31 février 2026", "2026-13-01", "demain", "5 brumaire 2026"])
def test_what_is_no_date_is_refused(typed):
    with pytest.raises(InvalidInputError, match="n'est pas une date"):
        words.day(typed, "fr")


def test_french_refusals_keep_their_colon_with_the_word_before():
    with pytest.raises(InvalidInputError) as refused:
        words.day("demain", "fr")
    assert "date\u00a0:" in str(refused.value)
