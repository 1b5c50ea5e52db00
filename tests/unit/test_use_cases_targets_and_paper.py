"""Revising a program's targets (a new version each time, judged only from when it was
set), and answers collected on paper (the due round opened, partial answers declared)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.errors import ConcurrentUpdateError, InvalidInputError, NotFoundError
from ppflow.domain.model import ProgramTarget
from ppflow.domain.surveys import FINAL_ROUND
from ppflow.services import advisors, indicators, integration, portal, queries
from ppflow.services import organization as org
from ppflow.services.indicators import targets_in_force
from ppflow.services.ports import TargetVersion
from tests.unit.fakes import START, FakeQuestionnaires, advisor_at, organization
from tests.unit.test_use_cases_indicators_and_imports import FakeIndicatorQueries

# --------------------------------------------------------------------------- targets


def test_a_revised_target_is_a_new_version_set_at_the_clocks_time():
    o = organization()
    first = org.revise_target(o.uow, o.program, "teams_with_advisors", 4, "2026", clock=o.clock)
    o.clock.moment = START + timedelta(days=90)
    second = org.revise_target(o.uow, o.program, "teams_with_advisors", 6, None, clock=o.clock)

    program = queries.get_program(o.uow, o.program)
    assert [(t.target, t.period, t.version, t.set_at) for t in program.targets] == [
        (4.0, "2026", 1, START),
        (6.0, "2026", 2, START + timedelta(days=90)),  # the year defaults to the clock's
    ]
    assert (first.version, second.version) == (1, 2)


def test_versions_are_counted_per_indicator():
    o = organization()
    org.revise_target(o.uow, o.program, "teams_with_advisors", 4, "2026", clock=o.clock)
    other = org.revise_target(o.uow, o.program, "withdrawals", 2, "2026", clock=o.clock)
    assert other.version == 1


@pytest.mark.parametrize(
    "indicator, value, year, message",
    [
        ("teams_with_advisers", 4, "2026", "'teams_with_advisers' is not an indicator"),
        ("teams", -1, "2026", "a number of 0 or more"),
        ("teams", float("nan"), "2026", "a number of 0 or more"),
        ("share_teams_with_advisors", 50, "2026", "is a share: write its target from 0 to 1"),
        ("retention_6m", 1.5, "2026", "is a share"),
        ("feedback_mean", 7, "2026", "a score from 1 to 5"),
        ("teams", 4, "2026Q3", "'2026Q3' is not a year"),
        ("teams", 4, "26", "'26' is not a year"),
    ],
)
def test_a_target_is_refused_with_the_reason(indicator, value, year, message):
    o = organization()
    with pytest.raises(InvalidInputError, match=message):
        org.revise_target(o.uow, o.program, indicator, value, year, clock=o.clock)
    assert queries.get_program(o.uow, o.program).targets == []


def test_the_valid_indicators_are_named_and_questionnaire_themes_have_targets():
    o = organization()
    with pytest.raises(InvalidInputError, match="valid ones: .*advisors_integrated"):
        org.revise_target(o.uow, o.program, "feedback_respect", 4, "2026", clock=o.clock)
    saved = org.revise_target(
        o.uow, o.program, "feedback_respect", 4, "2026", clock=o.clock, themes=("respect",)
    )
    assert saved.version == 1


def test_an_unknown_program_is_not_found():
    o = organization()
    with pytest.raises(NotFoundError, match="no program 'PP-NONE'"):
        org.revise_target(o.uow, "PP-NONE", "teams", 4, "2026", clock=o.clock)


def test_two_revisions_read_at_once_cannot_both_take_the_next_version():
    o = organization()
    org.revise_target(o.uow, o.program, "teams", 4, "2026", clock=o.clock)
    with o.uow:
        o.uow.programs.add_target(o.program, ProgramTarget("teams", 5, "2026", 2, START))
        with pytest.raises(ConcurrentUpdateError):
            o.uow.programs.add_target(o.program, ProgramTarget("teams", 6, "2026", 2, START))


Q2 = (START.replace(month=4, day=1), START.replace(month=7, day=1))


def versions(*rows):
    return [TargetVersion("teams", value, "2026", v, at, prev) for value, v, at, prev in rows]


def test_each_period_is_judged_by_the_version_in_force_during_it():
    history = versions(
        (4.0, 1, START, None),  # March
        (6.0, 2, Q2[1] + timedelta(days=10), 4.0),  # July: after the second quarter
    )
    in_force, later = targets_in_force(history, Q2[1])
    assert (in_force["teams"].target, in_force["teams"].version, later) == (4.0, 1, [])
    in_force, _ = targets_in_force(history, Q2[1] + timedelta(days=90))
    assert (in_force["teams"].target, in_force["teams"].previous) == (6.0, 4.0)


def test_a_period_that_ended_before_the_first_target_gets_no_verdict():
    in_force, later = targets_in_force(versions((4.0, 1, Q2[1], None)), Q2[1])
    assert (in_force, later) == ({}, ["teams"])


class Queries(FakeIndicatorQueries):
    """The figures of a quarter, with the given history of targets."""

    def __init__(self, history):
        super().__init__()
        self.history = history

    def target_versions(self):
        return self.history


def test_the_report_says_which_indicators_were_not_judged():
    late = [TargetVersion("teams", 1.0, "2026", 1, Q2[1] + timedelta(days=1))]
    result = indicators.compute_indicators(Queries(late), *Q2, label="2026Q2")
    row = {c.indicator: c for c in result.comparisons()}["teams"]
    assert (row.value, row.target, row.met) == (4, None, None)
    assert any("Not judged against a target: teams" in note for note in result.notes)
    set_before = [TargetVersion("teams", 5.0, "2026", 1, START)]
    result = indicators.compute_indicators(Queries(set_before), *Q2, label="2026Q2")
    assert {c.indicator: c for c in result.comparisons()}["teams"].met is False


# --------------------------------------------------------------------- feedback on paper

LIBRARY = FakeQuestionnaires()
FULL = {"res_heard": 4, "res_valued": 5, "inf_change": 3}  # every agreement item


@pytest.fixture
def active():
    """An active engagement that started on START; no questionnaire opened yet."""
    o = organization()
    advisor = advisor_at(o, "active")
    return o, o.uow.engagements.for_advisor(advisor)[0].code, advisor


def requests(o):
    return sorted((s.request.respondent, s.request.round) for s in o.uow.tables.surveys)


def test_a_paper_answer_opens_the_round_due_and_only_the_others_are_e_mailed(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)  # three months in: round 1 is due

    recorded = portal.record_response(o.uow, LIBRARY, engagement, advisor, FULL, o.clock)

    assert (recorded.opened_round, recorded.missing, recorded.items) == (1, 0, 3)
    assert requests(o) == [(advisor, 1), (o.lead, 1)]
    [answered] = [s for s in o.uow.tables.surveys if s.request.answered_at]
    assert (answered.request.respondent, answered.answers) == (advisor, FULL)
    assert [n.recipient_code for n in o.uow.queued("survey_request")] == [o.lead]
    again = portal.record_response(o.uow, LIBRARY, engagement, o.lead, FULL, o.clock)
    assert again.opened_round is None  # the round was open for the lead already


def test_no_round_is_opened_before_one_is_due(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=40)
    with pytest.raises(InvalidInputError, match="no questionnaire is due yet .* on 2026-06-02"):
        portal.record_response(o.uow, LIBRARY, engagement, advisor, FULL, o.clock)
    assert requests(o) == [] and o.uow.queued("survey_request") == []


def test_a_completed_engagement_gets_its_final_round(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=20)
    integration.end_engagement(o.uow, engagement, Meta("t"), clock=o.clock)
    recorded = portal.record_response(o.uow, LIBRARY, engagement, advisor, FULL, o.clock)
    assert recorded.opened_round == FINAL_ROUND


def test_an_unknown_engagement_or_respondent_is_named_and_nothing_is_opened(active):
    o, engagement, _ = active
    o.clock.moment = START + timedelta(days=100)
    with pytest.raises(NotFoundError, match="no engagement 'EN-NONE'"):
        portal.record_response(o.uow, LIBRARY, "EN-NONE", o.lead, FULL, o.clock)
    with pytest.raises(NotFoundError, match="no questionnaire for PA-NOBODY on engagement"):
        portal.record_response(o.uow, LIBRARY, engagement, "PA-NOBODY", FULL, o.clock)
    assert requests(o) == []


def test_an_engagement_that_ended_early_is_asked_nothing(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)
    advisors.withdraw_advisor(o.uow, advisor, Meta("t", reason="moving"), o.clock)
    assert o.uow.engagements.get(engagement).stage == "ended_early"
    with pytest.raises(InvalidInputError, match="feedback is asked of active or completed"):
        portal.record_response(o.uow, LIBRARY, engagement, advisor, FULL, o.clock)


def test_a_partial_answer_is_refused_unless_declared_and_says_what_is_missing(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)
    with pytest.raises(InvalidInputError, match=r"2 of 3 agreement items are not answered"):
        portal.record_response(o.uow, LIBRARY, engagement, advisor, {"res_heard": 4}, o.clock)
    assert requests(o) == []  # refused: the round is not left open either

    recorded = portal.record_response(
        o.uow, LIBRARY, engagement, advisor, {"res_heard": 4, "comments": ""}, o.clock,
        partial=True,
    )  # fmt: skip
    assert (recorded.missing, recorded.items) == (2, 3)


def test_an_open_question_may_be_left_blank_without_partial(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)
    recorded = portal.record_response(o.uow, LIBRARY, engagement, advisor, FULL, o.clock)
    assert recorded.missing == 0


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_an_import_opens_the_due_round_and_a_skipped_row_is_still_asked_by_e_mail(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)
    data = csv(
        "engagement,respondent,res_heard,res_valued,inf_change",
        f"{engagement},{advisor},4,5,3",
        f"{engagement},{o.lead},4,,",  # partial, not declared: skipped
    )
    rows = portal.read_responses_csv(data)

    report = portal.import_responses(o.uow, LIBRARY, rows, o.clock)
    assert [line for line, _ in report.errors] == [3] and requests(o) == []
    assert "2 of 3 agreement items are not answered" in report.errors[0][1]

    report = portal.import_responses(o.uow, LIBRARY, rows, o.clock, skip_invalid=True)
    assert [(r.respondent, r.opened_round) for r in report.imported] == [(advisor, 1)]
    assert report.skipped == 1
    # the lead's row was left out, so the lead is asked by e-mail as usual
    assert [n.recipient_code for n in o.uow.queued("survey_request")] == [o.lead]


def test_an_import_of_every_respondent_e_mails_no_one_and_partial_rows_are_counted(active):
    o, engagement, advisor = active
    o.clock.moment = START + timedelta(days=100)
    data = csv(
        "engagement,respondent,res_heard,res_valued,inf_change",
        f"{engagement},{advisor},4,5,3",
        f"{engagement},{o.lead},4,,",
    )
    report = portal.import_responses(
        o.uow, LIBRARY, portal.read_responses_csv(data), o.clock, partial=True
    )
    assert [(r.respondent, r.missing) for r in report.imported] == [(advisor, 0), (o.lead, 2)]
    assert o.uow.queued("survey_request") == []
