"""The demonstration, as one use case (:func:`run_demo`) that ``ppflow demo`` calls for a
quick look and the flows' demo calls with its onboarding through Prefect.

The quick look seeds a small program (staff, teams, training modules) and walks a pool of
advisors to every early stage through the real use cases, so the transition log is real
too. The main job seeds the same program, then a cohort of referrals is onboarded by the
flows while :class:`ScriptedCoordinator` gives the answers the runs wait on, following
the cohort's script: some join a team, one declines, one is not retained and one
withdraws part-way. The e-mails queued are then delivered."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from ppflow.domain.commands import (
    AddProgram,
    AddStaff,
    AddTeam,
    Meta,
    RegisterReferral,
    ScreeningOutcome,
    TargetSpec,
)
from ppflow.domain.errors import PPFlowError
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


# ------------------------------------------------------------------ the main job

COORDINATOR = "demo:coordinator"

# The cohort onboarded through the flows. Fictional people; example.org addresses deliver
# nowhere but the local mail sink.
COHORT = [
    ("Marie", "Lavoie", "fr", "fr", "cancer;caregiver", 8),
    ("Luc", "Morin", "fr", "fr;en", "mental-health", 6),
    ("Aisha", "Khan", "en", "en;fr", "mental-health;youth", 4),
    ("Pierre", "Girard", "fr", "fr", "cancer", 10),
    ("Nadia", "Bélanger", "fr", "fr", "mental-health;youth", 5),
    ("Tom", "Wilson", "en", "en", "cardiac", 3),
    ("Sophie", "Fortin", "fr", "fr", "maternity", 6),
    ("Ken", "Ito", "en", "en;fr", "chronic-pain", 6),
]
# what each person of the cohort does, in order
SCRIPT = ["joins", "joins", "joins", "joins", "joins", "declines", "not_retained", "withdraws"]
HOURLY_RATE = 25.0  # dollars an hour, for each advisor placed
COHORT_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "language",
    "languages",
    "tags",
    "availability_hours",
    "referred_by",
    "program",
)


class DemoAlreadyRunError(PPFlowError):
    """The cohort is in the database already: the demonstration starts afresh with
    ``ppflow demo --reset``."""


def cohort_email(n: int, first: str, last: str) -> str:
    """The made-up address of the ``n``-th person of the cohort."""
    return f"{first.lower()}.{last.lower()}.cohort{n}@example.org".replace("é", "e")


def cohort_csv(referrer: str) -> bytes:
    """The cohort as the referrals CSV that the ``identify-advisors`` flow imports."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COHORT_COLUMNS)
    for n, (first, last, lang, spoken, tags, hours) in enumerate(COHORT):
        email = cohort_email(n, first, last)
        writer.writerow([first, last, email, lang, spoken, tags, hours, referrer, DEMO_PROGRAM])
    return text.getvalue().encode("utf-8")


class ScriptedCoordinator:
    """The coordinator of the main job: once told the codes the cohort was given, says
    which team each joining advisor aims at and what to answer to each question a run
    waits on, following the cohort's script."""

    def __init__(self, uow: UnitOfWork, clock: Clock, structure: dict[str, str]):
        self.uow, self.clock, self.structure = uow, clock, structure
        self.plan: dict[str, str] = {}
        self.modules = [m.code for m in MODULES if m.required]
        self.withdrawn: set[str] = set()

    def cast(self, advisors: list[str]) -> None:
        """The cohort's codes, in the order of the CSV: each gets their part."""
        self.plan = dict(zip(advisors, SCRIPT, strict=True))

    def team_for(self, advisor: str) -> str | None:
        """The QI team a joining advisor's onboarding aims at: two join the first team,
        the others the second; None for those who will not join."""
        joining = [code for code, part in self.plan.items() if part == "joins"]
        if advisor not in joining:
            return None
        return self.structure["team1" if joining.index(advisor) < 2 else "team2"]

    def answer(self, question: str, subject: str, proposed: str | None = None) -> dict | None:
        """The answer to ``question`` (screening, training or match) about ``subject`` (an
        advisor, or the team for a match; ``proposed``, the advisor its run was started
        for), or None for a question the script does not know. The advisor who withdraws
        does so when asked about their training: that answer then applies no more."""
        part = self.plan.get(subject, "joins")
        if question == "screening":
            outcome = {"declines": "declined", "not_retained": "not_retained"}.get(part, "retained")
            reason = "availability too limited" if outcome == "not_retained" else ""
            return {"outcome": outcome, "reason": reason}
        if question == "training":
            if part == "withdraws" and subject not in self.withdrawn:
                a.withdraw_advisor(
                    self.uow, subject, Meta(COORDINATOR, "personal reasons"), self.clock
                )
                self.withdrawn.add(subject)
            return {"modules": self.modules}
        if question == "match":
            return {"advisor": proposed, "hourly_rate": HOURLY_RATE}
        return None


@dataclass
class DemoRun:
    """What the demonstration did. The quick look: whether it seeded the program
    (``seeded``). The main job: the cohort's codes, how many are now at each stage, and
    the e-mails delivered."""

    seeded: bool = False
    advisors: list[str] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    sent: int = 0


# The flows' part of the main job: identify the cohort from its referrals CSV and onboard
# each advisor, the coordinator answering; returns the cohort's codes, in the CSV's order.
Onboarding = Callable[[bytes, ScriptedCoordinator], list[str]]


def run_demo(
    uow: UnitOfWork,
    clock: Clock,
    onboard: Onboarding | None = None,
    deliver: Callable[[], int] | None = None,
) -> DemoRun:
    """The demonstration. Without ``onboard``, the quick look (:func:`seed`), once. With
    it, the main job: the program seeded (or found), the cohort onboarded by ``onboard``,
    then the queued e-mails delivered by ``deliver`` (which returns how many it sent).
    Raises DemoAlreadyRunError, changing nothing, when the cohort is there already."""
    if onboard is None:
        return DemoRun(seeded=seed(uow, clock))
    structure = seed_structure(uow, clock) or existing_structure(uow) or {}
    with uow:
        if uow.advisors.find_by_email_or_phone([cohort_email(0, *COHORT[0][:2])], []):
            raise DemoAlreadyRunError("the demonstration cohort is already there; use --reset")
    coordinator = ScriptedCoordinator(uow, clock, structure)
    run = DemoRun(advisors=onboard(cohort_csv(structure["provider"]), coordinator))
    with uow:
        for code in run.advisors:
            stage = uow.advisors.get(code).stage
            run.stages[stage] = run.stages.get(stage, 0) + 1
    run.sent = deliver() if deliver else 0
    return run
