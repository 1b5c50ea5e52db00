"""Entities of the partnership program, as plain dataclasses (standard library only).

Everything here names an advisor by a pseudonymous code. Personal data (names, e-mail,
phone, preferred language, free-text context) lives apart, in :class:`Contact`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

# Codes avoid letters and digits that read alike (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


def new_code(prefix: str) -> str:
    """A random code such as ``PA-7K3M9Q``; it says nothing about the person."""
    return f"{prefix}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


ADVISOR_CODE = re.compile(rf"^PA-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


class StaffRole(StrEnum):
    COORDINATOR = "coordinator"
    FRONT_LINE_MANAGER = "front_line_manager"
    MID_LEVEL_MANAGER = "mid_level_manager"
    TOP_LEVEL_MANAGER = "top_level_manager"
    PROVIDER = "provider"


LANGUAGES = ("fr", "en")


@dataclass
class ProgramTarget:
    indicator: str
    target: float
    period: str
    version: int = 1


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


@dataclass
class Advisor:
    code: str
    stage: str = "identified"
    program: str | None = None
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # lived-experience areas
    skills: list[str] = field(default_factory=list)
    availability_hours: int = 0  # hours a month the advisor offers
    held_from: str | None = None
    version: int = 1
    stage_changed_at: datetime | None = None


@dataclass
class Referral:
    advisor: str
    referred_by: str  # staff code
    referred_at: datetime
    source: str = "cli"


@dataclass
class ParticipationRules:
    """Rules a QI team agrees to so that advisors take a real part (seed table, mid level)."""

    min_advisors: int = 2
    advisor_joins_before_objectives: bool = True
    meeting_times: str = ""
    meeting_format: str = ""


@dataclass
class QITeam:
    code: str
    name: str
    program: str | None = None
    lead: str | None = None  # staff code of the front-line manager
    stage: str = "forming"
    advisor_seats: int = 2
    rules: ParticipationRules = field(default_factory=ParticipationRules)
    languages: list[str] = field(default_factory=list)
    focus_tags: list[str] = field(default_factory=list)
    briefed_at: datetime | None = None
    objectives_set_at: datetime | None = None
    version: int = 1


@dataclass
class Engagement:
    code: str
    advisor: str
    team: str
    stage: str = "proposed"
    role: str = "member"
    start_date: date | None = None
    end_date: date | None = None
    hourly_rate: float | None = None
    joined_at: datetime | None = None
    reason: str | None = None
    version: int = 1


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
