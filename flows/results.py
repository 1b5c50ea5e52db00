"""What ppflow's tasks hand back to their flows: small frozen dataclasses of codes, stages,
counts and other plain values, never personal data and never ORM objects.

They are defined here, at the edge between the use cases and Prefect, rather than taken
from ``ppflow.services``: what Prefect holds (and, where result persistence is turned on,
pickles into its result storage) is decided in one place, whatever a use case's own return
type grows to carry. Stages are plain strings here, not the domain's enumerations. Every
type pickles with cloudpickle, Prefect's default serializer."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class StageResult:
    """One move of an advisor, a team or an engagement (``replayed``: done before)."""

    code: str
    from_state: str | None
    to_state: str
    replayed: bool = False

    @classmethod
    def of(cls, change) -> StageResult:
        before = None if change.from_state is None else str(change.from_state)
        return cls(change.code, before, str(change.to_state), change.replayed)


@dataclass(frozen=True)
class AdvisorStanding:
    """Where an advisor stands: the stage, and the program they are in."""

    code: str
    stage: str
    program: str | None


@dataclass(frozen=True)
class Training:
    """An advisor's training after a completion report: the stage, the modules this
    report completed (a module completed before is not counted again), those left."""

    stage: str
    completed: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True)
class TeamStanding:
    code: str
    stage: str
    program: str | None
    active_advisors: int


@dataclass(frozen=True)
class ImportResult:
    """A CSV of referrals read: the codes made and the line numbers refused. The reasons
    stay out, since they can quote personal data (``ppflow advisor import`` shows them)."""

    rows: int
    imported: tuple[str, ...]
    bad_lines: tuple[int, ...]

    @classmethod
    def of(cls, report) -> ImportResult:
        return cls(report.rows, tuple(report.imported), tuple(sorted(report.bad_lines)))


@dataclass(frozen=True)
class Proposal:
    """A ready advisor proposed for a team, with the reasons for the score, the lived
    experience left unnamed (Prefect shows them; ``ppflow team show`` names it)."""

    advisor: str
    score: int
    reasons: tuple[str, ...]

    @classmethod
    def of(cls, match) -> Proposal:
        return cls(match.advisor, match.score, match.reasons_without_health_details)

    def explained(self) -> list[tuple[str, str]]:
        """Each part of the score as (points, sentence): ("+30", "Speaks the team's
        language (fr)."), ("+10", "Is in no other team yet.")."""
        parts = []
        for reason in self.reasons:
            points, _, why = reason.partition(" ")
            if not re.fullmatch(r"[+-]\d+", points):
                points, why = "", reason
            parts.append((points, why[:1].upper() + why[1:].rstrip(".") + "."))
        return parts


@dataclass(frozen=True)
class Placement:
    """A confirmed match: the engagement started, and the advisor's stage afterwards."""

    engagement: str
    advisor: str
    team: str
    advisor_stage: str
    warnings: tuple[str, ...] = ()
    replayed: bool = False

    @classmethod
    def of(cls, result) -> Placement:
        return cls(
            result.engagement,
            result.advisor,
            result.team,
            str(result.advisor_stage),
            tuple(result.warnings),
            result.replayed,
        )


@dataclass(frozen=True)
class FeedbackResult:
    """Questionnaires of one engagement: opened, answered, reminded so far, and (set by
    the flow) reminded in this run."""

    engagement: str
    opened: int
    answered: int
    reminded: int
    reminded_now: int = 0

    @classmethod
    def of(cls, status) -> FeedbackResult:
        return cls(status.engagement, status.opened, status.answered, status.reminded)


@dataclass(frozen=True)
class CriterionScore:
    name: str
    score: float | None  # None: not measured
    explanation: str


@dataclass(frozen=True)
class Evaluation:
    engagement: str
    advisor: str
    team: str
    score: float | None
    criteria: tuple[CriterionScore, ...]
    replayed: bool = False

    @classmethod
    def of(cls, report) -> Evaluation:
        criteria = tuple(
            CriterionScore(c["name"], c["score"], c["explanation"]) for c in report.criteria
        )
        return cls(
            report.engagement, report.advisor, report.team, report.score, criteria, report.replayed
        )


# ---------------------------------------------------------------- scheduled sweeps


@dataclass(frozen=True)
class OutboxPass:
    claimed: int
    sent: int
    retried: int
    failed: int
    dead: int

    @classmethod
    def of(cls, report) -> OutboxPass:
        return cls(report.claimed, report.sent, report.retried, report.failed, report.dead)

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}, sent {self.sent}, retried {self.retried}, "
            f"failed {self.failed}, dead {self.dead}"
        )


@dataclass(frozen=True)
class ReminderResult:
    cases: dict[str, int]  # kind of stalled case -> how many
    total: int
    digests: int  # digests queued, one per coordinator

    @classmethod
    def of(cls, report) -> ReminderResult:
        return cls(dict(report.cases), report.total, report.digests)


@dataclass(frozen=True)
class RetentionResult:
    erased: dict[str, int]  # final state -> people whose personal data was erased
    cancelled: int  # unsent e-mails to them

    @classmethod
    def of(cls, report) -> RetentionResult:
        return cls(dict(report.erased), report.cancelled)


@dataclass(frozen=True)
class IndicatorRow:
    """One line of the program's indicator table, as it is shown."""

    indicator: str
    value: str
    target: str
    version: str
    status: str  # met, not met, or empty without a target

    def cells(self) -> dict[str, str]:
        """The row of the table artifact, under its column titles."""
        return {
            "indicator": self.indicator,
            "value": self.value,
            "target": self.target,
            "target version": self.version,
            "status": self.status,
        }


@dataclass(frozen=True)
class ProgramIndicators:
    period: str
    rows: tuple[IndicatorRow, ...]
    funnel: dict[str, int]  # stage -> advisors, in the lifecycle's order
    notes: tuple[str, ...]
    values: dict[str, float | None]
    targets: dict[str, float]
    html: str  # where the report was written
    csv: str
