"""Staff, programs, QI teams and training modules, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import AddProgram, AddStaff, AddTeam, Meta, TargetSpec
from ppflow.domain.errors import DuplicateError, InvalidInputError, NotFoundError
from ppflow.domain.model import TrainingModule
from ppflow.services import organization as org
from ppflow.services import queries
from ppflow.services.ports import FixedClock
from tests.unit.fakes import START, FakeUnitOfWork, organization


def test_a_staff_member_gets_a_code_and_is_listed_by_role():
    uow = FakeUnitOfWork()
    member = org.add_staff(uow, AddStaff(" Nadia Haddad ", "nadia@example.org", "coordinator"))

    assert member.code.startswith("ST-") and member.name == "Nadia Haddad"
    assert uow.committed
    assert [m.code for m in queries.list_staff(uow, "coordinator")] == [member.code]
    assert queries.list_staff(uow, "provider") == []


def test_a_staff_member_is_refused_with_every_problem_named():
    with pytest.raises(InvalidInputError) as error:
        org.add_staff(FakeUnitOfWork(), AddStaff("", "nadia@", "boss"))
    message = str(error.value)
    assert "name is required" in message
    assert "e-mail 'nadia@' is not a valid address" in message
    assert "role 'boss' is not one of coordinator" in message


def test_two_staff_members_cannot_share_an_e_mail_address_whatever_its_case():
    uow = FakeUnitOfWork()
    org.add_staff(uow, AddStaff("Nadia", "nadia@example.org", "coordinator"))
    with pytest.raises(DuplicateError, match="already has the e-mail NADIA@example.org"):
        org.add_staff(uow, AddStaff("Other", "NADIA@example.org", "provider"))
    assert len(queries.list_staff(uow)) == 1


def test_a_program_keeps_its_managers_and_its_targets():
    o = organization()
    targets = (TargetSpec("teams_with_two_advisors", 0.5, "2026"),)
    org.add_program(o.uow, AddProgram("PP-2", "Second", "Qualité", (o.lead,), targets), o.clock)

    program = queries.get_program(o.uow, "PP-2")

    assert program.responsible_managers == [o.lead]
    assert [(t.indicator, t.target, t.version) for t in program.targets] == [
        ("teams_with_two_advisors", 0.5, 1)
    ]


def test_a_provider_cannot_be_a_programs_manager_nor_a_team_lead():
    o = organization()
    with pytest.raises(InvalidInputError, match="is a provider, not a manager"):
        org.add_program(o.uow, AddProgram("PP-2", "Second", "Qualité", (o.referrer,)), o.clock)
    with pytest.raises(InvalidInputError, match="a team lead is a manager"):
        org.add_team(o.uow, AddTeam("Team", lead=o.referrer), o.clock)
    assert [p.code for p in o.uow.programs.list()] == ["PP-CHU"]


def test_a_program_code_is_used_once_and_an_unknown_program_is_not_found():
    o = organization()
    with pytest.raises(DuplicateError, match="program PP-CHU already exists"):
        org.add_program(o.uow, AddProgram("PP-CHU", "Again", "Qualité"), o.clock)
    with pytest.raises(NotFoundError, match="no program 'PP-NONE'"):
        queries.get_program(o.uow, "PP-NONE")


def test_a_new_team_is_forming_with_its_first_transition_logged():
    o = organization()
    team = org.add_team(
        o.uow,
        AddTeam(
            "Oncologie",
            o.program,
            o.lead,
            3,
            focus_tags=(" Cancer", "cancer", "youth"),
            meta=Meta(actor="camille", reason="ignored"),
        ),
        o.clock,
    )

    assert team.stage == "forming" and team.focus_tags == ["cancer", "youth"]
    start = o.uow.log("team")[-1]
    assert (start.code, start.to_state, start.actor, start.reason, start.at) == (
        team.code,
        "forming",
        "camille",
        None,
        START,
    )


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        (AddTeam(" "), "needs a name"),
        (AddTeam("T", advisor_seats=0), "at least one advisor seat"),
        (AddTeam("T", languages=("de",)), "languages de not one of fr, en"),
    ],
)
def test_a_team_is_refused_with_the_reason(cmd, message):
    with pytest.raises(InvalidInputError, match=message):
        org.add_team(FakeUnitOfWork(), cmd, FixedClock(START))


def test_a_team_led_by_an_unknown_staff_member_is_refused():
    with pytest.raises(NotFoundError, match="no staff member 'ST-NOBODY'"):
        org.add_team(FakeUnitOfWork(), AddTeam("T", lead="ST-NOBODY"), FixedClock(START))


def test_a_training_module_is_added_once():
    uow = FakeUnitOfWork()
    org.add_training_module(uow, TrainingModule("PP-101", "Partnership"))
    with pytest.raises(DuplicateError, match="training module PP-101 already exists"):
        org.add_training_module(uow, TrainingModule("PP-101", "Again"))
    assert [m.title for m in uow.training.list()] == ["Partnership"]
