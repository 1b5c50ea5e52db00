"""Dates, money and shares formatted per language by Babel, French typography, and the
check of the wording catalogues."""

from __future__ import annotations

from datetime import date

import pytest

from ppflow.services.wording import (
    NBSP,
    Wording,
    WordingError,
    format_date,
    format_money,
    format_percent,
    typeset,
)


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace("\u202f", " ")


def test_dates_money_and_shares_read_as_each_language_writes_them():
    assert format_date(date(2026, 12, 14), "fr") == "14 décembre 2026"
    assert format_date(date(2026, 12, 14), "en") == "December 14, 2026"
    assert format_date(date(2028, 3, 1), "fr") == "1er mars 2028"
    assert format_date(date(2028, 3, 11), "fr") == "11 mars 2028"
    assert format_date(date(2028, 3, 1), "en") == "March 1, 2028"
    assert plain(format_money(1234.5, "fr")) == "1 234,50 $"
    assert format_money(1234.5, "en") == "$1,234.50"
    assert plain(format_percent(1, "fr")) == "100 %"
    assert format_percent(0.456, "en", 1) == "45.6%"


def test_french_typography_keeps_guillemets_and_colons_with_their_words_but_not_urls():
    text = typeset("l'équipe « Parcours » : voir https://portal.example/x?y=1", "fr")
    assert "«" + NBSP + "Parcours" + NBSP + "»" + NBSP + ":" in text
    assert "https://portal.example/x?y=1" in text
    assert typeset("Note: see", "en") == "Note: see"


def test_french_typography_leaves_a_url_with_a_port_whole():
    url = "http://127.0.0.1:8000/s/tok.6b36bfcc.mac?lang=en"
    assert typeset(f"Répondre : {url}", "fr") == f"Répondre{NBSP}: {url}"


def test_an_unknown_language_or_text_is_named():
    with pytest.raises(WordingError, match="de"):
        format_date(date(2026, 1, 1), "de")
    with pytest.raises(WordingError, match="stages.advisor.nowhere"):
        Wording({"fr": {}}).text("stages.advisor.nowhere", "fr")
