"""Use cases for the structure around advisors: staff, programs, QI teams, training."""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ppflow.domain.commands import AddProgram, AddStaff, AddTeam
from ppflow.domain.errors import DuplicateError, InvalidInputError
from ppflow.domain.model import (
    LANGUAGES,
    Program,
    ProgramTarget,
    QITeam,
    StaffMember,
    StaffRole,
    TrainingModule,
    new_code,
    valid_email,
)
from ppflow.services.indicators import LABELS
from ppflow.services.moves import log_start
from ppflow.services.ports import Clock, UnitOfWork


def add_staff(uow: UnitOfWork, cmd: AddStaff) -> StaffMember:
    problems = cmd.problems()
    if not cmd.name.strip():
        problems.append("name is required")
    if not valid_email(cmd.email):
        problems.append(f"e-mail '{cmd.email}' is not a valid address")
    roles = [r.value for r in StaffRole]
    if cmd.role not in roles:
        problems.append(f"role '{cmd.role}' is not one of {', '.join(roles)}")
    if problems:
        raise InvalidInputError("; ".join(problems))
    with uow:
        if uow.staff.by_email(cmd.email.strip()):
            raise DuplicateError(f"a staff member already has the e-mail {cmd.email.strip()}")
        member = StaffMember(
            code=new_code("ST"),
            name=cmd.name.strip(),
            email=cmd.email.strip(),
            role=StaffRole(cmd.role),
            department=cmd.department.strip(),
        )
        uow.staff.add(member)
        uow.commit()
    return member


def add_program(uow: UnitOfWork, cmd: AddProgram, clock: Clock) -> Program:
    if not cmd.code.strip() or not cmd.name.strip() or not cmd.owner_department.strip():
        raise InvalidInputError("a program needs a code, a name and an owner department")
    if problems := cmd.problems():
        raise InvalidInputError("; ".join(problems))
    with uow:
        if any(p.code == cmd.code for p in uow.programs.list()):
            raise DuplicateError(f"program {cmd.code} already exists")
        for manager in cmd.managers:
            role = uow.staff.get(manager).role
            if role == StaffRole.PROVIDER:
                raise InvalidInputError(f"{manager} is a provider, not a manager")
        program = Program(
            code=cmd.code.strip(),
            name=cmd.name.strip(),
            owner_department=cmd.owner_department.strip(),
            responsible_managers=list(cmd.managers),
            targets=[
                ProgramTarget(t.indicator, t.target, t.period, set_at=clock.now())
                for t in cmd.targets
            ],
        )
        uow.programs.add(program)
        uow.commit()
    return program


_YEAR = re.compile(r"^\d{4}$")


def _target_problem(indicator: str, value: float) -> str | None:
    """What is wrong with a target's value for this indicator, if anything."""
    if not math.isfinite(value) or value < 0:
        return f"a target for {indicator} is a number of 0 or more, not {value:g}"
    is_share = indicator.startswith("share_") or (
        indicator.startswith("retention_") and not indicator.endswith("_cohort")
    )
    if is_share and value > 1:
        return f"{indicator} is a share: write its target from 0 to 1 (0.5 for half)"
    is_score = indicator.startswith("feedback_") and indicator != "feedback_answers"
    if is_score and not 1 <= value <= 5:
        return f"{indicator} is a score from 1 to 5, not {value:g}"
    return None


def revise_target(
    uow: UnitOfWork,
    program_code: str,
    indicator: str,
    value: float,
    period: str | None = None,
    *,
    clock: Clock,
    themes: tuple[str, ...] = (),
) -> ProgramTarget:
    """Add a new version of the program's target for one indicator (the logic model is
    versioned: earlier versions stay, so a report judges each period by the version in
    force then). ``period`` is the year the target aims at, this year by default;
    ``themes`` are the questionnaire themes, whose ``feedback_THEME`` scores have
    targets too."""
    indicator = (indicator or "").strip()
    known = sorted(set(LABELS) | {f"feedback_{t}" for t in themes})
    if indicator not in known:
        raise InvalidInputError(
            f"'{indicator}' is not an indicator; valid ones: {', '.join(known)}"
        )
    problem = _target_problem(indicator, value)
    if problem:
        raise InvalidInputError(problem)
    now = clock.now()
    year = (period or str(now.year)).strip()
    if not _YEAR.match(year) or not 2000 <= int(year) <= 2100:
        raise InvalidInputError(f"'{year}' is not a year: write the target's year, e.g. 2027")
    with uow:
        program = uow.programs.get(program_code)
        previous = max((t.version for t in program.targets if t.indicator == indicator), default=0)
        target = ProgramTarget(indicator, float(value), year, previous + 1, now)
        uow.programs.add_target(program.code, target)
        uow.commit()
    return target


def add_team(uow: UnitOfWork, cmd: AddTeam, clock: Clock) -> QITeam:
    if not cmd.name.strip():
        raise InvalidInputError("a QI team needs a name")
    if cmd.advisor_seats < 1:
        raise InvalidInputError("a QI team needs at least one advisor seat")
    if problems := cmd.problems():
        raise InvalidInputError("; ".join(problems))
    unknown = [lang for lang in cmd.languages if lang not in LANGUAGES]
    if unknown:
        raise InvalidInputError(f"languages {', '.join(unknown)} not one of fr, en")
    with uow:
        if cmd.lead and uow.staff.get(cmd.lead).role == StaffRole.PROVIDER:
            raise InvalidInputError(f"{cmd.lead} is a provider; a team lead is a manager")
        team = QITeam(
            code=new_code("QT"),
            name=cmd.name.strip(),
            program=cmd.program,
            lead=cmd.lead,
            advisor_seats=cmd.advisor_seats,
            rules=cmd.rules,
            languages=list(cmd.languages),
            focus_tags=sorted({t.strip().lower() for t in cmd.focus_tags if t.strip()}),
        )
        uow.teams.add(team)
        log_start(uow, team, replace(cmd.meta, reason=None), clock.now())
        uow.commit()
    return team


def add_training_module(uow: UnitOfWork, module: TrainingModule) -> TrainingModule:
    with uow:
        if any(m.code == module.code for m in uow.training.list()):
            raise DuplicateError(f"training module {module.code} already exists")
        uow.training.add(module)
        uow.commit()
    return module
