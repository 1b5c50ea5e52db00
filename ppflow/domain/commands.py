"""Commands: one small dataclass per use case, so each can grow compatibly."""

from __future__ import annotations

from dataclasses import dataclass, field

from ppflow.domain.model import ParticipationRules


@dataclass(frozen=True)
class Meta:
    """Who asked, why, and under which request id (for idempotence) and Prefect run."""

    actor: str = "system"
    reason: str | None = None
    request_id: str | None = None
    flow_run_id: str | None = None


@dataclass(frozen=True)
class AddStaff:
    name: str
    email: str
    role: str
    department: str = ""


@dataclass(frozen=True)
class TargetSpec:
    indicator: str
    target: float
    period: str


@dataclass(frozen=True)
class AddProgram:
    code: str
    name: str
    owner_department: str
    managers: tuple[str, ...] = ()
    targets: tuple[TargetSpec, ...] = ()


@dataclass(frozen=True)
class AddTeam:
    name: str
    program: str | None = None
    lead: str | None = None
    advisor_seats: int = 2
    rules: ParticipationRules = field(default_factory=ParticipationRules)
    languages: tuple[str, ...] = ()
    focus_tags: tuple[str, ...] = ()
    meta: Meta = Meta()


@dataclass(frozen=True)
class RegisterReferral:
    first_name: str
    last_name: str
    email: str
    referred_by: str  # staff code or e-mail
    phone: str = ""
    language: str = "fr"
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    availability_hours: int = 0
    program: str | None = None
    context: str = ""
    source: str = "cli"
    meta: Meta = Meta()


@dataclass(frozen=True)
class ChangeAdvisorStage:
    """Ask for a move; the facts the command itself vouches for are its flags."""

    advisor: str
    target: str
    said_yes: bool = False
    said_no_or_no_answer: bool = False
    available: bool = False
    leaving: bool = False
    meta: Meta = Meta()


@dataclass(frozen=True)
class RecordConsent:
    advisor: str
    purpose: str
    wording_version: str
    valid_days: int | None = 730
    meta: Meta = Meta()


@dataclass(frozen=True)
class ChangeTeamStage:
    team: str
    target: str
    meta: Meta = Meta()
