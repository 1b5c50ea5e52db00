"""Questionnaires as data: the shipped files are valid, a faulty file is refused with its
fault named, a licensed file cannot be edited once sealed, answers are checked and scored,
and personal links are signed, expire and cannot be forged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from ppflow.domain.errors import InvalidInputError
from ppflow.resources import questionnaires_dir
from ppflow.services import links
from ppflow.services.questionnaires import (
    NOT_APPLICABLE,
    AnswersError,
    QuestionnaireError,
    QuestionnaireLibrary,
    Scores,
    clean_answers,
    content_hash,
    load_file,
    parse,
    score,
    seal,
)

THEMES = {"communication", "sharing_views", "influence", "respect", "practical_support"}


SHIPPED = questionnaires_dir()


def shipped(name: str) -> dict:
    return yaml.safe_load((SHIPPED / f"{name}.v1.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["partnership-experience-advisor", "partnership-experience-team"])
def test_the_shipped_questionnaires_are_valid_and_bilingual(name):
    questionnaire = QuestionnaireLibrary().get(name)
    assert questionnaire.version == 1
    assert {t.id for t in questionnaire.themes} == THEMES | {"compensation"}
    assert {i.theme for i in questionnaire.scale_items} == THEMES | {"compensation"}
    assert any(i.kind == "open" for i in questionnaire.items)
    for item in questionnaire.items:
        assert item.text["fr"] and item.text["en"] and item.text["fr"] != item.text["en"]


def test_the_newest_version_is_used_unless_one_is_asked(tmp_path):
    document = shipped("partnership-experience-team")
    document["version"] = 2
    (tmp_path / "partnership-experience-team.v2.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    library = QuestionnaireLibrary([SHIPPED, tmp_path])
    assert library.get("partnership-experience-team").version == 2
    assert library.get("partnership-experience-team", 1).version == 1


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda d: d["items"].append(dict(d["items"][0])), "appears twice"),
        (lambda d: d["items"][0]["text"].pop("en"), "has no text in en"),
        (lambda d: d["scale"]["fr"].pop(), "needs exactly 5 labels"),
        (lambda d: d["items"][0].update(theme="elsewhere"), "needs a theme among"),
        (lambda d: d["items"][0].update(type="slider"), "use scale or open"),
        (lambda d: d.update(version="one"), "'version' must be a whole number"),
        (lambda d: d.update(locked=True, licence="L"), "must be sealed first"),
        (lambda d: d.update(not_applicable="yes"), "'not_applicable' is true or false"),
        (
            lambda d: d["items"][0].update(not_applicable=1),
            "item com_information: 'not_applicable' is true or false",
        ),
        (
            lambda d: d["items"][-1].update(not_applicable=True),
            "item open_improve is an open question; only agreement items offer",
        ),
    ],
)
def test_a_faulty_questionnaire_is_refused_with_its_fault_named(change, fault):
    document = copy.deepcopy(shipped("partnership-experience-advisor"))
    change(document)
    with pytest.raises(QuestionnaireError, match=fault):
        parse(document, "test.v1.yaml")


def test_a_file_named_for_another_version_is_refused(tmp_path):
    path = tmp_path / "partnership-experience-advisor.v3.yaml"
    path.write_text((SHIPPED / "partnership-experience-advisor.v1.yaml").read_text("utf-8"))
    with pytest.raises(QuestionnaireError, match="the file says partnership-experience-advisor v1"):
        load_file(path)


def licensed(tmp_path):
    document = copy.deepcopy(shipped("partnership-experience-advisor"))
    document.update(name="licensed", locked=True, licence="Licence no. 7; items may not change.")
    path = tmp_path / "licensed.v1.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_a_sealed_licensed_questionnaire_loads_with_its_licence(tmp_path):
    path = licensed(tmp_path)
    digest = seal(path)
    questionnaire = load_file(path)
    assert questionnaire.locked and questionnaire.content_hash == digest
    assert questionnaire.licence == "Licence no. 7; items may not change."


def test_editing_a_sealed_licensed_questionnaire_is_refused(tmp_path):
    path = licensed(tmp_path)
    seal(path)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["items"][0]["text"]["en"] = "A friendlier wording."
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="modified after it was sealed"):
        load_file(path)


def test_the_seal_ignores_layout_but_not_content():
    document = shipped("partnership-experience-advisor")
    reordered = dict(reversed(list(document.items())))
    assert content_hash(document) == content_hash(reordered)
    document["licence"] = "another licence"
    assert content_hash(document) != content_hash(reordered)


def test_answers_are_checked_against_the_questionnaire():
    questionnaire = QuestionnaireLibrary().get("partnership-experience-advisor")
    cleaned = clean_answers(
        questionnaire,
        {"com_role": "4", "respect_equal": 5, "open_improve": " ok\x00\x07 ", "views_invited": ""},
    )
    assert cleaned == {"com_role": 4, "respect_equal": 5, "open_improve": "ok"}
    with pytest.raises(InvalidInputError, match="com_role: agreement answers go from 1 to 5"):
        clean_answers(questionnaire, {"com_role": "0"})
    with pytest.raises(InvalidInputError, match="no item 'unknown'"):
        clean_answers(questionnaire, {"unknown": 3})
    with pytest.raises(InvalidInputError, match="limited to 4000"):
        clean_answers(questionnaire, {"open_improve": "x" * 4001})
    with pytest.raises(InvalidInputError, match="no answer"):
        clean_answers(questionnaire, {"com_role": " "})


def test_scores_are_the_mean_of_scale_items_overall_and_per_theme():
    questionnaire = QuestionnaireLibrary().get("partnership-experience-advisor")
    scores = score(
        questionnaire,
        {
            "com_information": 5,
            "com_role": 4,
            "com_contact": 4,
            "respect_equal": 1,
            "open_improve": "x",
        },
    )
    assert scores.overall == 3.5
    assert scores.by_theme == {"communication": 4.33, "respect": 1.0}


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_signed_link_opens_until_it_expires():
    signed = links.sign("k" * 40, links.SURVEY, "tok_en-1", NOW + timedelta(days=30))
    opened = links.verify("k" * 40, links.SURVEY, signed, NOW + timedelta(days=29))
    assert opened.subject == "tok_en-1"
    with pytest.raises(links.LinkError, match="expired"):
        links.verify("k" * 40, links.SURVEY, signed, NOW + timedelta(days=30))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s.replace("tok", "tak", 1),
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),
        lambda s: ".".join([s.split(".")[0], "ffffffff", s.split(".")[2]]),
        lambda s: s.split(".")[0],
        lambda s: "../../etc.1.x",
    ],
)
def test_a_tampered_link_is_forged(tamper):
    signed = links.sign("k" * 40, links.SURVEY, "tok_en-1", NOW + timedelta(days=30))
    with pytest.raises(links.LinkError, match="forged"):
        links.verify("k" * 40, links.SURVEY, tamper(signed), NOW)


def test_a_link_needs_the_right_key_and_kind():
    signed = links.sign("k" * 40, links.SURVEY, "PA-7K3M9Q", NOW + timedelta(days=30))
    with pytest.raises(links.LinkError, match="forged"):
        links.verify("another key" * 4, links.SURVEY, signed, NOW)
    with pytest.raises(links.LinkError, match="forged"):
        links.verify("k" * 40, links.WITHDRAWAL, signed, NOW)


def test_not_applicable_is_offered_by_the_file_or_by_the_item():
    advisor = QuestionnaireLibrary().get("partnership-experience-advisor")
    assert all(i.not_applicable for i in advisor.scale_items)
    assert not any(i.not_applicable for i in advisor.items if i.kind == "open")
    team = QuestionnaireLibrary().get("partnership-experience-team")
    assert [i.id for i in team.items if i.not_applicable] == ["compensation_process"]
    document = copy.deepcopy(shipped("partnership-experience-advisor"))
    document["items"][1]["not_applicable"] = False  # the item overrides the file
    parsed = parse(document, "test.v1.yaml")
    assert [i.id for i in parsed.scale_items if not i.not_applicable] == ["com_role"]
    del document["not_applicable"]
    assert not parse(document, "test.v1.yaml").offers_not_applicable


def test_not_applicable_is_an_answer_but_never_a_score():
    advisor = QuestionnaireLibrary().get("partnership-experience-advisor")
    answers = clean_answers(
        advisor, {"com_role": "NA", "com_contact": " n/a ", "com_information": "4"}
    )
    assert answers == {
        "com_role": NOT_APPLICABLE,
        "com_contact": NOT_APPLICABLE,
        "com_information": 4,
    }
    assert score(advisor, answers) == Scores(4.0, {"communication": 4.0})
    only = clean_answers(advisor, {"compensation_fair": "na"})  # an answer all the same
    assert score(advisor, only) == Scores(None, {})
    team = QuestionnaireLibrary().get("partnership-experience-team")
    with pytest.raises(AnswersError) as refused:
        clean_answers(team, {"views_space": "na", "compensation_process": "na"})
    [fault] = refused.value.faults
    assert (fault.problem, fault.item.id) == ("not_applicable", "views_space")
    assert "views_space: this item does not offer 'not applicable'" in str(refused.value)
