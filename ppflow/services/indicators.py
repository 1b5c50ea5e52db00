"""Structural indicators for a period (seed table: "collect structural indicators on PP
activities"), compared with the program's targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Protocol


class IndicatorQueries(Protocol):
    def advisors_by_stage(self) -> dict[str, int]: ...
    def entered(self, stage: str, start: datetime, end: datetime) -> int: ...
    def teams_with_advisors(self) -> tuple[int, int, int]: ...
    def days_to_integration(self, start: datetime, end: datetime) -> list[float]: ...
    def feedback_scores(self, start: datetime, end: datetime) -> list[float]: ...
    def targets(self) -> dict[str, float]: ...


@dataclass
class Indicators:
    start: datetime
    end: datetime
    funnel: dict[str, int]
    values: dict[str, float | None] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)


def compute_indicators(queries: IndicatorQueries, start: datetime, end: datetime) -> Indicators:
    teams, with_one, with_two = queries.teams_with_advisors()
    days = queries.days_to_integration(start, end)
    scores = queries.feedback_scores(start, end)
    result = Indicators(start, end, queries.advisors_by_stage(), targets=queries.targets())
    result.values = {
        "new_referrals": queries.entered("identified", start, end),
        "advisors_integrated": queries.entered("active", start, end),
        "withdrawals": queries.entered("withdrawn", start, end),
        "teams": teams,
        "teams_with_advisors": with_one,
        "teams_with_two_advisors": with_two,
        "days_to_integration_median": round(median(days), 1) if days else None,
        "feedback_mean": round(sum(scores) / len(scores), 2) if scores else None,
    }
    return result
