"""The survey portal and the coordinator's response entry, on the in-memory unit of work
(questionnaires from a fake library; the shipped files are tested in test_questionnaires)."""

from __future__ import annotations

import copy

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    DuplicateError,
    InvalidInputError,
    NotFoundError,
)
from ppflow.services import feedback, portal
from ppflow.services.advisors import record_invitation_answer
from ppflow.services.links import LinkError
from ppflow.services.questionnaires import NOT_APPLICABLE, parse
from tests.unit.fakes import (
    START,
    FakeQuestionnaires,
    advisor_at,
    organization,
    questionnaire,
)

LIBRARY = FakeQuestionnaires()


@pytest.fixture
def o():
    return organization()


@pytest.fixture
def asked(o):
    """An active engagement whose advisor and lead were asked for feedback."""
    advisor = advisor_at(o, "active", language="en")
    engagement = o.uow.engagements.for_advisor(advisor)[0].code
    feedback.open_feedback(o.uow, engagement, Meta(), clock=o.clock)
    tokens = {s.request.respondent: s.request.token for s in o.uow.tables.surveys}
    return engagement, advisor, tokens


def test_a_survey_link_opens_the_questionnaire_in_the_language_the_request_went_out_in(o, asked):
    engagement, advisor, tokens = asked

    form = portal.open_survey(o.uow, LIBRARY, tokens[advisor])

    assert form.language == "en"
    assert (form.survey.engagement, form.survey.respondent) == (engagement, advisor)
    assert form.questionnaire.name == "partnership-experience-advisor"
    assert portal.open_survey(o.uow, LIBRARY, tokens[o.lead]).language == "fr"


def test_an_unknown_token_is_a_forged_link(o, asked):
    with pytest.raises(LinkError, match="forged"):
        portal.open_survey(o.uow, LIBRARY, "made-up-token")
    with pytest.raises(LinkError, match="forged"):
        portal.submit_response(o.uow, LIBRARY, "made-up-token", {"res_heard": "4"}, o.clock)


def test_a_submitted_response_is_recorded_once_with_its_version_and_theme_scores(o, asked):
    engagement, advisor, tokens = asked
    o.later(days=2)

    recorded = portal.submit_response(
        o.uow,
        LIBRARY,
        tokens[advisor],
        {"res_heard": "4", "res_valued": 5, "inf_change": "2"},
        o.clock,
    )

    assert (recorded.version, recorded.scores.overall) == (1, 3.67)
    assert recorded.scores.by_theme == {"respect": 4.5, "influence": 2.0}
    [row] = [s for s in o.uow.tables.surveys if s.request.token == tokens[advisor]]
    assert row.questionnaire_version == 1 and row.request.answered_at == o.clock.now()
    assert row.answers == {"res_heard": 4, "res_valued": 5, "inf_change": 2}
    with pytest.raises(LinkError, match="used"):
        portal.submit_response(o.uow, LIBRARY, tokens[advisor], {"res_heard": "1"}, o.clock)
    with pytest.raises(LinkError, match="used"):
        portal.open_survey(o.uow, LIBRARY, tokens[advisor])
    assert feedback.feedback_status(o.uow, engagement).answered == 1


def test_a_response_with_faults_is_refused_naming_each_and_nothing_is_recorded(o, asked):
    _, advisor, tokens = asked
    with pytest.raises(InvalidInputError) as error:
        portal.submit_response(
            o.uow, LIBRARY, tokens[advisor], {"res_heard": "9", "nope": "1"}, o.clock
        )
    assert "res_heard: agreement answers go from 1 to 5" in str(error.value)
    assert "has no item 'nope'" in str(error.value)
    assert all(s.request.answered_at is None for s in o.uow.tables.surveys)


def test_the_survey_names_the_team_the_respondent_is_asked_about(o, asked):
    engagement, advisor, tokens = asked
    team = o.uow.teams.get(o.uow.engagements.get(engagement).team)
    form = portal.open_survey(o.uow, LIBRARY, tokens[advisor])
    assert form.team == team.name and team.name != team.code


def test_a_partial_response_is_refused_naming_the_statements_left_until_sent_as_it_is(o, asked):
    _, advisor, tokens = asked
    with pytest.raises(portal.UnansweredError) as left:
        portal.submit_response(o.uow, LIBRARY, tokens[advisor], {"res_heard": "4"}, o.clock)
    assert [i.id for i in left.value.items] == ["res_valued", "inf_change"]
    assert (left.value.total, left.value.nothing) == (3, False)
    assert all(s.request.answered_at is None for s in o.uow.tables.surveys)
    recorded = portal.submit_response(
        o.uow, LIBRARY, tokens[advisor], {"res_heard": "4"}, o.clock, partial=True
    )
    assert (recorded.missing, recorded.scores.overall) == (2, 4.0)


def test_an_empty_response_is_refused_even_when_sent_as_it_is(o, asked):
    _, advisor, tokens = asked
    with pytest.raises(portal.UnansweredError) as left:
        portal.submit_response(
            o.uow,
            LIBRARY,
            tokens[advisor],
            {"res_heard": " ", "comments": ""},
            o.clock,
            partial=True,
        )
    assert left.value.nothing and len(left.value.items) == 3
    assert all(s.request.answered_at is None for s in o.uow.tables.surveys)


def test_not_applicable_answers_a_statement_without_scoring_it(o, asked):
    _, advisor, tokens = asked
    offering = parse(
        {
            "name": "partnership-experience-advisor",
            "version": 1,
            "title": {"fr": "t", "en": "t"},
            "scale": {lang: ["1", "2", "3", "4", "5"] for lang in ("fr", "en")},
            "not_applicable": True,
            "themes": [{"id": "respect", "title": {"fr": "r", "en": "r"}}],
            "items": [
                {
                    "id": "res_heard",
                    "theme": "respect",
                    "type": "scale",
                    "text": {"fr": "a", "en": "a"},
                },
                {
                    "id": "res_valued",
                    "theme": "respect",
                    "type": "scale",
                    "text": {"fr": "b", "en": "b"},
                },
            ],
        }
    )
    library = FakeQuestionnaires(offering)
    recorded = portal.submit_response(
        o.uow, library, tokens[advisor], {"res_heard": "na", "res_valued": "2"}, o.clock
    )
    assert (recorded.missing, recorded.scores.overall) == (0, 2.0)
    [row] = [s for s in o.uow.tables.surveys if s.request.token == tokens[advisor]]
    assert row.answers == {"res_heard": NOT_APPLICABLE, "res_valued": 2}
    with pytest.raises(InvalidInputError, match="does not offer 'not applicable'"):
        portal.submit_response(o.uow, LIBRARY, tokens[o.lead], {"res_heard": "na"}, o.clock)


def test_a_coordinator_enters_a_paper_response_and_a_second_one_is_refused(o, asked):
    engagement, _, _ = asked

    recorded = portal.record_response(
        o.uow, LIBRARY, engagement, o.lead, {"inf_change": 3}, o.clock, partial=True
    )

    assert (recorded.questionnaire, recorded.scores.overall) == ("partnership-experience-team", 3)
    with pytest.raises(DuplicateError, match="the first response stands"):
        portal.record_response(
            o.uow, LIBRARY, engagement, o.lead, {"inf_change": 1}, o.clock, partial=True
        )
    with pytest.raises(NotFoundError, match="questionnaire round 2 for"):
        portal.record_response(
            o.uow, LIBRARY, engagement, o.lead, {"inf_change": 1}, o.clock, round=2
        )


def test_a_response_keeps_the_version_of_the_questionnaire_it_answered(o, asked):
    engagement, advisor, _ = asked
    library = FakeQuestionnaires(
        questionnaire("partnership-experience-advisor", 1),
        questionnaire("partnership-experience-advisor", 2),
    )
    assert (
        portal.record_response(
            o.uow, library, engagement, advisor, {"res_heard": 5}, o.clock, partial=True
        ).version
        == 2
    )


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_a_response_file_is_imported_in_full_or_not_at_all(o, asked):
    engagement, advisor, _ = asked
    data = csv(
        "engagement,respondent,round,res_heard,comments",
        f"{engagement},{advisor},1,4,merci",
        f"{engagement},{o.lead},,7,",
        f"{engagement},ST-NOBODY,,3,",
    )

    report = portal.import_responses(
        o.uow, LIBRARY, portal.read_responses_csv(data), o.clock, partial=True
    )

    assert report.imported == []
    assert [line for line, _ in report.errors] == [3, 4]
    assert "agreement answers go from 1 to 5" in report.errors[0][1]
    assert all(s.request.answered_at is None for s in o.uow.tables.surveys)

    report = portal.import_responses(
        o.uow, LIBRARY, portal.read_responses_csv(data), o.clock, skip_invalid=True, partial=True
    )
    assert [r.respondent for r in report.imported] == [advisor] and report.skipped == 2
    [answered] = [s for s in o.uow.tables.surveys if s.request.answered_at]
    assert answered.answers == {"res_heard": 4, "comments": "merci"}


def test_a_response_file_naming_a_respondent_twice_or_an_unknown_item_is_refused(o, asked):
    engagement, advisor, _ = asked
    data = csv(
        "engagement,respondent,res_heard,colour",
        f"{engagement},{advisor},4,",
        f"{engagement},{advisor},5,",
        f"{engagement},{o.lead},5,blue",
    )
    report = portal.import_responses(
        o.uow, LIBRARY, portal.read_responses_csv(data), o.clock, partial=True
    )
    assert report.errors == [
        (3, f"{advisor} on {engagement} appears twice in the file"),
        (4, "colour not in partnership-experience-team v1"),
    ]


# ----------------------------------------------------------------------- withdrawal


def test_a_withdrawal_link_opens_in_the_advisors_language_and_withdraws_them_once(o):
    code = advisor_at(o, "ready", language="en")

    assert portal.open_withdrawal(o.uow, code).language == "en"
    page = portal.withdraw_through_link(o.uow, code, o.clock)

    assert page.advisor == code
    assert o.uow.advisors.get(code).stage == "withdrawn"
    logged = o.uow.log("advisor")[-1]
    assert (logged.actor, logged.reason, logged.at) == (
        "portal",
        "withdrew through the link",
        START,
    )
    with pytest.raises(LinkError, match="used"):
        portal.withdraw_through_link(o.uow, code, o.clock)


def test_a_withdrawal_link_of_an_unknown_or_departed_advisor_opens_nothing(o):
    declined = advisor_at(o, "invited")
    record_invitation_answer(o.uow, declined, False, Meta(), o.clock)
    with pytest.raises(LinkError, match="forged"):
        portal.open_withdrawal(o.uow, "PA-NOBODY")
    with pytest.raises(LinkError, match="closed"):
        portal.withdraw_through_link(o.uow, declined, o.clock)
    assert o.uow.advisors.get(declined).stage == "declined"


class ReadBeforeTheOtherTab:
    """A unit of work whose advisor reads give what was there before another tab's
    withdrawal, until its own save is refused: the loser of a race."""

    def __init__(self, uow, stale):
        self._uow, self._stale, self._refused = uow, stale, False
        outer = self

        class Advisors:
            def __getattr__(self, name):
                return getattr(uow.advisors, name)

            def get(self, code):
                return copy.deepcopy(outer._stale) if not outer._refused else uow.advisors.get(code)

            def save(self, advisor):
                try:
                    uow.advisors.save(advisor)
                except ConcurrentUpdateError:
                    outer._refused = True
                    raise

        self.advisors = Advisors()

    def __getattr__(self, name):
        return getattr(self._uow, name)

    def __enter__(self):
        self._uow.__enter__()
        return self

    def __exit__(self, *exc):
        return self._uow.__exit__(*exc)


def test_a_second_withdrawal_racing_the_first_finds_the_link_used(o):
    """Two tabs confirm at once: the loser's save is refused as a concurrent update, and it
    is told the link is used; the withdrawal is recorded once."""
    code = advisor_at(o, "invited")
    with o.uow:
        before = o.uow.advisors.get(code)
    portal.withdraw_through_link(o.uow, code, o.clock)  # the other tab

    with pytest.raises(LinkError, match="used"):
        portal.withdraw_through_link(ReadBeforeTheOtherTab(o.uow, before), code, o.clock)

    withdrawals = [t for t in o.uow.log("advisor") if t.to_state == "withdrawn"]
    assert [(t.code, t.actor) for t in withdrawals] == [(code, "portal")]
