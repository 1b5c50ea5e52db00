"""Read-only views for the CLI and reports. Each opens and closes its own unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field

from ppflow.domain.errors import NotFoundError
from ppflow.domain.model import (
    Advisor,
    Consent,
    Contact,
    Engagement,
    Program,
    QITeam,
    StaffMember,
    TrainingRecord,
)
from ppflow.services.ports import AdvisorFilter, PoolEntry, UnitOfWork


@dataclass
class TeamSummary:
    team: QITeam
    active_advisors: int
    engagements: list[Engagement] = field(default_factory=list)


@dataclass
class AdvisorDetail:
    advisor: Advisor
    referrer: str | None
    consents: list[Consent]
    training: list[TrainingRecord]
    engagements: list[Engagement]
    contact: Contact | None = None


def list_staff(uow: UnitOfWork, role: str | None = None) -> list[StaffMember]:
    with uow:
        return uow.staff.list(role)


def get_program(uow: UnitOfWork, code: str) -> Program:
    with uow:
        return uow.programs.get(code)


def list_advisors(uow: UnitOfWork, criteria: AdvisorFilter) -> list[PoolEntry]:
    with uow:
        return uow.advisors.list(criteria)


def get_advisor(uow: UnitOfWork, code: str, with_contact: bool = False) -> AdvisorDetail:
    with uow:
        if not uow.advisors.exists(code):
            raise NotFoundError("advisor", code)
        return AdvisorDetail(
            advisor=uow.advisors.get(code),
            referrer=uow.advisors.referrer(code),
            consents=uow.advisors.consents(code),
            training=uow.advisors.training(code),
            engagements=uow.engagements.for_advisor(code),
            contact=uow.advisors.contact(code) if with_contact else None,
        )


def list_teams(uow: UnitOfWork, stage: str | None) -> list[TeamSummary]:
    with uow:
        return [TeamSummary(t, uow.teams.advisor_count(t.code)) for t in uow.teams.list(stage)]


def get_team(uow: UnitOfWork, code: str) -> TeamSummary:
    with uow:
        team = uow.teams.get(code)
        return TeamSummary(team, uow.teams.advisor_count(code), uow.engagements.for_team(code))
