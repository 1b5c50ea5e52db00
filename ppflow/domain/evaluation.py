"""Formal evaluation of one engagement against explicit criteria (seed table, mid level:
"formally evaluate the PA integration process"). Each criterion is scored 0 to 1 and
explained; a criterion without data says so instead of guessing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Criterion:
    name: str
    score: float | None  # None: not measured
    explanation: str


@dataclass(frozen=True)
class EvaluationInput:
    joined_at: datetime | None
    objectives_set_at: datetime | None
    advisors_on_team: int
    min_advisors: int
    required_modules: int
    completed_modules: int
    meetings_held: int | None
    meetings_attended: int | None
    feedback_scores: tuple[float, ...]  # each on a 1-5 agreement scale


def evaluate(data: EvaluationInput) -> list[Criterion]:
    criteria = []
    if data.objectives_set_at is None:
        criteria.append(
            Criterion(
                "involved_from_start", 1.0, "objectives not yet set: the advisor will take part"
            )
        )
    elif data.joined_at is not None and data.joined_at <= data.objectives_set_at:
        criteria.append(
            Criterion("involved_from_start", 1.0, "joined before the objectives were set")
        )
    else:
        criteria.append(
            Criterion("involved_from_start", 0.0, "objectives were set before the advisor joined")
        )
    enough = data.advisors_on_team >= data.min_advisors
    criteria.append(
        Criterion(
            "at_least_two_advisors",
            1.0 if enough else 0.0,
            f"{data.advisors_on_team} advisor(s) on the team; "
            f"the rule asks for {data.min_advisors}",
        )
    )
    if data.meetings_held:
        attended = data.meetings_attended or 0
        criteria.append(
            Criterion(
                "attendance",
                round(attended / data.meetings_held, 2),
                f"attended {attended} of {data.meetings_held} meetings",
            )
        )
    else:
        criteria.append(Criterion("attendance", None, "no meetings recorded"))
    if data.required_modules:
        criteria.append(
            Criterion(
                "training_completed",
                round(data.completed_modules / data.required_modules, 2),
                f"{data.completed_modules} of {data.required_modules} required modules completed",
            )
        )
    else:
        criteria.append(Criterion("training_completed", 1.0, "no required modules"))
    if data.feedback_scores:
        mean = sum(data.feedback_scores) / len(data.feedback_scores)
        criteria.append(
            Criterion(
                "feedback",
                round((mean - 1) / 4, 2),
                f"mean agreement {mean:.1f}/5 over {len(data.feedback_scores)} response(s)",
            )
        )
    else:
        criteria.append(Criterion("feedback", None, "no feedback received"))
    return criteria


def overall(criteria: list[Criterion]) -> float | None:
    measured = [c.score for c in criteria if c.score is not None]
    return round(sum(measured) / len(measured), 2) if measured else None
