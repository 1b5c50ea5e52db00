"""Editing a copy of the gettext catalogue the way a translator would (the .po), then
compiling it (the .mo ppflow reads): the tests' way to take a translation away."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import write_po

from ppflow.adapters.catalogue import compiled, po_path, read_catalogue


def _save(templates_dir: Path, language: str, catalog) -> None:
    po = po_path(templates_dir, language)
    with po.open("wb") as handle:
        write_po(handle, catalog)
    po.with_suffix(".mo").write_bytes(compiled(catalog))


def drop_translations(templates_dir: Path, language: str, key_prefix: str) -> list[str]:
    """Remove from ``language`` the wording texts whose key starts with ``key_prefix``
    (a whole key, or an area such as ``"email."``); returns their keys."""
    catalog = read_catalogue(po_path(templates_dir, language), language)
    found = [m for m in catalog if m.context and m.context.startswith(key_prefix)]
    assert found, f"no {language} text for {key_prefix}"
    for message in found:
        catalog.delete(message.id, context=message.context)
    _save(templates_dir, language, catalog)
    return [m.context for m in found]


def drop_translation(templates_dir: Path, language: str, key: str) -> None:
    assert drop_translations(templates_dir, language, key) == [key]


def set_translation(templates_dir: Path, language: str, key: str, text: str) -> None:
    catalog = read_catalogue(po_path(templates_dir, language), language)
    [message] = [m for m in catalog if m.context == key]
    message.string = text
    _save(templates_dir, language, catalog)
