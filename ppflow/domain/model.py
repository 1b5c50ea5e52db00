"""Entities of the partnership program, as plain dataclasses (standard library only).

Everything here names an advisor by a pseudonymous code. Personal data (names, e-mail,
phone, preferred language, free-text context) lives apart, in :class:`Contact`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from ppflow.domain import lifecycle
from ppflow.domain.errors import InvalidInputError
from ppflow.domain.lifecycle import AdvisorStage, EngagementStage, Lifecycle, TeamStage

if TYPE_CHECKING:
    from ppflow.domain.commands import Meta

# Codes avoid letters and digits that read alike (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


def new_code(prefix: str) -> str:
    """A random code such as ``PA-7K3M9Q``; it says nothing about the person."""
    return f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


ADVISOR_CODE = re.compile(rf"^PA-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# An address mail can be sent to: one @, a dotted domain, nothing that breaks a header.
EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}$")


def valid_email(address: str | None) -> bool:
    return bool(address and EMAIL.match(address.strip()))


def normalise_phone(phone: str) -> str:
    """Digits only, without the North American trunk prefix: ``1 (514) 555-0101`` and
    ``514.555.0101`` are the same number."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


class StaffRole(StrEnum):
    COORDINATOR = "coordinator"
    FRONT_LINE_MANAGER = "front_line_manager"
    MID_LEVEL_MANAGER = "mid_level_manager"
    TOP_LEVEL_MANAGER = "top_level_manager"
    PROVIDER = "provider"


LANGUAGES = ("fr", "en")


class Moves:
    """What an entity with a lifecycle can do: move itself through its table.

    :meth:`move` checks the move against the lifecycle (raising an error that says what is
    wrong), changes the stage and returns the :class:`Transition` to log. The repository
    writes the entity under its optimistic lock (``version``, as it was read)."""

    lifecycle: ClassVar[Lifecycle]
    code: str
    stage: Any

    def move(self, target: str, facts: Any, meta: Meta, at: datetime) -> Transition:
        label = f"{self.lifecycle.entity} {self.code}"
        self.lifecycle.check(self.stage, target, facts, label=label)
        before = self.stage
        self.stage = self.lifecycle.state(target)
        self._moved(before, meta, at)
        return self._logged(before, meta, at)

    def begin(self, meta: Meta, at: datetime) -> Transition:
        """The first entry of the entity's history: it enters its initial stage."""
        self.stage = self.lifecycle.initial
        return self._logged(None, meta, at)

    def _moved(self, before: str, meta: Meta, at: datetime) -> None:
        """What else changes with the stage (nothing, unless the entity says so)."""

    def _logged(self, before: str | None, meta: Meta, at: datetime) -> Transition:
        return Transition(
            entity=self.lifecycle.entity,
            code=self.code,
            from_state=before,
            to_state=self.stage,
            at=at,
            actor=meta.actor,
            reason=meta.reason,
            request_id=meta.request_id,
            flow_run_id=meta.flow_run_id,
        )


@dataclass
class ProgramTarget:
    indicator: str
    target: float
    period: str
    version: int = 1
    set_at: datetime | None = None  # when this version was set (None: not known)


@dataclass
class Program:
    code: str
    name: str
    owner_department: str
    responsible_managers: list[str] = field(default_factory=list)  # staff codes
    targets: list[ProgramTarget] = field(default_factory=list)


@dataclass
class StaffMember:
    code: str
    name: str
    email: str
    role: StaffRole
    department: str = ""


@dataclass
class Contact:
    """Personal data of one advisor, kept apart from everything else."""

    first_name: str
    last_name: str
    email: str
    phone: str = ""
    language: str = "fr"
    context: str = ""
    erased: bool = False  # erased on request or by retention: nothing of the person is left


@dataclass
class Advisor(Moves):
    lifecycle: ClassVar[Lifecycle] = lifecycle.ADVISOR

    code: str
    stage: AdvisorStage = AdvisorStage.IDENTIFIED
    program: str | None = None
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # lived-experience areas
    skills: list[str] = field(default_factory=list)
    availability_hours: int = 0  # hours a month the advisor offers
    held_from: AdvisorStage | None = None
    version: int = 1
    stage_changed_at: datetime | None = None

    def _moved(self, before: str, meta: Meta, at: datetime) -> None:
        # on hold, the advisor keeps the stage to return to; back from hold, it is spent
        if self.stage == AdvisorStage.ON_HOLD:
            self.held_from = AdvisorStage(before)
        elif before == AdvisorStage.ON_HOLD:
            self.held_from = None
        self.stage_changed_at = at


@dataclass
class ParticipationRules:
    """Rules a QI team agrees to so that advisors take a real part (seed table, mid level)."""

    min_advisors: int = 2
    advisor_joins_before_objectives: bool = True
    meeting_times: str = ""
    meeting_format: str = ""


@dataclass
class QITeam(Moves):
    lifecycle: ClassVar[Lifecycle] = lifecycle.TEAM

    code: str
    name: str
    program: str | None = None
    lead: str | None = None  # staff code of the front-line manager
    stage: TeamStage = TeamStage.FORMING
    advisor_seats: int = 2
    rules: ParticipationRules = field(default_factory=ParticipationRules)
    languages: list[str] = field(default_factory=list)
    focus_tags: list[str] = field(default_factory=list)
    briefed_at: datetime | None = None
    objectives_set_at: datetime | None = None
    version: int = 1

    def check_placement(self, advisor: str, on_team: Iterable[str]) -> None:
        """The team can take ``advisor`` now, given the advisors ``on_team`` (those with an
        active engagement), or an :class:`InvalidInputError` says why not."""
        if self.stage != TeamStage.ACTIVE:
            raise InvalidInputError(
                f"team {self.code} is {self.stage}; brief it before its first advisor joins"
                if self.stage == TeamStage.FORMING
                else f"team {self.code} is closed"
            )
        on_team = list(on_team)
        if advisor in on_team:
            raise InvalidInputError(f"advisor {advisor} is already on team {self.code}")
        if len(on_team) >= self.advisor_seats:
            raise InvalidInputError(
                f"team {self.code} has no free advisor seat ({self.advisor_seats} taken)"
            )

    def participation_warnings(self, advisors_on_team: int, joined_at: datetime) -> list[str]:
        """The two tokenism risks named in the literature, as warnings for the record: an
        advisor left alone on the team, and objectives set before the advisor joined."""
        warnings = self._too_few(advisors_on_team)
        if self.objectives_set_at is not None and self.objectives_set_at < joined_at:
            warnings.append(f"team {self.code} set its objectives before this advisor joined")
        return warnings

    def _too_few(self, advisors_on_team: int) -> list[str]:
        if advisors_on_team >= self.rules.min_advisors:
            return []
        return [
            f"team {self.code} has {advisors_on_team} advisor(s); its rule asks for at "
            f"least {self.rules.min_advisors}, so one advisor may be left alone"
        ]

    def current_warnings(self, joined: Sequence[datetime | None]) -> list[str]:
        """The tokenism risks of an active team now, from when each of its active advisors
        joined: too few advisors for its rule, and objectives set before some joined."""
        if self.stage != TeamStage.ACTIVE:
            return []
        warnings = self._too_few(len(joined))
        late = [j for j in joined if j and self.objectives_set_at and self.objectives_set_at < j]
        if late:
            warnings.append(
                f"team {self.code} set its objectives before {len(late)} of its "
                f"{len(joined)} advisor(s) joined"
            )
        return warnings


@dataclass
class Engagement(Moves):
    lifecycle: ClassVar[Lifecycle] = lifecycle.ENGAGEMENT

    code: str
    advisor: str
    team: str
    stage: EngagementStage = EngagementStage.PROPOSED
    role: str = "member"
    start_date: date | None = None
    end_date: date | None = None
    hourly_rate: float | None = None
    joined_at: datetime | None = None
    reason: str | None = None
    version: int = 1

    def _moved(self, before: str, meta: Meta, at: datetime) -> None:
        if self.stage in lifecycle.ENGAGEMENT_ENDS:
            self.end_date = at.date()
            self.reason = meta.reason


@dataclass
class Consent:
    purpose: str
    wording_version: str
    given_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        if self.withdrawn_at is not None and self.withdrawn_at <= moment:
            return False
        return self.expires_at is None or moment < self.expires_at


@dataclass
class TrainingModule:
    code: str
    title: str
    required: bool = True


@dataclass
class TrainingRecord:
    module: str
    enrolled_at: datetime
    completed_at: datetime | None = None


@dataclass(frozen=True)
class Correction:
    """A coordinator corrected a record: which fields (not their values), who, when, why."""

    entity: str  # advisor | staff | team
    code: str
    fields: tuple[str, ...]
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Meeting:
    """A QI team met on a day; the roll call names each advisor of the team by code,
    present or absent. One meeting a day per team."""

    team: str
    held_on: date
    present: tuple[str, ...]
    absent: tuple[str, ...]
    actor: str
    recorded_at: datetime
    sets_objectives: bool = False

    def attended(self, advisor: str) -> bool | None:
        """Whether ``advisor`` was there; None when the roll call does not name them."""
        if advisor in self.present:
            return True
        return False if advisor in self.absent else None


@dataclass(frozen=True)
class Transition:
    entity: str  # "advisor" | "engagement" | "team"
    code: str
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    reason: str | None = None
    request_id: str | None = None
    flow_run_id: str | None = None


@dataclass
class SurveyRequest:
    engagement: str
    respondent_kind: str  # advisor | staff
    respondent: str  # code
    round: int
    questionnaire: str
    token: str
    opened_at: datetime
    reminders: int = 0
    reminded_at: datetime | None = None
    answered_at: datetime | None = None
    score: float | None = None


@dataclass
class Evaluation:
    engagement: str
    criteria: list[dict]
    score: float | None
    notes: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class Decision:
    flow_run_id: str
    question: str
    subject: str
    answer: dict
    actor: str
    at: datetime
