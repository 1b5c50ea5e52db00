"""The language people read ppflow in: PPFLOW_LANGUAGE, else the locale, else French."""

from __future__ import annotations

import pytest

from ppflow.settings import Settings, SmtpSettings


@pytest.mark.parametrize(
    ("language", "environ", "expected"),
    [
        ("en", {"LANG": "fr_CA.UTF-8"}, "en"),  # PPFLOW_LANGUAGE wins over the locale
        (None, {"LANG": "fr_CA.UTF-8"}, "fr"),
        (None, {"LANG": "en_CA.UTF-8"}, "en"),
        (None, {"LANG": "fr_CA.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),  # LC_ALL first
        (None, {"LANG": "en_CA.UTF-8", "LC_MESSAGES": "fr_FR@euro"}, "fr"),
        (None, {"LANG": "C.UTF-8"}, "fr"),  # no language in the locale: French
        (None, {"LANG": "de_DE.UTF-8"}, "fr"),  # one ppflow does not speak: French
        (None, {}, "fr"),
    ],
)
def test_ppflow_language_else_the_locale_else_french(language, environ, expected):
    assert Settings(language=language).interface_language(environ) == expected


def test_without_a_usable_locale_the_organization_s_language_is_the_default():
    settings = Settings(language=None, smtp=SmtpSettings(default_language="en"))
    assert settings.interface_language({"LANG": "C.UTF-8"}) == "en"
    assert settings.interface_language({"LANG": "fr_CA.UTF-8"}) == "fr"


def test_ppflow_language_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PPFLOW_LANGUAGE", "en")
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    assert Settings().interface_language() == "en"
    monkeypatch.delenv("PPFLOW_LANGUAGE")
    assert Settings().interface_language() == "fr"
