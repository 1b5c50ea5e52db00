"""Formal evaluation criteria, each met and unmet; and the explained match score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ppflow.domain.evaluation import EvaluationInput, evaluate, overall
from ppflow.domain.matching import rank, score_match
from ppflow.domain.model import Advisor, QITeam

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def scores(**changes) -> dict[str, float | None]:
    base = dict(
        joined_at=T0,
        objectives_set_at=T0 + timedelta(days=7),
        advisors_on_team=2,
        min_advisors=2,
        required_modules=2,
        completed_modules=2,
        meetings_held=10,
        meetings_attended=9,
        feedback_scores=(5.0, 4.0),
    )
    return {c.name: c.score for c in evaluate(EvaluationInput(**{**base, **changes}))}


def test_every_criterion_met():
    met = scores()
    assert met == {
        "involved_from_start": 1.0,
        "at_least_two_advisors": 1.0,
        "attendance": 0.9,
        "training_completed": 1.0,
        "feedback": 0.88,
    }
    assert overall(evaluate(EvaluationInput(T0, None, 3, 2, 0, 0, 4, 4, (5.0,)))) == 1.0


def test_every_criterion_unmet_and_explained():
    unmet = evaluate(
        EvaluationInput(
            joined_at=T0 + timedelta(days=30),
            objectives_set_at=T0,
            advisors_on_team=1,
            min_advisors=2,
            required_modules=2,
            completed_modules=0,
            meetings_held=10,
            meetings_attended=0,
            feedback_scores=(1.0, 1.0),
        )
    )
    assert {c.name: c.score for c in unmet} == {
        "involved_from_start": 0.0,
        "at_least_two_advisors": 0.0,
        "attendance": 0.0,
        "training_completed": 0.0,
        "feedback": 0.0,
    }
    why = {c.name: c.explanation for c in unmet}
    assert why["involved_from_start"] == "objectives were set before the advisor joined"
    assert why["at_least_two_advisors"].startswith("1 advisor(s) on the team")
    assert why["training_completed"] == "0 of 2 required modules completed"
    assert overall(unmet) == 0.0


def test_what_was_not_measured_says_so_and_does_not_count():
    criteria = evaluate(EvaluationInput(T0, None, 2, 2, 1, 1, None, None, ()))
    missing = {c.name: c.explanation for c in criteria if c.score is None}
    assert missing == {"attendance": "no meetings recorded", "feedback": "no feedback received"}
    assert overall(criteria) == 1.0


def test_a_match_score_adds_up_its_explained_parts():
    team = QITeam("QT-AAAAAA", "Onco", languages=["fr"], focus_tags=["cancer", "caregiver"])
    close = Advisor(
        "PA-CLOSE1", languages=["fr", "en"], tags=["cancer", "caregiver"], availability_hours=8
    )
    far = Advisor("PA-FAR001", languages=["en"], tags=["cardiac"], availability_hours=2)
    match = score_match(close, 0, team)
    assert match.score == 30 + 40 + 20 + 10
    assert match.reasons[1] == "+40 shared lived experience: cancer, caregiver"
    busy = score_match(close, 2, team)
    assert busy.score == 90 and busy.reasons[-1] == "+0 is already in 2 teams"
    poor = score_match(far, 1, team)
    assert poor.score == 0 + 0 + 5 + 5
    assert poor.reasons[0] == "+0 speaks none of the team's languages (fr)"
    assert [m.advisor for m in rank([(far, 1), (close, 0)], team)] == ["PA-CLOSE1", "PA-FAR001"]


def test_a_teams_current_warnings_name_too_few_advisors_and_objectives_set_before_they_joined():
    from datetime import UTC, datetime

    from ppflow.domain.lifecycle import TeamStage
    from ppflow.domain.model import QITeam

    day = datetime(2026, 5, 1, tzinfo=UTC)
    team = QITeam("QT-1", "Parcours", stage=TeamStage.ACTIVE, objectives_set_at=day)

    assert team.current_warnings([day.replace(day=2)]) == [
        "team QT-1 has 1 advisor(s); its rule asks for at least 2, so one advisor may be left "
        "alone",
        "team QT-1 set its objectives before 1 of its 1 advisor(s) joined",
    ]
    assert team.current_warnings([day.replace(month=4), day.replace(month=3)]) == []
    team.stage = TeamStage.FORMING
    assert team.current_warnings([]) == []


def test_the_reasons_for_prefect_leave_the_lived_experience_unnamed():
    from ppflow.domain.matching import score_match
    from ppflow.domain.model import Advisor, QITeam

    advisor = Advisor("PA-1", languages=["fr"], tags=["cancer", "caregiver"])
    team = QITeam("QT-1", "Parcours", languages=["fr"], focus_tags=["cancer", "caregiver"])

    match = score_match(advisor, 0, team)

    assert "+40 shared lived experience: cancer, caregiver" in match.reasons
    shareable = " ".join(match.reasons_without_health_details)
    assert "cancer" not in shareable and "caregiver" not in shareable
    assert "+40 shared lived experience in 2 of the team's focus areas" in shareable
