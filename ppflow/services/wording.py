"""What people read, in each language ppflow speaks: the wording catalogues and the
formatting of dates, numbers, money and shares.

Formatting is Babel's, with the Canadian locales (``fr`` is ``fr_CA``, ``en`` is
``en_CA``): "14 décembre 2026", "1 234,50 $", "100 %" in French; "December 14, 2026",
"$1,234.50", "100%" in English.

The texts are written in English in YAML files, one per area, in the templates directory,
and translated in the gettext catalogue beside them (``locale/``, where each text is a
message whose context is its key)::

    wording/<area>.yaml                  a mapping of keys (nested mappings allowed) to text
    locale/<lang>/LC_MESSAGES/ppflow.mo  the translations (``msgctxt "<area>.<key>"``)

A text is found by ``<area>.<key>``: ``text("stages.advisor.integrated", "fr")``. Values
may hold ``{placeholders}``, filled by :func:`Wording.text`. :func:`check_wording` (part of
``ppflow templates check``) reports a text a language lacks, an empty text, and
placeholders that differ from the English. :func:`extract_wording` is the Babel extractor
``pybabel extract`` runs on ``wording/*.yaml`` (``locale/babel.cfg``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import read_mo

from ppflow.domain.model import LANGUAGES

LOCALES = {"fr": "fr_CA", "en": "en_CA"}
FOLDER = "wording"
LOCALE = Path("locale")
DOMAIN = "ppflow"
NBSP = "\u00a0"  # before a colon and inside guillemets
NNBSP = "\u202f"  # Babel's thin space in French numbers and percentages


class WordingError(LookupError):
    """A text that no catalogue holds, or a catalogue that cannot be read."""


def locale_of(language: str) -> str:
    try:
        return LOCALES[language]
    except KeyError:
        raise WordingError(
            f"no locale for language {language!r}; ppflow speaks {', '.join(LOCALES)}"
        ) from None


# ------------------------------------------------------------------------ formatting


def format_date(value: date | datetime | None, language: str, form: str = "long") -> str:
    """``form`` is Babel's: ``long`` ("14 décembre 2026"), ``medium``, ``short``. French
    writes the first of the month as an ordinal, "1er mars 2028", which Babel does not."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    text = babel_dates.format_date(value, format=form, locale=locale_of(language))
    if language == "fr" and value.day == 1 and form in ("long", "full"):
        text = re.sub(r"\b1(?= )", "1er", text, count=1)
    return text


def format_datetime(value: datetime | None, language: str, form: str = "medium") -> str:
    if value is None:
        return "—"
    return babel_dates.format_datetime(value, format=form, locale=locale_of(language))


def format_number(value: float | int | Decimal | None, language: str, digits: int = 0) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale_of(language))


def format_money(value: float | int | Decimal | None, language: str, currency: str = "CAD") -> str:
    """ "1 234,50 $" in French, "$1,234.50" in English (Canadian dollars by default)."""
    if value is None:
        return "—"
    return babel_numbers.format_currency(value, currency, locale=locale_of(language))


def format_percent(share: float | Decimal | None, language: str, digits: int = 0) -> str:
    """A share from 0 to 1 as a percentage: 1 is "100 %" in French, "100%" in English."""
    if share is None:
        return "—"
    locale = Locale.parse(locale_of(language))
    pattern = locale.percent_formats[None].pattern  # "#,##0 %" in French
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return babel_numbers.format_percent(share, format=pattern, locale=locale)


_BEFORE = re.compile(r"[ \u00a0]*([:»])")
_AFTER = re.compile(r"«[ \u00a0]*")
_TIGHT = re.compile(r" ([;!?])")


def typeset(text: str, language: str) -> str:
    """French typography for plain text: a non-breaking space before a colon and inside
    guillemets, so that neither is left alone at the start or the end of a line; the space
    a writer put before ``;``, ``!`` or ``?`` becomes non-breaking. Other languages are
    returned unchanged. URLs (``scheme://`` up to the next space) are left exactly as they
    are, ports and all."""
    if language != "fr":
        return text
    pieces = _URL.split(text)  # odd pieces are URLs
    for i in range(0, len(pieces), 2):
        piece = _BEFORE.sub(lambda m: NBSP + m.group(1), pieces[i])
        piece = _AFTER.sub("«" + NBSP, piece)
        pieces[i] = _TIGHT.sub(NBSP + r"\1", piece)
    return "".join(pieces)


_URL = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"]+)")


# ------------------------------------------------------------------------- catalogues


def _flatten(prefix: str, node: object, into: dict[str, str], source: str) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, into, source)
    elif isinstance(node, str | int | float):
        into[prefix] = str(node)
    else:
        raise WordingError(f"{source}: {prefix} is neither a text nor a mapping")


def read_catalogue(folder: Path) -> dict[str, str]:
    """Every ``<area>.yaml`` in one language's folder, flattened to ``area.key`` texts."""
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise WordingError(f"{path}: not valid YAML ({error})") from None
        _flatten(path.stem, document, texts, str(path))
    return texts


def _placeholders(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


@dataclass(frozen=True)
class Wording:
    """The texts of every language, by ``area.key``."""

    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_directory(cls, templates_dir: Path, languages: Iterable[str] = LANGUAGES):
        """The English texts of ``wording/``, in each language its catalogue translates."""
        source = read_catalogue(templates_dir / FOLDER)
        texts = {}
        for language in languages:
            catalog = _compiled(templates_dir, language)
            found = {}
            for key, english in source.items():
                message = catalog.get(english, context=key)
                if message is not None and message.string:
                    found[key] = message.string
            texts[language] = found
        return cls(texts)

    def has(self, key: str, language: str) -> bool:
        return key in self.texts.get(language, {})

    def text(self, key: str, language: str, /, **values: object) -> str:
        try:
            found = self.texts[language][key]
        except KeyError:
            raise WordingError(f"no {language} text for {key!r}") from None
        return found.format(**values) if values else found

    def label(self, key: str, language: str, fallback: str | None = None) -> str:
        """A label that may be missing (a custom feedback theme, say): ``fallback``, or
        the last part of the key with spaces, when no catalogue has it."""
        if self.has(key, language):
            return self.texts[language][key]
        if fallback is not None:
            return fallback
        return key.rsplit(".", 1)[-1].replace("_", " ")

    def stage(self, kind: str, stage: str, language: str) -> str:
        """An advisor's, engagement's or team's stage, as people read it."""
        return self.text(f"stages.{kind}.{stage}", language)


def _compiled(templates_dir: Path, language: str):
    path = templates_dir / LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as handle:
            return read_mo(handle)
    except OSError:
        raise WordingError(f"missing translation: no compiled catalogue at {path}") from None


@lru_cache(maxsize=4)
def _shipped(templates_dir: Path) -> Wording:
    return Wording.from_directory(templates_dir)


def shipped_wording(templates_dir: Path | None = None) -> Wording:
    """The catalogues of ``templates_dir`` (the shipped templates by default), read once."""
    if templates_dir is None:
        from ppflow.resources import templates_dir as shipped

        templates_dir = shipped()
    return _shipped(Path(templates_dir))


def check_wording(templates_dir: Path, languages: Iterable[str] = LANGUAGES) -> list[str]:
    """Problems in the texts, one sentence each: a text a language lacks (untranslated),
    an empty text, placeholders that differ from the English."""
    try:
        source = read_catalogue(templates_dir / FOLDER)
        wording = Wording.from_directory(templates_dir, languages)
    except WordingError as error:
        return [str(error)]
    problems: list[str] = []
    for key, english in sorted(source.items()):
        for lang in languages:
            if not wording.has(key, lang):
                problems.append(f"missing translation: {lang} text for {key}")
                continue
            value = wording.texts[lang][key]
            if not value.strip():
                problems.append(f"empty {lang} text for {key}")
            if _placeholders(value) != _placeholders(english):
                detail = (
                    f"en: {sorted(_placeholders(english))}; {lang}: {sorted(_placeholders(value))}"
                )
                problems.append(f"placeholders differ for {key} ({detail})")
    return problems


def extract_wording(fileobj, keywords, comment_tags, options):
    """Babel's extraction method for ``wording/<area>.yaml``: each text is a message in
    context ``<area>.<key>`` (``pgettext(key, text)``)."""
    area = Path(getattr(fileobj, "name", "wording.yaml")).stem
    root = yaml.compose(fileobj.read().decode("utf-8"))

    def walk(prefix: str, node):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                yield from walk(f"{prefix}.{key.value}", value)
        elif isinstance(node, yaml.ScalarNode):
            yield node.start_mark.line + 1, "pgettext", (prefix, node.value), []

    if root is not None:
        yield from walk(area, root)


def template_filters() -> dict[str, object]:
    """The Jinja filters every environment of ppflow installs, each taking the language:
    ``{{ due | date(lang) }}``, ``{{ amount | money(lang) }}``, ``{{ share | percent(lang) }}``,
    ``{{ count | number(lang) }}``, ``{{ text | typeset(lang) }}``."""
    return {
        "date": format_date,
        "datetime": format_datetime,
        "money": format_money,
        "percent": format_percent,
        "number": format_number,
        "typeset": typeset,
    }
