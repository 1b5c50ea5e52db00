"""The gettext catalogue of everything the templates say, and its check.

Layout of ``templates/locale/``::

    babel.cfg                         what extraction reads (paths relative to templates/)
    ppflow.pot                        the messages extraction found (English msgids)
    <lang>/LC_MESSAGES/ppflow.po      the translations, edited in any PO editor
    <lang>/LC_MESSAGES/ppflow.mo      compiled from the .po and committed (what is read)

Templates say ``{{ _("Hello %(name)s,", name=...) }}`` and ``{{ ngettext(singular,
plural, n, num=...) }}`` (``jinja2.ext.i18n``, new-style gettext: variables are escaped in
HTML, and a literal ``%`` is written ``%%``). The language of a rendering is the ``lang`` of
its context, so one environment serves every language. A translator's round::

    pybabel extract -F templates/locale/babel.cfg --project ppflow \
        --copyright-holder ppflow -o templates/locale/ppflow.pot templates
    pybabel update -i templates/locale/ppflow.pot -d templates/locale -D ppflow
    (translate in templates/locale/fr/LC_MESSAGES/ppflow.po, and en's)
    pybabel compile -d templates/locale -D ppflow

``ppflow templates check`` fails when a message is untranslated or fuzzy in a language,
when a ``.mo`` is not the compilation of its ``.po``, and when a fresh extraction finds a
message the ``.pot`` lacks (or the ``.pot`` one no template says any more).
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from ppflow.domain.model import LANGUAGES

FOLDER = "locale"
# The templates whose every sentence goes through the catalogue.
TRANSLATED = ("email", "portal")
DOMAIN = "ppflow"
MAPPING = "babel.cfg"


class CatalogueError(LookupError):
    """A language has no compiled catalogue."""


def po_path(templates_dir: Path, language: str, suffix: str = ".po") -> Path:
    return templates_dir / FOLDER / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def pot_path(templates_dir: Path) -> Path:
    return templates_dir / FOLDER / f"{DOMAIN}.pot"


def load_translations(
    templates_dir: Path, languages: Iterable[str] = LANGUAGES
) -> dict[str, gettext.GNUTranslations]:
    """The compiled catalogue of each language (a missing one is an error, never a silent
    fall back to English)."""
    found = {}
    for language in languages:
        path = po_path(templates_dir, language, ".mo")
        try:
            with path.open("rb") as handle:
                found[language] = gettext.GNUTranslations(handle)
        except OSError as error:
            raise CatalogueError(f"no compiled catalogue for {language!r} at {path}") from error
    return found


def install(environment: Environment, translations: Mapping[str, gettext.NullTranslations]):
    """``_``, ``gettext`` and ``ngettext`` in ``environment`` that translate into the
    ``lang`` of the rendering's context, as the i18n extension's new-style callables
    behave (marked safe in HTML, always read as a format string), in one call each:
    Jinja's own go through ``_`` to ``gettext`` to the translating function, each call
    through the context, which cost a third of rendering an e-mail (a dozen calls a
    message). The extension stays for ``{% trans %}`` and its new-style flag."""
    environment.add_extension("jinja2.ext.i18n")

    def catalogue(context: Context) -> gettext.NullTranslations:
        language = context.get("lang")
        try:
            return translations[language]
        except KeyError:
            raise CatalogueError(f"no catalogue for the language {language!r}") from None

    @pass_context
    def translate(context: Context, message: str, /, **variables: Any) -> str:
        text = catalogue(context).gettext(message)
        if context.eval_ctx.autoescape:
            return Markup(text) % variables
        return text % variables

    @pass_context
    def translate_plural(
        context: Context, singular: str, plural: str, n: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", n)
        text = catalogue(context).ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            return Markup(text) % variables
        return text % variables

    environment.install_gettext_callables(translate, translate_plural, newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(_=translate, gettext=translate, ngettext=translate_plural)


# ------------------------------------------------------------------------- checks


def extract(templates_dir: Path) -> Catalog:
    """A fresh extraction of every message the templates say (as ``pybabel extract``)."""
    with (templates_dir / FOLDER / MAPPING).open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    catalog = Catalog(project="ppflow", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(templates_dir), method_map, options_map
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def _show(msgid: str | tuple[str, ...] | list[str]) -> str:
    """A message id, short, on one line; a plural one (Babel's sequence) by its singular."""
    text = msgid if isinstance(msgid, str) else msgid[0]
    text = re.sub(r"\s+", " ", text)
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _untranslated(message: Any) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not all(strings)


def check_catalogues(templates_dir: Path, languages: Iterable[str] = LANGUAGES) -> list[str]:
    """What is wrong with the catalogue, one sentence each (nothing when all is well)."""
    problems: list[str] = []
    pot = pot_path(templates_dir)
    try:
        template = read_catalogue(pot)
    except OSError:
        return [f"no message template at {FOLDER}/{DOMAIN}.pot"]
    try:
        fresh = extract(templates_dir)
    except OSError as error:
        return [f"extraction failed: {error}"]
    known = {message.id for message in template if message.id}
    said = {message.id for message in fresh if message.id}
    problems += [
        f"not extracted: {_show(msgid)} is in a template but not in {DOMAIN}.pot "
        "(run pybabel extract)"
        for msgid in sorted(said - known, key=str)
    ]
    problems += [
        f"obsolete: {_show(msgid)} is in {DOMAIN}.pot but in no template"
        for msgid in sorted(known - said, key=str)
    ]
    for language in languages:
        where = f"{FOLDER}/{language}/LC_MESSAGES/{DOMAIN}"
        try:
            catalog = read_catalogue(po_path(templates_dir, language), language)
        except OSError:
            problems.append(f"missing translation: no {where}.po")
            continue
        for message in catalog:
            if not message.id:
                continue
            if message.fuzzy:
                problems.append(f"fuzzy translation in {where}.po: {_show(message.id)}")
            elif _untranslated(message):
                problems.append(f"missing translation in {where}.po: {_show(message.id)}")
        translated = {message.id for message in catalog if message.id}
        problems += [
            f"missing translation in {where}.po: {_show(msgid)} is not in it (run pybabel update)"
            for msgid in sorted(known - translated, key=str)
        ]
        mo = po_path(templates_dir, language, ".mo")
        if not mo.is_file() or mo.read_bytes() != compiled(catalog):
            problems.append(f"{where}.mo is not the compiled {where}.po (run pybabel compile)")
    return problems


# What may stand outside _() in a template: Jinja, markup, code and commands, a language's
# own name in that language (``<a lang="en">English</a>``), and punctuation.
_NOT_PROSE = re.compile(
    r"{{.*?}}|{%.*?%}|{#.*?#}|<(style|script|code)\b.*?</\1>|<!--.*?-->"
    r"|<(\w+)[^>]*\blang=\"[a-z]{2}\"[^>]*>[^<]*</\2>|<[^>]*>|&\w+;"
    r"|\bppflow(?: [\w.…-]+)+",
    re.S | re.I,
)


def untranslated_text(templates_dir: Path) -> list[str]:
    """Words an e-mail or portal template says outside ``_()``/``ngettext()``: extraction
    cannot see them, so they would reach every reader untranslated."""
    found = []
    for folder in TRANSLATED:
        root = templates_dir / folder
        paths = sorted(root.rglob("*")) if root.is_dir() else []
        for path in paths:
            if path.suffix not in (".html", ".txt"):
                continue
            rest = _NOT_PROSE.sub(" ", path.read_text(encoding="utf-8"))
            words = re.findall(r"[^\W\d_]{2,}", rest)
            if words:
                where = path.relative_to(templates_dir)
                found.append(f"text outside _() in {where}: {' '.join(words[:6])}")
    return found
