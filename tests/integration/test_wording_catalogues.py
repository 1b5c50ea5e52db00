"""The wording texts: English in ``templates/wording/<area>.yaml``, translated in the gettext
catalogue (one message per text, its key as context). The check names what is missing,
and the shipped ones are complete."""

from __future__ import annotations

import shutil

from ppflow.adapters.catalogue import po_path, read_catalogue
from ppflow.resources import templates_dir
from ppflow.services.wording import Wording, check_wording
from ppflow.services.wording import read_catalogue as read_wording
from tests.integration.catalogue_helpers import drop_translation, set_translation


def test_the_check_names_a_missing_text_differing_placeholders_and_a_missing_catalogue(
    tmp_path,
):
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    drop_translation(copy, "en", "report.title")
    set_translation(copy, "fr", "digest.kinds.invited", "{stage}, sans réponse")
    problems = check_wording(copy, ("fr", "en"))
    assert problems == [
        "placeholders differ for digest.kinds.invited (en: ['days', 'stage']; fr: ['stage'])",
        "missing translation: en text for report.title",
    ]
    po_path(copy, "fr", ".mo").unlink()
    [problem] = check_wording(copy, ("fr", "en"))
    assert problem.startswith("missing translation: no compiled catalogue at ")


def test_the_shipped_catalogues_are_complete():
    assert check_wording(templates_dir()) == []


def test_each_text_is_a_message_of_the_catalogue_in_the_context_of_its_key():
    english = read_wording(templates_dir() / "wording")
    french = read_catalogue(po_path(templates_dir(), "fr"), "fr")
    message = french.get(english["stages.advisor.on_hold"], context="stages.advisor.on_hold")
    assert (message.id, message.string) == ("on hold", "en pause")
    wording = Wording.from_directory(templates_dir())
    assert wording.stage("advisor", "on_hold", "fr") == "en pause"
    assert wording.stage("advisor", "on_hold", "en") == "on hold"
    assert set(wording.texts["fr"]) == set(english) == set(wording.texts["en"])
