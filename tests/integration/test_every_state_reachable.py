"""Every state of the advisor lifecycle is reachable from the command line: on hold and
back, reopened after a decline or a not-retained decision, alumni on leaving; and each
refusal says why, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ppflow.adapters.orm import NotificationRow
from ppflow.cli import app as cli
from ppflow.domain.commands import Meta
from ppflow.services import advisors, integration, queries
from ppflow.services.privacy import erase_advisor
from tests import factories

runner = CliRunner()


@pytest.fixture
def ppflow(any_app):
    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), obj=any_app)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def stage(app, code: str) -> str:
    return queries.get_advisor(app.uow(), code).advisor.stage


def test_an_advisor_is_put_on_hold_and_resumes_where_they_were(any_app, ppflow):
    code = factories.referral(any_app, factories.staff(any_app))
    advisors.invite_advisor(any_app.uow(), code, Meta("t"), any_app.clock)
    assert "invited -> on_hold" in ppflow("advisor", "hold", code, "--reason", "in hospital")
    assert stage(any_app, code) == "on_hold"
    assert "on_hold -> invited" in ppflow("advisor", "resume", code)
    assert stage(any_app, code) == "invited"
    assert "is not on hold" in ppflow("advisor", "resume", code, code=1)
    ppflow("advisor", "hold", code, code=2)  # a hold needs its reason
    reasons = [t.reason for t in advisors.advisor_history(any_app.uow(), code)]
    assert "in hospital" in reasons


def test_a_declined_file_is_reopened_and_a_new_referral_is_told_how(any_app, ppflow):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer, email="repeat@example.org")
    advisors.invite_advisor(any_app.uow(), code, Meta("t"), any_app.clock)
    advisors.record_invitation_answer(any_app.uow(), code, False, Meta("t"), any_app.clock)
    again = ppflow(
        "advisor", "add", "--first-name", "Rita", "--last-name", "Again",
        "--email", "REPEAT@example.org", "--referred-by", referrer, code=1,
    )  # fmt: skip
    assert f"{code} (declined; reopen it: ppflow advisor reopen {code}" in again
    assert "declined -> identified" in ppflow(
        "advisor", "reopen", code, "--reason", "referred again"
    )
    assert stage(any_app, code) == "identified"
    assert advisors.advisor_history(any_app.uow(), code)[-1].reason == "referred again"
    refused = ppflow("advisor", "reopen", code, "--reason", "twice", code=1)
    assert "cannot move from 'identified' to 'identified'" in refused


def test_a_file_erased_by_retention_is_not_reopened(any_app, ppflow):
    code = factories.referral(any_app, factories.staff(any_app))
    advisors.invite_advisor(any_app.uow(), code, Meta("t"), any_app.clock)
    advisors.apply_screening_outcome(
        any_app.uow(), code, "not_retained", Meta("t", "not now"), clock=any_app.clock
    )
    erase_advisor(any_app.uow(), code, any_app.clock)
    refused = ppflow("advisor", "reopen", code, "--reason", "came back", code=1)
    assert "the person's data has been erased" in refused
    assert stage(any_app, code) == "not_retained"


def test_an_advisor_who_leaves_is_thanked_and_their_engagement_completed(any_app, ppflow):
    factories.modules(any_app, "PP-101")
    lead = factories.staff(any_app, role="front_line_manager")
    team = factories.team(any_app, lead)
    code = factories.ready_advisor(any_app, factories.staff(any_app))
    integration.brief_team(any_app.uow(), team, Meta("t"), any_app.clock)
    engagement = integration.confirm_match(
        any_app.uow(), team, code, Meta("t"), clock=any_app.clock
    )
    assert "active -> alumni" in ppflow("advisor", "leave", code, "--reason", "moving abroad")
    detail = queries.get_advisor(any_app.uow(), code)
    assert detail.advisor.stage == "alumni"
    assert detail.advisor.stage_changed_at == any_app.clock.now()  # retention counts from here
    with any_app.uow() as uow:
        assert uow.engagements.get(engagement.engagement).stage == "completed"
    with any_app.session_factory() as session:
        sent = set(
            session.scalars(
                select(NotificationRow.template).where(NotificationRow.recipient_code == code)
            )
        )
    assert {"program_thank_you", "engagement_thank_you"} <= sent
    refused = ppflow("advisor", "leave", code, "--reason", "again", code=1)
    assert "cannot move from 'alumni'" in refused


def test_only_a_ready_or_active_advisor_can_leave(any_app, ppflow):
    code = factories.referral(any_app, factories.staff(any_app))
    refused = ppflow("advisor", "leave", code, "--reason", "no", code=1)
    assert "cannot move from 'identified' to 'alumni'" in refused
