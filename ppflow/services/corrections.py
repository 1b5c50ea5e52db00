"""Corrections a coordinator makes: an advisor's contact or profile, a staff member, a
team. Each is checked as the original entry was, written in one transaction, and logged
with its actor and reason (the fields changed, never their values)."""

from __future__ import annotations

from dataclasses import replace

from ppflow.domain.commands import EditAdvisor, EditStaff, EditTeam, Meta, RegisterReferral
from ppflow.domain.errors import DuplicateError, InvalidInputError
from ppflow.domain.lifecycle import EngagementStage
from ppflow.domain.model import (
    LANGUAGES,
    Correction,
    StaffMember,
    StaffRole,
    normalise_phone,
    valid_email,
)
from ppflow.services.ports import Clock, UnitOfWork

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "language")
PROFILE_FIELDS = ("tags", "skills", "availability_hours")


def _changed(cmd, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in fields if getattr(cmd, f) is not None)


def _log(uow: UnitOfWork, entity: str, code: str, fields, meta: Meta, clock: Clock) -> None:
    uow.corrections.add(
        Correction(entity, code, tuple(fields), meta.actor, meta.reason or "", clock.now())
    )


def _tidy(values) -> list[str]:
    return sorted({v.strip().lower() for v in values if v.strip()})


def edit_advisor(uow: UnitOfWork, cmd: EditAdvisor, clock: Clock) -> tuple:
    """Correct an advisor's contact (the contacts table only) and profile. Returns the
    fields changed. The new values are checked as a referral's are; an address or phone
    another advisor has is refused, naming them."""
    contact_changes = _changed(cmd, CONTACT_FIELDS)
    profile_changes = _changed(cmd, PROFILE_FIELDS)
    if not contact_changes and not profile_changes:
        raise InvalidInputError("nothing to change: give at least one field")
    with uow:
        contact = uow.advisors.contact(cmd.advisor)
        if contact.erased:
            raise InvalidInputError(f"{cmd.advisor}'s personal data has been erased")
        corrected = replace(
            contact,
            **{f: getattr(cmd, f).strip() for f in contact_changes},
        )
        corrected = replace(corrected, phone=normalise_phone(corrected.phone))
        check = RegisterReferral(
            corrected.first_name,
            corrected.last_name,
            corrected.email,
            referred_by="-",
            phone=corrected.phone,
            language=corrected.language,
            availability_hours=cmd.availability_hours or 0,
        )
        problems = check.problems()
        if problems:
            raise InvalidInputError("; ".join(problems))
        if contact_changes:
            uow.advisors.save_contact(cmd.advisor, corrected)
        if profile_changes:
            advisor = uow.advisors.get(cmd.advisor)
            if cmd.tags is not None:
                advisor.tags = _tidy(cmd.tags)
            if cmd.skills is not None:
                advisor.skills = _tidy(cmd.skills)
            if cmd.availability_hours is not None:
                advisor.availability_hours = cmd.availability_hours
            uow.advisors.save(advisor)
        changed = contact_changes + profile_changes
        _log(uow, "advisor", cmd.advisor, changed, cmd.meta, clock)
        uow.commit()
    return changed


def edit_staff(uow: UnitOfWork, cmd: EditStaff, clock: Clock) -> StaffMember:
    """Correct a staff member's name, e-mail address, role or department."""
    changes = _changed(cmd, ("name", "email", "role", "department"))
    if not changes:
        raise InvalidInputError("nothing to change: give at least one field")
    roles = [r.value for r in StaffRole]
    problems = cmd.problems()
    if cmd.name is not None and not cmd.name.strip():
        problems.append("name is required")
    if cmd.email is not None and not valid_email(cmd.email):
        problems.append(f"e-mail '{cmd.email.strip()}' is not a valid address")
    if cmd.role is not None and cmd.role not in roles:
        problems.append(f"role '{cmd.role}' is not one of {', '.join(roles)}")
    if problems:
        raise InvalidInputError("; ".join(problems))
    with uow:
        member = uow.staff.get(cmd.code)
        if cmd.email is not None:
            other = uow.staff.by_email(cmd.email.strip())
            if other is not None and other.code != member.code:
                raise DuplicateError(f"{other.code} already has the e-mail {cmd.email.strip()}")
        member = replace(
            member,
            name=cmd.name.strip() if cmd.name is not None else member.name,
            email=cmd.email.strip() if cmd.email is not None else member.email,
            role=StaffRole(cmd.role) if cmd.role is not None else member.role,
            department=cmd.department.strip() if cmd.department is not None else member.department,
        )
        uow.staff.save(member)
        _log(uow, "staff", member.code, changes, cmd.meta, clock)
        uow.commit()
    return member


def edit_team(uow: UnitOfWork, cmd: EditTeam, clock: Clock) -> tuple:
    """Correct a QI team: its lead (a team created without one can then be briefed), its
    advisor seats, name, languages or focus. Returns the fields changed."""
    changes = _changed(cmd, ("lead", "advisor_seats", "name", "languages", "focus_tags"))
    if not changes:
        raise InvalidInputError("nothing to change: give at least one field")
    if problems := cmd.problems():
        raise InvalidInputError("; ".join(problems))
    with uow:
        team = uow.teams.get(cmd.team)
        problems = []
        if cmd.lead is not None and uow.staff.get(cmd.lead).role == StaffRole.PROVIDER:
            problems.append(f"{cmd.lead} is a provider; a team lead is a manager")
        if cmd.advisor_seats is not None:
            seated = [
                e for e in uow.engagements.for_team(team.code) if e.stage == EngagementStage.ACTIVE
            ]
            if cmd.advisor_seats < max(1, len(seated)):
                problems.append(
                    f"a team needs at least one advisor seat, and {team.code} has "
                    f"{len(seated)} advisor(s) on it"
                )
        if cmd.name is not None and not cmd.name.strip():
            problems.append("a QI team needs a name")
        unknown = [lang for lang in cmd.languages or () if lang not in LANGUAGES]
        if unknown:
            problems.append(f"languages {', '.join(unknown)} not one of {', '.join(LANGUAGES)}")
        if problems:
            raise InvalidInputError("; ".join(problems))
        if cmd.lead is not None:
            team.lead = cmd.lead
        if cmd.advisor_seats is not None:
            team.advisor_seats = cmd.advisor_seats
        if cmd.name is not None:
            team.name = cmd.name.strip()
        if cmd.languages is not None:
            team.languages = list(cmd.languages)
        if cmd.focus_tags is not None:
            team.focus_tags = _tidy(cmd.focus_tags)
        uow.teams.save(team)
        _log(uow, "team", team.code, changes, cmd.meta, clock)
        uow.commit()
    return changes
