"""Use cases of integration into a QI team: briefing the team, proposing matches,
confirming one (engagement, introductions, participation rules), objectives, and the end
of an engagement. Each writes its changes, transitions and notifications in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from ppflow.domain.commands import ChangeAdvisorStage, Meta, RecordMeeting
from ppflow.domain.errors import InvalidInputError
from ppflow.domain.lifecycle import (
    AdvisorStage,
    EngagementFacts,
    EngagementStage,
    TeamFacts,
    TeamStage,
)
from ppflow.domain.matching import Match, rank
from ppflow.domain.model import Engagement, QITeam, Transition, new_code
from ppflow.services.advisors import move_advisor
from ppflow.services.meetings import record_meeting
from ppflow.services.moves import (
    StageChange,
    apply_move,
    carrying,
    log_start,
    rebuild_after_replay,
    run_once,
)
from ppflow.services.notifications import queue_notification
from ppflow.services.ports import AdvisorFilter, Clock, UnitOfWork


@dataclass(frozen=True)
class Integration:
    """What confirming a match changed, in plain values for a flow to report, and
    ``moves``, the transitions it made (none when replayed), which carry their reason."""

    engagement: str
    advisor: str
    team: str
    advisor_stage: str
    warnings: tuple[str, ...] = field(default=())
    replayed: bool = False
    moves: tuple[Transition, ...] = ()


def _suffixed(meta: Meta, suffix: str) -> Meta:
    """The same request under its own key, for a second transition one use case writes."""
    return replace(meta, request_id=f"{meta.request_id}{suffix}" if meta.request_id else None)


def _queue(
    uow: UnitOfWork,
    template: str,
    kind: str,
    code: str,
    context: dict,
    key: str,
    now: datetime,
    transition_id: int | None,
) -> None:
    queue_notification(
        uow,
        template=template,
        recipient_kind=kind,
        recipient_code=code,
        context=context,
        idempotency_key=key,
        at=now,
        transition_id=transition_id,
    )


def brief_team(uow: UnitOfWork, team_code: str, meta: Meta, clock: Clock) -> StageChange:
    """The team lead receives the patient-partnership method documents, and the team,
    now briefed, moves from forming to active. Briefing a team twice changes nothing."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        team = uow.teams.get(team_code)
        if team.stage != TeamStage.FORMING:
            return StageChange(team.code, team.stage, team.stage, now, replayed=True)
        if team.lead is None:
            raise InvalidInputError(f"team {team.code} has no lead to receive the briefing")
        team.briefed_at = now
        change, transition_id = apply_move(
            uow, team, TeamStage.ACTIVE, TeamFacts(briefed=True), meta, now
        )
        _queue(
            uow,
            "team_briefing",
            "staff",
            team.lead,
            {"team": team.code, "team_name": team.name, "lead": team.lead},
            f"team_briefing:{team.code}",
            now,
            transition_id,
        )
        return change

    return run_once(uow, meta, clock, work)


def propose_matches(
    uow: UnitOfWork,
    team_code: str,
    limit: int = 5,
    *,
    clock: Clock,
    wanted: str | None = None,
) -> list[Match]:
    """The best-matching ready advisors for a team, each score explained; they are kept
    as the team's last proposals (``ppflow team show``), replacing the ones before.
    With ``wanted`` (the onboarding was started for that advisor), that advisor comes
    first whatever the score, when ready, and the others follow as alternatives."""
    with uow:
        team = uow.teams.get(team_code)
        engaged = {
            e.advisor
            for e in uow.engagements.for_team(team_code)
            if e.stage in (EngagementStage.PROPOSED, EngagementStage.ACTIVE)
        }
        pool = uow.advisors.list(AdvisorFilter(stage=AdvisorStage.READY))
        candidates = [
            (p.advisor, p.active_engagements) for p in pool if p.advisor.code not in engaged
        ]
        matches = rank(candidates, team, len(candidates) if wanted else limit)
        if wanted:
            first = [m for m in matches if m.advisor == wanted]
            matches = first + [m for m in matches if m.advisor != wanted][: limit - len(first)]
        uow.teams.record_proposals(team_code, matches, clock.now())
        uow.commit()
        return matches


def _check_placement(uow: UnitOfWork, team_code: str, advisor_code: str) -> tuple[QITeam, int]:
    """The team can take this advisor now (the team's own rule, see
    :meth:`QITeam.check_placement`). Returns the team and how many advisors it has now."""
    team = uow.teams.get(team_code)
    on_team = [
        e.advisor for e in uow.engagements.for_team(team_code) if e.stage == EngagementStage.ACTIVE
    ]
    team.check_placement(advisor_code, on_team)
    return team, len(on_team)


def check_match(uow: UnitOfWork, team_code: str, advisor_code: str) -> None:
    """Whether confirming ``advisor_code`` for ``team_code`` would succeed now: the advisor
    exists and is ready, and the team is active with a free seat. Raises
    :class:`InvalidInputError` (or :class:`NotFoundError`) naming what does not fit."""
    with uow:
        advisor = uow.advisors.get(advisor_code)
        if advisor.stage != AdvisorStage.READY:
            raise InvalidInputError(
                f"advisor {advisor_code} is '{advisor.stage}', not 'ready': "
                "only a ready advisor can join a team"
            )
        _check_placement(uow, team_code, advisor_code)


def confirm_match(
    uow: UnitOfWork,
    team_code: str,
    advisor_code: str,
    meta: Meta,
    role: str = "member",
    start_date: date | None = None,
    hourly_rate: float | None = None,
    *,
    clock: Clock,
) -> Integration:
    """A coordinator confirmed the match: the engagement starts, the advisor becomes
    active, advisor and team lead are introduced, and the team's rules are checked."""

    def work(uow: UnitOfWork, now: datetime) -> Integration:
        team, on_team = _check_placement(uow, team_code, advisor_code)
        consents = uow.advisors.consents(advisor_code)
        engagement = Engagement(
            code=new_code("EN"),
            advisor=advisor_code,
            team=team_code,
            role=role,
            start_date=start_date or now.date(),
            hourly_rate=hourly_rate,
            joined_at=now,
        )
        uow.engagements.add(engagement)
        proposed = log_start(uow, engagement, _suffixed(meta, ":proposed"), now)[0]
        facts = EngagementFacts(
            confirmed=True,
            consent_valid=any(c.purpose == "participation" and c.valid_at(now) for c in consents),
        )
        active = apply_move(
            uow, engagement, EngagementStage.ACTIVE, facts, _suffixed(meta, ":active"), now
        )[0]
        cmd = ChangeAdvisorStage(advisor_code, AdvisorStage.ACTIVE, meta=meta)
        change, transition_id = move_advisor(uow, cmd, now)
        moves = carrying(change, [proposed, active, change]).moves
        context = {
            "advisor": advisor_code,
            "team": team.code,
            "team_name": team.name,
            "lead": team.lead or "",
            "engagement": engagement.code,
        }
        _queue(
            uow,
            "introduction_advisor",
            "advisor",
            advisor_code,
            context,
            f"introduction_advisor:{engagement.code}",
            now,
            transition_id,
        )
        if team.lead:
            _queue(
                uow,
                "introduction_lead",
                "staff",
                team.lead,
                context,
                f"introduction_lead:{engagement.code}",
                now,
                transition_id,
            )
        warnings = team.participation_warnings(on_team + 1, now)
        return Integration(
            engagement.code,
            advisor_code,
            team.code,
            change.to_state,
            tuple(warnings),
            moves=moves,
        )

    def replayed(change: StageChange) -> Integration:  # report the engagement it made
        with uow:
            found = [e for e in uow.engagements.for_advisor(advisor_code) if e.team == team_code]
        return Integration(
            found[-1].code if found else "", advisor_code, team_code, change.to_state, replayed=True
        )

    return rebuild_after_replay(run_once(uow, meta, clock, work), replayed)


def record_objectives(
    uow: UnitOfWork,
    team_code: str,
    meta: Meta,
    clock: Clock,
    present: tuple[str, ...] | None = None,
    absent: tuple[str, ...] | None = None,
) -> list[str]:
    """The objective-setting meeting happened today: it is recorded as a team meeting
    flagged as setting the objectives, with its roll call (without one, every advisor on
    the team was there); returns the advisors who were present."""
    cmd = RecordMeeting(team_code, clock.now().date(), present, absent, True, meta)
    return list(record_meeting(uow, cmd, clock).present)


def end_engagement(
    uow: UnitOfWork,
    engagement_code: str,
    meta: Meta,
    early: bool = False,
    *,
    clock: Clock,
) -> StageChange:
    """Complete an engagement (or end it early, with a reason). The advisor is thanked and,
    with no other active engagement, is ready for another team."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        engagement = uow.engagements.get(engagement_code)
        target = EngagementStage.ENDED_EARLY if early else EngagementStage.COMPLETED
        facts = EngagementFacts(reason=meta.reason)
        change, transition_id = apply_move(uow, engagement, target, facts, meta, now)
        advisor = uow.advisors.get(engagement.advisor)
        still_active = [
            e
            for e in uow.engagements.for_advisor(advisor.code)
            if e.stage == EngagementStage.ACTIVE
        ]
        made = [change]
        if advisor.stage == AdvisorStage.ACTIVE and not still_active:
            ready, _ = move_advisor(
                uow,
                ChangeAdvisorStage(
                    advisor.code,
                    AdvisorStage.READY,
                    available=True,
                    meta=Meta(meta.actor, "engagement ended", None, meta.flow_run_id),
                ),
                now,
            )
            made.append(ready)
        _queue(
            uow,
            "engagement_thank_you",
            "advisor",
            advisor.code,
            {
                "advisor": advisor.code,
                "team": engagement.team,
                "team_name": uow.teams.get(engagement.team).name,
                "engagement": engagement.code,
            },
            f"engagement_thank_you:{engagement.code}",
            now,
            transition_id,
        )
        return carrying(change, made)

    return run_once(uow, meta, clock, work)
