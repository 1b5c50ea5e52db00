"""Commands: one small dataclass per use case, so each can grow compatibly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from ppflow.domain.errors import InvalidInputError
from ppflow.domain.limits import (
    MAX_PERSON_NAME,
    MAX_REQUEST_ID,
    email_problems,
    integer_problem,
    name_problems,
)
from ppflow.domain.model import (
    LANGUAGES,
    Advisor,
    Contact,
    ParticipationRules,
    normalise_phone,
    valid_email,
)


class ScreeningOutcome(StrEnum):
    """What the coordinator decides after screening an invited person."""

    RETAINED = "retained"  # consent and the confidentiality agreement are signed
    NOT_RETAINED = "not_retained"  # with a reason
    DECLINED = "declined"  # the person said no

    @classmethod
    def parse(cls, value: str) -> ScreeningOutcome:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"'{value}' is not a screening outcome; choose one of "
                + ", ".join(o.value for o in cls)
            ) from None


@dataclass(frozen=True)
class Meta:
    """Who asked, why, and under which request id (for idempotence) and Prefect run."""

    actor: str = "system"
    reason: str | None = None
    request_id: str | None = None
    flow_run_id: str | None = None

    def __post_init__(self) -> None:
        if self.request_id is not None and len(self.request_id) > MAX_REQUEST_ID:
            raise InvalidInputError(f"a request id is at most {MAX_REQUEST_ID} characters")


@dataclass(frozen=True)
class AddStaff:
    name: str
    email: str
    role: str
    department: str = ""

    def problems(self) -> list[str]:
        """What the domain's limits refuse in this staff member (see ppflow.domain.limits)."""
        return [
            *name_problems("name", self.name),
            *email_problems("e-mail", self.email),
            *name_problems("department", self.department),
        ]


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

    def problems(self) -> list[str]:
        return [
            *name_problems("program code", self.code, 32),
            *name_problems("name", self.name),
            *name_problems("owner department", self.owner_department),
        ]


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

    def problems(self) -> list[str]:
        seats = integer_problem("advisor seats", self.advisor_seats)
        return [*name_problems("name", self.name), *([seats] if seats else [])]


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

    def advisor(self, code: str, now: datetime) -> Advisor:
        """The advisor this referral registers, under ``code`` (pseudonymous data only)."""
        return Advisor(
            code=code,
            program=self.program,
            languages=list(self.languages or (self.language,)),
            tags=sorted({t.strip().lower() for t in self.tags if t.strip()}),
            skills=sorted({s.strip().lower() for s in self.skills if s.strip()}),
            availability_hours=self.availability_hours,
            stage_changed_at=now,
        )

    def contact(self) -> Contact:
        """The person's contact, kept apart from everything else."""
        return Contact(
            first_name=self.first_name.strip(),
            last_name=self.last_name.strip(),
            email=self.email.strip(),
            phone=normalise_phone(self.phone),
            language=self.language,
            context=self.context,
        )

    def problems(self) -> list[str]:
        """What is wrong with this referral, in words a coordinator can act on."""

        def has_controls(value: str, allowed: str = "") -> bool:
            """A control character (C0, DEL, C1) or a Unicode line or paragraph separator
            other than those ``allowed``."""
            return any(
                (c < " " or "\x7f" <= c <= "\x9f" or c in "\u2028\u2029") and c not in allowed
                for c in value
            )

        problems = [
            *name_problems("first name", self.first_name, MAX_PERSON_NAME),
            *name_problems("last name", self.last_name, MAX_PERSON_NAME),
            *email_problems("e-mail", self.email),
        ]
        # Control characters (a line break, a tab, an escape...) in what ends up in a mail
        # header could add headers or recipients; the CSV import and the CLI both refuse
        # them here. The value is not quoted: it may be what breaks the line.
        controlled = [
            label
            for label, value in (
                ("first name", self.first_name),
                ("last name", self.last_name),
                ("e-mail", self.email),
                ("phone", self.phone),
                ("referrer", self.referred_by),
            )
            if has_controls(value)
        ]
        if has_controls(self.context, allowed="\t\n\r"):
            controlled.append("context")
        for label in controlled:
            problems.append(f"{label} contains control characters (such as a line break)")
        if not self.first_name.strip():
            problems.append("first name is required")
        if not self.last_name.strip():
            problems.append("last name is required")
        if not self.email.strip():
            problems.append("e-mail is required")
        elif (
            "e-mail" not in controlled
            and not email_problems("e-mail", self.email)
            and not valid_email(self.email)
        ):
            problems.append(f"e-mail '{self.email.strip()}' is not a valid address")
        if self.language not in LANGUAGES:
            problems.append(f"language '{self.language}' is not one of {', '.join(LANGUAGES)}")
        unknown = [lang for lang in self.languages if lang not in LANGUAGES]
        if unknown:
            problems.append(f"spoken languages {', '.join(unknown)} not one of fr, en")
        if not self.referred_by.strip():
            problems.append("referrer is required")
        if (
            self.phone
            and "phone" not in controlled
            and not 10 <= len(normalise_phone(self.phone)) <= 15
        ):
            problems.append(f"phone '{self.phone}' is not a phone number")
        if self.availability_hours < 0:
            problems.append("availability must be zero or more hours a month")
        elif too_many := integer_problem("availability", self.availability_hours):
            problems.append(too_many)
        return problems


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
class EditAdvisor:
    """Corrections to an advisor: their contact (the contacts table only) or their profile.
    A field left None stays as it is."""

    advisor: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    tags: tuple[str, ...] | None = None
    skills: tuple[str, ...] | None = None
    availability_hours: int | None = None
    meta: Meta = Meta()


@dataclass(frozen=True)
class EditStaff:
    code: str
    name: str | None = None
    email: str | None = None
    role: str | None = None
    department: str | None = None
    meta: Meta = Meta()

    def problems(self) -> list[str]:
        return AddStaff(self.name or "", self.email or "", "", self.department or "").problems()


@dataclass(frozen=True)
class EditTeam:
    team: str
    lead: str | None = None
    advisor_seats: int | None = None
    name: str | None = None
    languages: tuple[str, ...] | None = None
    focus_tags: tuple[str, ...] | None = None
    meta: Meta = Meta()

    def problems(self) -> list[str]:
        return AddTeam(self.name or "", advisor_seats=self.advisor_seats or 0).problems()


@dataclass(frozen=True)
class RecordMeeting:
    """A team meeting and its roll call (advisor codes only). Without a roll call
    (``present`` and ``absent`` both None), every advisor on the team that day was there."""

    team: str
    held_on: date
    present: tuple[str, ...] | None = None
    absent: tuple[str, ...] | None = None
    sets_objectives: bool = False
    meta: Meta = field(default_factory=Meta)
