"""Matching ready advisors to a QI team, with a score a coordinator can read and argue with.

Out of 100: language 30, shared lived experience up to 40, availability up to 20, and
current load up to 10. Each part comes with the sentence that explains it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ppflow.domain.model import Advisor, QITeam

LANGUAGE_POINTS = 30
TAG_POINTS = 20
TAG_CAP = 40
AVAILABILITY_POINTS = 20
AVAILABILITY_FULL_HOURS = 8
LOAD_POINTS = {0: 10, 1: 5}


@dataclass(frozen=True)
class Match:
    advisor: str
    score: int
    reasons: tuple[str, ...]
    shared: tuple[str, ...] = ()  # the lived experience named in the reasons

    @property
    def reasons_without_health_details(self) -> tuple[str, ...]:
        """The reasons with the lived experience left unnamed ("shared lived experience in
        2 of the team's focus areas"), for Prefect, whose runs, artifacts and forms must
        carry no health detail; ppflow keeps the full reasons (``ppflow team show``)."""
        if not self.shared:
            return self.reasons
        named = f"shared lived experience: {', '.join(self.shared)}"
        unnamed = f"shared lived experience in {len(self.shared)} of the team's focus areas"
        return tuple(r.replace(named, unnamed) for r in self.reasons)


def score_match(advisor: Advisor, active_engagements: int, team: QITeam) -> Match:
    score = 0
    reasons: list[str] = []
    shared_languages = [lang for lang in team.languages if lang in advisor.languages]
    if not team.languages or shared_languages:
        score += LANGUAGE_POINTS
        spoken = ", ".join(shared_languages or advisor.languages)
        reasons.append(f"+{LANGUAGE_POINTS} speaks the team's language ({spoken})")
    else:
        reasons.append(f"+0 speaks none of the team's languages ({', '.join(team.languages)})")
    shared_tags = sorted(set(advisor.tags) & set(team.focus_tags))
    tag_points = min(TAG_CAP, TAG_POINTS * len(shared_tags))
    score += tag_points
    reasons.append(
        f"+{tag_points} shared lived experience: {', '.join(shared_tags)}"
        if shared_tags
        else "+0 no lived experience in the team's focus areas"
    )
    hours = max(0, advisor.availability_hours)
    availability = round(
        AVAILABILITY_POINTS * min(hours, AVAILABILITY_FULL_HOURS) / AVAILABILITY_FULL_HOURS
    )
    score += availability
    reasons.append(f"+{availability} offers {hours} h a month")
    load = LOAD_POINTS.get(active_engagements, 0)
    score += load
    if active_engagements == 0:
        reasons.append(f"+{load} is in no other team yet")
    else:
        plural = "s" if active_engagements > 1 else ""
        reasons.append(f"+{load} is already in {active_engagements} team{plural}")
    return Match(advisor.code, score, tuple(reasons), tuple(shared_tags))


def rank(candidates: list[tuple[Advisor, int]], team: QITeam, limit: int = 5) -> list[Match]:
    matches = [score_match(advisor, load, team) for advisor, load in candidates]
    return sorted(matches, key=lambda m: (-m.score, m.advisor))[:limit]
