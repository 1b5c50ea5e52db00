"""The gettext catalogue: every message translated in French and English, nothing fuzzy,
nothing a template says missed by extraction, the compiled catalogues current; and
``ppflow templates check`` failing when one of these is not so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ppflow.adapters.catalogue import check_catalogues, compiled, po_path, read_catalogue
from ppflow.adapters.email.rendering import JinjaRenderer, check_templates, make_environment
from ppflow.bootstrap import bootstrap
from ppflow.cli.mail import templates_app
from ppflow.services.notifications import NOTIFICATIONS, sample_people, template_context
from ppflow.settings import Settings

TEMPLATES = Settings().templates_dir
HELLO_FR = 'msgid "Hello %(first_name)s,"\nmsgstr "Bonjour %(first_name)s,"'
HELLO_EN = '#, python-format\nmsgid "Hello %(first_name)s,"\nmsgstr "Hello %(first_name)s,"'


@pytest.fixture
def copy(tmp_path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def check_command(templates_dir: Path, data_dir: Path):
    settings = Settings(templates_dir=templates_dir, data_dir=data_dir)
    cli = typer.Typer(context_settings={"obj": bootstrap(settings)})
    cli.add_typer(templates_app, name="templates")
    return CliRunner().invoke(cli, ["templates", "check"], env={"COLUMNS": "400"})


def catalogue_problems(directory: Path) -> tuple[str, ...]:
    found = {c.notification: c.problems for c in check_templates(directory) if not c.ok}
    return found.get("(catalogue)", ())


def test_the_shipped_catalogue_is_complete_current_and_matches_the_templates():
    assert check_catalogues(TEMPLATES) == []
    french = read_catalogue(po_path(TEMPLATES, "fr"), "fr")
    messages = [m for m in french if m.id]
    assert len(messages) > 90
    assert all(m.string and not m.fuzzy for m in messages)
    assert french.plural_forms == "nplurals=2; plural=(n > 1);"


def test_a_translation_removed_from_the_french_catalogue_fails_the_check(copy, tmp_path):
    po = po_path(copy, "fr")
    edit(po, HELLO_FR, 'msgid "Hello %(first_name)s,"\nmsgstr ""')
    (po.with_suffix(".mo")).write_bytes(compiled(read_catalogue(po, "fr")))  # even compiled

    assert catalogue_problems(copy) == (
        "missing translation in locale/fr/LC_MESSAGES/ppflow.po: 'Hello %(first_name)s,'",
    )
    result = check_command(copy, tmp_path)
    assert result.exit_code == 1, result.output
    assert "missing translation in locale/fr/LC_MESSAGES/ppflow.po" in result.output
    assert "Traceback" not in result.output


def test_a_fuzzy_english_translation_fails_the_check(copy):
    po = po_path(copy, "en")
    edit(po, HELLO_EN, HELLO_EN.replace("#, python-format", "#, fuzzy, python-format"))
    po.with_suffix(".mo").write_bytes(compiled(read_catalogue(po, "en")))

    assert catalogue_problems(copy) == (
        "fuzzy translation in locale/en/LC_MESSAGES/ppflow.po: 'Hello %(first_name)s,'",
    )


def test_a_message_extraction_has_not_collected_fails_the_check(copy):
    edit(
        copy / "email" / "welcome.txt",
        '{% include "email/_footer.txt" %}',
        '{{ _("See you soon.") }}\n{% include "email/_footer.txt" %}',
    )
    problems = catalogue_problems(copy)
    assert problems[0] == (
        "not extracted: 'See you soon.' is in a template but not in ppflow.pot "
        "(run pybabel extract)"
    )


def test_text_a_template_says_outside_gettext_fails_the_check(copy):
    edit(copy / "email" / "welcome.txt", '{{ _("Hello', 'See you soon. {{ _("Hello')
    found = {c.notification: c.problems for c in check_templates(copy) if not c.ok}
    assert found == {"(text outside _())": ("text outside _() in email/welcome.txt: See you soon",)}


def test_text_a_portal_page_says_outside_gettext_fails_the_check(copy):
    edit(copy / "portal" / "withdrawn.html", "</h1>", " for good</h1>")
    found = {c.notification: c.problems for c in check_templates(copy) if not c.ok}
    assert found == {"(text outside _())": ("text outside _() in portal/withdrawn.html: for good",)}


def test_a_catalogue_edited_but_not_compiled_fails_the_check(copy):
    edit(po_path(copy, "fr"), HELLO_FR, HELLO_FR.replace("Bonjour", "Salut"))
    assert catalogue_problems(copy) == (
        "locale/fr/LC_MESSAGES/ppflow.mo is not the compiled locale/fr/LC_MESSAGES/ppflow.po "
        "(run pybabel compile)",
    )


def test_a_missing_compiled_catalogue_is_reported_not_raised(copy, tmp_path):
    po_path(copy, "fr", ".mo").unlink()
    result = check_command(copy, tmp_path)
    assert result.exit_code == 1
    assert "no compiled catalogue for 'fr'" in result.output
    assert "Traceback" not in result.output


def test_one_template_says_each_e_mail_and_each_page_in_every_language():
    assert not [p for p in (TEMPLATES / "portal").iterdir() if p.is_dir()]
    email = TEMPLATES / "email"
    assert not [p for p in email.iterdir() if p.is_dir()]
    parts = {p.name for p in email.iterdir() if not p.name.startswith("_")}
    assert parts == {"layout.html"} | {
        f"{name}{suffix}" for name in NOTIFICATIONS for suffix in (".subject.txt", ".txt", ".html")
    }


@pytest.mark.parametrize(
    ("more", "french", "english"),
    [(1, "… et 1 autre (ppflow waiting)", "… and 1 more"), (3, "… et 3 autres", "… and 3 more")],
)
def test_plurals_follow_each_language(more, french, english):
    renderer = JinjaRenderer(make_environment(TEMPLATES))
    people = sample_people()
    sample = NOTIFICATIONS["reminder_digest"].sample
    context = {**sample, "total": len(sample["items"]) + more}
    recipient = next(p for p in people.values() if p.kind == "staff")
    texts = {
        lang: renderer.render(
            "reminder_digest", lang, template_context(context, recipient, lang, people)
        ).text
        for lang in ("fr", "en")
    }
    assert french in texts["fr"]
    assert english in texts["en"]
