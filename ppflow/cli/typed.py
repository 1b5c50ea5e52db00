"""Options read the way people write them (:mod:`ppflow.services.words`), in the language
of the interface: a stage, a role, an outcome or an activity by its code or its name
(``--stage "en pause"``), a date ISO or in words (``--date "5 décembre 2026"``), a share
with a decimal comma or a percent sign (``80 %``), an amount with a decimal comma
(``25,50``).

Each reader is a Typer callback: ``typer.Option(callback=read_choice("team"))``. What it
cannot read is a usage error (exit code 2) whose message, in the interface's language,
says why and what to write instead; the command never runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import typer

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.model import LANGUAGES
from ppflow.services import words


def interface_language(ctx: typer.Context | None) -> str:
    """The language of the App the command was given, else of the settings; French when
    the settings cannot be read (the command then says why)."""
    settings = getattr(getattr(ctx, "obj", None), "settings", None)
    if settings is None:
        from ppflow.settings import get_settings

        try:
            settings = get_settings()
        except Exception:  # noqa: BLE001 - the command itself reports a bad setting
            return "fr"
    return settings.interface_language()


def _read(read: Callable[[str, str], object], value: str, ctx: typer.Context):
    """``value`` read the same way in every language needs no settings (a command may
    refuse its input before it reads them); otherwise, in the interface's language."""
    try:
        readings = {repr(read(value, language)): read(value, language) for language in LANGUAGES}
    except InvalidInputError:
        readings = {}
    if len(readings) == 1:
        return next(iter(readings.values()))
    return read(value, interface_language(ctx))


def _callback(read: Callable[[str, str], object]):
    def callback(ctx: typer.Context, value):
        if value is None:
            return None
        try:
            if isinstance(value, list | tuple):
                return [_read(read, v, ctx) for v in value]
            return _read(read, value, ctx)
        except InvalidInputError as error:
            raise typer.BadParameter(str(error)) from None

    return callback


def read_choice(kind: str, *, open_ended: bool = False):
    """A choice of ``kind`` (see :data:`ppflow.services.words.CHOICES`), as its code."""
    return _callback(lambda text, lang: words.choice(kind, text, lang, open_ended=open_ended))


def _day(text: str, language: str):
    return words.day(text, language)


def _amount(text: str, language: str) -> str:
    return str(words.amount(text, language))


def _hours(text: str, language: str) -> str:
    return str(words.number(text, language))


def _rate(text: str, language: str) -> float:
    return float(words.amount(text, language))


def _quantity(text: str, language: str) -> float:
    return float(words.quantity(text, language))


read_day = _callback(_day)  # a datetime.date
read_amount = _callback(_amount)  # dollars as plain text, "25.50", for the use cases
read_hours = _callback(_hours)  # hours as plain text, "1.5"
read_rate = _callback(_rate)  # an hourly rate in dollars, as a float
read_quantity = _callback(_quantity)  # a number, or a percentage as a share


def quantity(text: str, ctx: typer.Context | None = None) -> float:
    """A number or a percentage inside another value (``attendance_rate=80 %:2027``)."""
    try:
        return float(words.quantity(text, interface_language(ctx)))
    except InvalidInputError as error:
        raise typer.BadParameter(str(error)) from None


def day_given(value: object) -> date:
    """The date :func:`read_day` made of an option Typer declares as text (its callback's
    value replaces the text before the command runs)."""
    if not isinstance(value, date):
        raise TypeError(f"an option read by read_day holds {value!r}, not a date")
    return value
