"""Answers collected on paper, before any questionnaire was sent: `feedback record` and
`feedback import` open the round due, and a partial form goes in only when declared;
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ppflow.adapters.orm import NotificationRow, SurveyRequestRow
from ppflow.cli import app as ppflow_cli
from ppflow.domain.commands import Meta
from ppflow.services import integration
from tests import factories

runner = CliRunner()


def invoke(app, *args):
    return runner.invoke(ppflow_cli, list(args), obj=app)


def advisor_items(app) -> list[str]:
    questionnaire = app.questionnaires().get("partnership-experience-advisor")
    return [i.id for i in questionnaire.scale_items]


@pytest.fixture
def engaged(any_app):
    """An active engagement started today, with no questionnaire opened yet."""
    app = any_app
    factories.modules(app, "PP-101")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    advisor = factories.ready_advisor(app, factories.staff(app))
    engagement = integration.confirm_match(
        app.uow(), team, advisor, Meta("t"), clock=app.clock
    ).engagement
    return app, engagement, advisor, lead


def surveys(app):
    with app.engine.connect() as connection:
        return connection.execute(
            select(
                SurveyRequestRow.respondent_code,
                SurveyRequestRow.round,
                SurveyRequestRow.answered_at.is_not(None),
            ).order_by(SurveyRequestRow.respondent_kind)
        ).all()


def survey_mail(app):
    with app.engine.connect() as connection:
        return list(
            connection.scalars(
                select(NotificationRow.recipient_code).where(
                    NotificationRow.template == "survey_request"
                )
            )
        )


def full_answers(app, value: int = 4) -> list[str]:
    return [arg for item in advisor_items(app) for arg in ("-a", f"{item}={value}")]


def test_a_paper_form_opens_the_round_due_and_is_recorded(engaged):
    app, engagement, advisor, lead = engaged
    app.clock.moment += timedelta(days=100)

    result = invoke(app, "feedback", "record", engagement, advisor, *full_answers(app))

    assert result.exit_code == 0, result.output
    assert f"opened round 1 of {engagement}, which was due" in result.output
    assert "partial" not in result.output
    assert surveys(app) == [(advisor, 1, True), (lead, 1, False)]
    assert survey_mail(app) == [lead]  # the advisor answered on paper: no e-mail to them


def test_no_round_is_opened_before_one_is_due(engaged):
    app, engagement, advisor, _ = engaged
    result = invoke(app, "feedback", "record", engagement, advisor, *full_answers(app))
    assert result.exit_code == 1
    assert "no questionnaire is due yet" in result.output
    assert "three months after its start, on 2026-06-02" in result.output
    assert surveys(app) == []


def test_an_unknown_engagement_is_named(engaged):
    app, _, advisor, _ = engaged
    result = invoke(app, "feedback", "record", "EN-NONE", advisor, "-a", "com_role=4")
    assert result.exit_code == 1
    assert "no engagement 'EN-NONE'" in result.output
    assert "Traceback" not in result.output


def test_a_partial_form_is_refused_unless_declared_and_says_how_much_is_missing(engaged):
    app, engagement, advisor, _ = engaged
    app.clock.moment += timedelta(days=100)
    total = len(advisor_items(app))
    two = ("-a", "com_role=4", "-a", "respect_equal=2")

    refused = invoke(app, "feedback", "record", engagement, advisor, *two)
    assert refused.exit_code == 1
    assert f"{total - 2} of {total} agreement items are not answered" in refused.output
    assert "--partial" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert surveys(app) == []  # nothing opened either

    accepted = invoke(app, "feedback", "record", engagement, advisor, *two, "--partial")
    assert accepted.exit_code == 0, accepted.output
    assert f"partial: {total - 2} of {total} agreement items missing" in accepted.output


def test_an_import_opens_the_round_due_and_counts_its_partial_rows(engaged, tmp_path):
    app, engagement, advisor, lead = engaged
    app.clock.moment += timedelta(days=100)
    items = advisor_items(app)
    path = tmp_path / "answers.csv"
    path.write_text(
        "engagement,respondent," + ",".join(items) + "\n"
        f"{engagement},{advisor}," + ",".join("4" for _ in items) + "\n"
        f"{engagement},{lead},,,,\n",
        encoding="utf-8",
    )
    # the lead's row answers nothing: it is refused, and so is the whole file
    refused = invoke(app, "feedback", "import", str(path))
    assert refused.exit_code == 1
    assert "answers.csv:3:" in refused.output
    assert surveys(app) == []

    path.write_text(
        "engagement,respondent," + ",".join(items) + "\n"
        f"{engagement},{advisor},4," + ",".join("" for _ in items[1:]) + "\n",
        encoding="utf-8",
    )
    refused = invoke(app, "feedback", "import", str(path))
    assert refused.exit_code == 1
    assert f"{len(items) - 1} of {len(items)} agreement items are not answered" in refused.output
    result = invoke(app, "feedback", "import", str(path), "--partial")
    assert result.exit_code == 0, result.output
    assert "imported 1 response(s)" in result.output
    assert f"1 partial ({len(items) - 1} agreement items missing in all)" in result.output
    assert f"opened {engagement} round 1" in result.output
    assert surveys(app) == [(advisor, 1, True), (lead, 1, False)]
    assert survey_mail(app) == [lead]
