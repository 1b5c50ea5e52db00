"""A small demonstration program: staff, teams, training modules and advisors at every
early stage, all moved through the real use cases (so the transition log is real too)."""

from __future__ import annotations

import unicodedata

from ppflow.domain.commands import (
    AddProgram,
    AddStaff,
    AddTeam,
    Meta,
    RegisterReferral,
    ScreeningOutcome,
    TargetSpec,
)
from ppflow.domain.lifecycle import AdvisorStage as S
from ppflow.domain.model import ParticipationRules, TrainingModule
from ppflow.services import advisors as a
from ppflow.services import organization as o
from ppflow.services.ports import Clock, UnitOfWork

DEMO_PROGRAM = "PP-DEMO"
ACTOR = "demo"

# Fictional people; example.org addresses never deliver anywhere.
STAFF = [
    ("Camille Roy", "camille.roy@example.org", "coordinator", "Bureau du partenariat"),
    ("Jordan Tremblay", "jordan.tremblay@example.org", "top_level_manager", "Direction générale"),
    ("Alexis Gagnon", "alexis.gagnon@example.org", "mid_level_manager", "Qualité et performance"),
    ("Sam Bouchard", "sam.bouchard@example.org", "front_line_manager", "Oncologie"),
    ("Robin Côté", "robin.cote@example.org", "front_line_manager", "Santé mentale"),
    ("Dominique Pelletier", "dominique.pelletier@example.org", "provider", "Oncologie"),
]

ADVISORS = [
    # first, last, language, spoken, tags, skills, hours, path
    ("Marie", "Lavoie", "fr", "fr", "cancer;caregiver", "writing", 8, S.READY),
    ("Luc", "Morin", "fr", "fr;en", "mental-health", "facilitation", 6, S.READY),
    ("Aisha", "Khan", "en", "en;fr", "diabetes;chronic-pain", "data", 4, S.PREPARING),
    ("Pierre", "Girard", "fr", "fr", "cancer", "", 10, S.RECRUITED),
    ("Nadia", "Belanger", "fr", "fr", "mental-health;youth", "peer-support", 5, S.SCREENING),
    ("Tom", "Wilson", "en", "en", "cardiac", "", 3, S.INVITED),
    ("Sophie", "Fortin", "fr", "fr", "maternity", "design", 6, S.IDENTIFIED),
    ("Éric", "Caron", "fr", "fr", "cancer", "", 2, S.DECLINED),
    ("Julie", "Ouellet", "fr", "fr", "mental-health", "", 4, S.NOT_RETAINED),
    ("Ken", "Ito", "en", "en;fr", "chronic-pain", "teaching", 6, S.ON_HOLD),
    ("Léa", "Dubois", "fr", "fr", "caregiver", "", 5, S.WITHDRAWN),
]

MODULES = [
    TrainingModule("PP-101", "Le partenariat patient en amélioration de la qualité"),
    TrainingModule("CONF-1", "Confidentialité et éthique"),
    TrainingModule("QI-TOOLS", "Outils de l'amélioration continue", required=False),
]


def seed_structure(uow: UnitOfWork, clock: Clock) -> dict[str, str] | None:
    """Staff, the program, training modules and two QI teams. Returns the codes by role
    (and ``team1``, ``team2``), or None when the demonstration program is already there."""
    with uow:
        if any(p.code == DEMO_PROGRAM for p in uow.programs.list()):
            return None
    meta = Meta(actor=ACTOR)
    staff = {}
    for name, email, role, department in STAFF:
        staff[role if role not in staff else role + "2"] = o.add_staff(
            uow, AddStaff(name, email, role, department)
        ).code
    o.add_program(
        uow,
        AddProgram(
            DEMO_PROGRAM,
            "Partenaires de soins — démonstration",
            "Bureau du partenariat patient",
            (staff["top_level_manager"], staff["mid_level_manager"]),
            (
                TargetSpec("teams_with_two_advisors", 4, "2027"),
                TargetSpec("days_to_integration_median", 60, "2027"),
            ),
        ),
        clock,
    )
    with uow:
        existing = {m.code for m in uow.training.list()}
    for module in MODULES:
        if module.code not in existing:
            o.add_training_module(uow, module)
    rules = ParticipationRules(2, True, "mardi 13 h", "hybride")
    staff["team1"] = o.add_team(
        uow,
        AddTeam(
            "Parcours oncologie",
            DEMO_PROGRAM,
            staff["front_line_manager"],
            2,
            rules,
            ("fr",),
            ("cancer", "caregiver"),
            meta,
        ),
        clock,
    ).code
    staff["team2"] = o.add_team(
        uow,
        AddTeam(
            "Urgence santé mentale",
            DEMO_PROGRAM,
            staff["front_line_manager2"],
            3,
            rules,
            ("fr", "en"),
            ("mental-health", "youth"),
            meta,
        ),
        clock,
    ).code
    return staff


def existing_structure(uow: UnitOfWork) -> dict[str, str] | None:
    """The codes :func:`seed_structure` returned, read back from a database where the
    demonstration program is already seeded (``ppflow demo --seed-only``), or None."""
    with uow:
        if not any(p.code == DEMO_PROGRAM for p in uow.programs.list()):
            return None
        staff: dict[str, str] = {}
        for _, email, role, _ in STAFF:
            member = uow.staff.by_email(email)
            if member is not None:
                staff[role if role not in staff else role + "2"] = member.code
        teams = {t.name: t.code for t in uow.teams.list() if t.program == DEMO_PROGRAM}
    staff["team1"] = teams.get("Parcours oncologie", "")
    staff["team2"] = teams.get("Urgence santé mentale", "")
    return staff


def _address(first: str, last: str, number: int) -> str:
    """A made-up address for a demonstration advisor, without accents (Éric -> eric)."""
    local = unicodedata.normalize("NFKD", f"{first}.{last}".lower()).encode("ascii", "ignore")
    return f"{local.decode('ascii')}.{number}@example.org"


def seed(uow: UnitOfWork, clock: Clock) -> bool:
    """Seed the demonstration program and walk a pool of advisors through the use cases
    directly (no Prefect). Returns False when it is already there."""
    staff = seed_structure(uow, clock)
    if staff is None:
        return False
    meta = Meta(actor=ACTOR)
    for number, (first, last, lang, spoken, tags, skills, hours, path) in enumerate(ADVISORS):
        referral = RegisterReferral(
            first,
            last,
            _address(first, last, number),
            staff["provider"],
            "",
            lang,
            tuple(spoken.split(";")),
            tuple(tags.split(";")),
            tuple(s for s in skills.split(";") if s),
            hours,
            DEMO_PROGRAM,
            "",
            "demo",
            meta,
        )
        code = a.register_referral(uow, referral, clock).code
        _walk(uow, code, path, meta, clock)
    return True


def _walk(uow: UnitOfWork, code: str, path: str, meta: Meta, clock: Clock) -> None:
    """Move one advisor along the lifecycle up to the stage named by ``path``."""
    if path == S.IDENTIFIED:
        return
    a.invite_advisor(uow, code, meta, clock)
    if path == S.INVITED:
        return
    if path == S.DECLINED:
        a.record_invitation_answer(
            uow, code, False, Meta(ACTOR, "no answer after reminders"), clock
        )
        return
    a.record_invitation_answer(uow, code, True, meta, clock)
    if path == S.SCREENING:
        return
    if path == S.NOT_RETAINED:
        a.apply_screening_outcome(
            uow,
            code,
            ScreeningOutcome.NOT_RETAINED,
            Meta(ACTOR, "availability too limited"),
            clock=clock,
        )
        return
    a.apply_screening_outcome(uow, code, ScreeningOutcome.RETAINED, meta, clock=clock)
    if path == S.RECRUITED:
        return
    if path == S.WITHDRAWN:
        a.withdraw_advisor(uow, code, Meta(ACTOR, "personal reasons"), clock)
        return
    a.enrol_required_modules(uow, code, meta, clock)
    if path == S.PREPARING:
        a.complete_module(uow, code, MODULES[0].code, meta, clock)
        return
    for module in MODULES:
        a.complete_module(uow, code, module.code, meta, clock)
    if path == S.ON_HOLD:
        a.put_on_hold(uow, code, Meta(ACTOR, "health reasons, back in spring"), clock)
