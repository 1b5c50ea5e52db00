"""Corrections on the in-memory unit of work: checked as the first entry was, logged with
who made them and why (the fields, never the values)."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import EditAdvisor, EditStaff, EditTeam, Meta
from ppflow.domain.errors import DuplicateError, InvalidInputError
from ppflow.services import advisors as a
from ppflow.services import corrections
from tests.unit.fakes import organization, referral

WHY = Meta("camille", "typo in the address")


@pytest.fixture
def o():
    return organization()


def test_a_contact_correction_is_logged_without_its_values(o):
    code = a.register_referral(o.uow, referral(o, email="old@example.org"), o.clock).code
    version = o.uow.advisors.get(code).version

    changed = corrections.edit_advisor(
        o.uow, EditAdvisor(code, email="new@example.org", meta=WHY), o.clock
    )

    assert changed == ("email",)
    assert o.uow.advisors.contact(code).email == "new@example.org"
    assert o.uow.advisors.get(code).version == version  # the pool's row is not touched
    [logged] = o.uow.corrections.of("advisor", code)
    assert (logged.fields, logged.actor, logged.reason) == (("email",), "camille", WHY.reason)


def test_an_address_another_advisor_has_is_refused(o):
    first = a.register_referral(o.uow, referral(o, email="one@example.org"), o.clock).code
    second = a.register_referral(o.uow, referral(o, email="two@example.org"), o.clock).code
    with pytest.raises(DuplicateError, match=first):
        corrections.edit_advisor(o.uow, EditAdvisor(second, email="ONE@example.org"), o.clock)
    assert o.uow.advisors.contact(second).email == "two@example.org"
    assert o.uow.corrections.of("advisor", second) == []


def test_a_bad_value_or_nothing_to_change_is_refused(o):
    code = a.register_referral(o.uow, referral(o), o.clock).code
    with pytest.raises(InvalidInputError, match="not a valid address"):
        corrections.edit_advisor(o.uow, EditAdvisor(code, email="nope"), o.clock)
    with pytest.raises(InvalidInputError, match="nothing to change"):
        corrections.edit_advisor(o.uow, EditAdvisor(code), o.clock)


def test_a_staff_role_and_a_team_lead_are_corrected(o):
    corrections.edit_staff(o.uow, EditStaff(o.referrer, role="mid_level_manager"), o.clock)
    assert o.uow.staff.get(o.referrer).role == "mid_level_manager"
    changed = corrections.edit_team(o.uow, EditTeam(o.team, lead=o.referrer), o.clock)
    assert changed == ("lead",) and o.uow.teams.get(o.team).lead == o.referrer
    with pytest.raises(InvalidInputError, match="at least one advisor seat"):
        corrections.edit_team(o.uow, EditTeam(o.team, advisor_seats=0), o.clock)
