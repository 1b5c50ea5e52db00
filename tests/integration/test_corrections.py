"""Corrections: an advisor's contact or profile, a staff member, a team, each checked as
the first entry was and logged with who made it and why, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow.adapters.orm import AdvisorRow, ContactRow, CorrectionRow, TransitionRow
from ppflow.cli import app as cli
from ppflow.domain.commands import Meta
from ppflow.domain.errors import InvalidInputError
from ppflow.services import integration
from tests import factories

runner = CliRunner()


@pytest.fixture
def ppflow(any_app):
    any_app.settings.actor = "camille"  # PPFLOW_ACTOR, the coordinator at the keyboard

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), obj=any_app)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def rows(app, *columns, **where):
    with app.session_factory() as session:
        return session.execute(select(*columns).filter_by(**where)).all()


def test_a_contact_correction_touches_only_the_contacts_table_and_is_logged(any_app, ppflow):
    code = factories.referral(any_app, factories.staff(any_app), email="old@example.org")
    [(version,)] = rows(any_app, AdvisorRow.version, code=code)
    with any_app.session_factory() as session:
        logged = session.scalar(select(func.count()).select_from(TransitionRow))

    out = ppflow("advisor", "edit", code, "--email", "New@Example.org", "--reason", "typo")

    assert "corrected" in out and "email" in out
    with any_app.session_factory() as session:
        contact = session.scalar(select(ContactRow))
        assert (contact.email, contact.email_key) == ("New@Example.org", "new@example.org")
        assert session.scalar(select(func.count()).select_from(TransitionRow)) == logged
        [correction] = session.scalars(select(CorrectionRow)).all()
    assert rows(any_app, AdvisorRow.version, code=code) == [(version,)]  # the pool is untouched
    assert (correction.entity, correction.code, correction.fields) == ("advisor", code, ["email"])
    assert (correction.actor, correction.reason) == ("camille", "typo")
    assert "example.org" not in repr(correction.fields)  # fields, never their values


def test_a_correction_is_checked_as_the_first_entry_was(any_app, ppflow):
    referrer = factories.staff(any_app)
    first = factories.referral(any_app, referrer, email="taken@example.org")
    second = factories.referral(any_app, referrer, email="free@example.org")
    clash = ppflow("advisor", "edit", second, "--email", "TAKEN@example.org", code=1)
    assert f"already in the pool as {first}" in clash
    assert "not a valid address" in ppflow("advisor", "edit", second, "--email", "nope", code=1)
    assert "nothing to change" in ppflow("advisor", "edit", second, code=1)
    assert rows(any_app, ContactRow.email, email="free@example.org")  # nothing was written


def test_a_profile_correction_changes_the_pool(any_app, ppflow):
    code = factories.referral(any_app, factories.staff(any_app))
    ppflow("advisor", "edit", code, "--skill", "Writing", "--availability", "12")
    [(skills, hours)] = rows(any_app, AdvisorRow.skills, AdvisorRow.availability_hours, code=code)
    assert (skills, hours) == (["writing"], 12)


def test_a_staff_member_is_corrected_and_an_address_taken_is_refused(any_app, ppflow):
    sam = factories.staff(any_app)
    other = factories.staff(any_app)
    ppflow("staff", "edit", sam, "--name", "Sam Lee-Roy", "--role", "mid_level_manager")
    with any_app.uow() as uow:
        member = uow.staff.get(sam)
        taken = uow.staff.get(other).email
    assert (member.name, member.role) == ("Sam Lee-Roy", "mid_level_manager")
    assert f"{other} already has the e-mail" in ppflow(
        "staff", "edit", sam, "--email", taken, code=1
    )
    ppflow("staff", "edit", sam, "--role", "chef", code=2)  # not a role: the choices are listed


def test_a_team_made_without_a_lead_gets_one_and_can_then_be_briefed(any_app, ppflow):
    team = factories.team(any_app, None)
    with pytest.raises(InvalidInputError, match="has no lead"):
        integration.brief_team(any_app.uow(), team, Meta("t"), any_app.clock)
    lead = factories.staff(any_app, role="front_line_manager")
    assert "lead" in ppflow("team", "edit", team, "--lead", lead, "--reason", "forgotten")
    change = integration.brief_team(any_app.uow(), team, Meta("t"), any_app.clock)
    assert change.to_state == "active"
    provider = factories.staff(any_app, role="provider")
    assert "is a provider" in ppflow("team", "edit", team, "--lead", provider, code=1)
    assert "at least one advisor seat" in ppflow("team", "edit", team, "--seats", "0", code=1)
    [correction] = rows(any_app, CorrectionRow.fields, CorrectionRow.reason, code=team)
    assert correction == (["lead"], "forgotten")
