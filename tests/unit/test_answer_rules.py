"""The rules every answer obeys, whichever path brings it (the Prefect UI's form,
``ppflow answer``, the API): checked here on plain values and the in-memory unit of work."""

from __future__ import annotations

import pytest

from ppflow.domain.errors import InvalidInputError
from ppflow.services import decisions
from ppflow.services.decisions import NOBODY, QuestionClosedError, check_answer
from tests.unit.fakes import advisor_at, organization


def test_not_retained_needs_a_reason_given_as_a_word_or_a_code():
    for outcome in ("not_retained", "Not retained"):
        with pytest.raises(InvalidInputError, match="a reason is required when"):
            decisions.check_reason(outcome, " \n")
        decisions.check_reason(outcome, "moved away")
    decisions.check_reason("Retained", "")
    decisions.check_reason("declined", "")
    decisions.check_reason("not_retained", "x" * decisions.REASON_MAX_LENGTH)
    with pytest.raises(InvalidInputError, match="at most 500"):
        decisions.check_reason("not_retained", "x" * (decisions.REASON_MAX_LENGTH + 1))


def test_a_placement_has_a_short_role_and_a_rate_from_the_tiers_to_the_ceiling():
    placed = {"advisor": "PA-1", "role": "member", "hourly_rate": 0}
    decisions.check_match_answer(placed)
    decisions.check_match_answer({**placed, "role": "r" * 40, "hourly_rate": 500})
    with pytest.raises(InvalidInputError, match="role: at most 40"):
        decisions.check_match_answer({**placed, "role": "r" * 41})
    for rate in (-1, 500.01):
        with pytest.raises(InvalidInputError, match="hourly_rate"):
            decisions.check_match_answer({**placed, "hourly_rate": rate})
    with pytest.raises(InvalidInputError, match="name the advisor"):
        decisions.check_match_answer({"role": "member"})
    # turning every proposal down places nobody: role and rate do not matter
    decisions.check_match_answer({"advisor": NOBODY, "role": "r" * 99, "hourly_rate": 999})


def test_a_rate_of_0_pays_by_the_rate_tiers():
    assert decisions.hourly_rate_paid(0) is None
    assert decisions.hourly_rate_paid(None) is None
    assert decisions.hourly_rate_paid(25) == 25.0
    assert "rate tiers" in decisions.what_it_does("match", "QT-1", {"advisor": "PA-1"})


def test_a_match_answer_places_the_advisor_at_their_rate_or_nobody():
    placed = {"advisor": "PA-1", "role": "co-chair", "hourly_rate": 0}
    assert decisions.placement(placed) == decisions.MatchPlacement("PA-1", "co-chair", None)
    assert decisions.placement({**placed, "hourly_rate": 30}).hourly_rate == 30.0
    assert decisions.placement({"advisor": "PA-1"}) == decisions.MatchPlacement(
        "PA-1", decisions.DEFAULT_ROLE, None
    )
    assert decisions.placement({"advisor": NOBODY, "role": "x", "hourly_rate": 30}) is None


def test_only_known_modules_are_accepted():
    known = {"PP-101", "CONF-1"}
    assert decisions.unknown_modules(["PP-101", "XX", "CONF-1", "YY"], known) == ["XX", "YY"]
    assert decisions.unknown_modules(["CONF-1"], known) == []


def test_one_check_per_question_reads_the_answer_as_any_path_sends_it():
    o = organization()
    invited = advisor_at(o, "invited")
    check_answer(o.uow, "screening", invited, {"outcome": "Not retained", "reason": "moved"})
    with pytest.raises(InvalidInputError, match="a reason is required"):
        check_answer(o.uow, "screening", invited, {"outcome": "Not retained"})
    preparing = advisor_at(o, "preparing")
    with pytest.raises(InvalidInputError, match="unknown module"):
        check_answer(o.uow, "training", preparing, {"modules": ["XX", "XX"]})
    ready = advisor_at(o, "ready")
    with pytest.raises(QuestionClosedError):
        check_answer(o.uow, "training", ready, {"modules": ["PP-101"]})
    answer = {"advisor": ready, "role": "member", "hourly_rate": 0}
    with pytest.raises(InvalidInputError, match="hourly_rate"):
        check_answer(o.uow, "match", o.team, {**answer, "hourly_rate": 501})
    with pytest.raises(InvalidInputError, match="only a ready advisor"):
        check_answer(o.uow, "match", o.team, {**answer, "advisor": preparing})
    check_answer(o.uow, "match", o.team, {"advisor": NOBODY})


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("non retenue", "not_retained"),
        ("NON RETENUE", "not_retained"),
        ("Non retenu", "not_retained"),
        ("retenue", "retained"),
        ("déclinée", "declined"),
        ("declinee", "declined"),
        ("not retained", "not_retained"),
    ],
)
def test_an_outcome_may_be_given_by_its_french_or_english_name(typed, code):
    assert decisions.outcome_code(typed) == code
    assert decisions.reason_needed(typed) == (code == "not_retained")


def test_an_unknown_outcome_is_left_for_the_form_to_refuse():
    assert decisions.outcome_code("peut-être") == "peut-être"


def test_a_rate_typed_as_text_takes_a_decimal_comma():
    placed = {"advisor": "PA-1", "role": "member", "hourly_rate": "25,50"}
    decisions.check_match_answer(placed)
    assert decisions.placement(placed).hourly_rate == 25.5
    assert decisions.hourly_rate_paid("0") is None
    assert "$25.5 an hour" in decisions.what_it_does("match", "QT-1", placed)
    for rate in ("1,234.50", "vingt", "600"):
        with pytest.raises(InvalidInputError, match="hourly_rate"):
            decisions.check_match_answer({**placed, "hourly_rate": rate})
