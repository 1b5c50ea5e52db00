"""Read-only views for the CLI and reports. Each opens and closes its own unit of work."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.domain.lifecycle import EngagementStage
from ppflow.domain.matching import Match
from ppflow.domain.model import (
    Advisor,
    Consent,
    Contact,
    Engagement,
    Evaluation,
    Program,
    QITeam,
    StaffMember,
    SurveyRequest,
    TrainingRecord,
)
from ppflow.services.ports import AdvisorFilter, ContactMatch, PoolEntry, UnitOfWork

if TYPE_CHECKING:
    from ppflow.services.compensation import PayeeTotal

FIND_LIMIT = 50  # the most people a search shows: a search is for finding one person


@dataclass
class TeamSummary:
    team: QITeam
    active_advisors: int
    engagements: list[Engagement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the tokenism risks now
    proposed_at: datetime | None = None
    proposals: list[Match] = field(default_factory=list)  # the last ones, best first


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


@dataclass(frozen=True)
class PoolPage:
    """A page of the pool: the advisors shown, and how many the filter selects in all."""

    entries: list[PoolEntry]
    total: int

    @property
    def more(self) -> int:
        """How many the page leaves out."""
        return self.total - len(self.entries)


def pool_page(uow: UnitOfWork, criteria: AdvisorFilter) -> PoolPage:
    """The advisors ``criteria`` selects, at most its limit, with how many it selects in
    all (counted only when the page is full)."""
    with uow:
        entries = uow.advisors.list(criteria)
        full = criteria.limit is not None and len(entries) >= criteria.limit
        return PoolPage(entries, uow.advisors.count(criteria) if full else len(entries))


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
    """A team with its engagements, its tokenism warnings now, and its last proposals."""
    with uow:
        team = uow.teams.get(code)
        engagements = uow.engagements.for_team(code)
        active = [e for e in engagements if e.stage == EngagementStage.ACTIVE]
        proposed_at, proposals = uow.teams.last_proposals(code)
        return TeamSummary(
            team,
            len(active),
            engagements,
            team.current_warnings([e.joined_at for e in active]),
            proposed_at,
            proposals,
        )


# -------------------------------------------------------------------- search by name


def fold(text: str) -> str:
    """``text`` without case or accents ("Hélène" and "HELENE" both give "helene"), the same
    on every database, since it is computed here rather than by SQL collations."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_words(text: str) -> tuple[str, ...]:
    """The folded words of a search; refuses a search with none."""
    words = tuple(fold(text).split())
    if not words:
        raise InvalidInputError("give a name or an e-mail address to search for")
    return words


def search_text(first_name: str, last_name: str, email: str) -> str:
    """What a search by name looks in: the first name, last name and e-mail address,
    folded. The contacts table keeps it beside them (``contacts.search_text``), written
    with them, so that the search is one query."""
    return fold(f"{first_name} {last_name} {email}")


def matches(words: tuple[str, ...], first_name: str, last_name: str, email: str) -> bool:
    """Every word of the search is part of the first name, the last name or the e-mail."""
    haystack = search_text(first_name, last_name, email)
    return all(word in haystack for word in words)


def find_advisors(uow: UnitOfWork, text: str, limit: int = FIND_LIMIT) -> list[ContactMatch]:
    """Advisors whose first name, last name or e-mail address contain every word of
    ``text``, whatever the case and accents; erased people never match."""
    words = search_words(text)
    if limit < 1:
        raise InvalidInputError("the limit must be at least 1")
    with uow:
        return uow.advisors.find(words, limit)


# ------------------------------------------------------------------------ engagements


@dataclass
class EngagementDetail:
    engagement: Engagement
    evaluation: Evaluation | None
    surveys: list[SurveyRequest]
    pay: PayeeTotal


def list_engagements(
    uow: UnitOfWork,
    team: str | None = None,
    advisor: str | None = None,
    state: str | None = None,
) -> list[Engagement]:
    """Engagements of a team, of an advisor, in a state, or all of them, team by team."""
    with uow:
        if advisor is not None:
            if not uow.advisors.exists(advisor):
                raise NotFoundError("advisor", advisor)
            found = uow.engagements.for_advisor(advisor)
        elif team is not None:
            uow.teams.get(team)  # an unknown team is refused, not shown as empty
            found = uow.engagements.for_team(team)
        else:
            found = [e for t in uow.teams.list() for e in uow.engagements.for_team(t.code)]
        if team is not None and advisor is not None:
            uow.teams.get(team)
        return [
            e
            for e in found
            if (team is None or e.team == team) and (state is None or e.stage == state)
        ]


def get_engagement(uow: UnitOfWork, code: str) -> EngagementDetail:
    """One engagement with its evaluation, its feedback rounds, and its hours and pay."""
    with uow:
        engagement = uow.engagements.get(code)
        return EngagementDetail(
            engagement=engagement,
            evaluation=uow.evaluations.get(code),
            surveys=sorted(
                uow.surveys.for_engagement(code), key=lambda s: (s.round, s.respondent_kind)
            ),
            pay=uow.pay.engagement_total(code),
        )


def transitions(uow: UnitOfWork, entity: str, code: str) -> list:
    """The ordered transition log of one advisor, engagement or team (codes and stages)."""
    with uow:
        return uow.transitions.history(entity, code)
