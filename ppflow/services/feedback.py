"""Feedback hooks and formal evaluation of one engagement.

The questionnaires themselves and the answering portal are separate; this module opens
requests, records answers, reminds, and evaluates against explicit criteria."""

from __future__ import annotations

import calendar
import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from ppflow.domain.commands import Meta
from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.domain.evaluation import EvaluationInput, evaluate, overall
from ppflow.domain.lifecycle import EngagementFacts, EngagementStage
from ppflow.domain.model import Engagement, Evaluation, SurveyRequest, Transition
from ppflow.domain.surveys import FINAL_ROUND, due_round, months_between
from ppflow.services.meetings import attendance
from ppflow.services.moves import StageChange, apply_move, rebuild_after_replay, run_once
from ppflow.services.notifications import queue_notification
from ppflow.services.ports import Clock, UnitOfWork

ADVISOR_QUESTIONNAIRE = "partnership-experience-advisor"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
ANSWER_WITHIN = timedelta(days=14)
TEAM_QUESTIONNAIRE = "partnership-experience-team"


@dataclass(frozen=True)
class FeedbackStatus:
    engagement: str
    opened: int
    answered: int
    reminded: int


def _survey_context(request: SurveyRequest, team_name: str) -> dict:
    """The e-mail's context. It holds the survey's token, never its link: the link is a
    bearer credential, so it is signed when the e-mail is rendered (and expires
    ``link_days`` after that) and is never stored in the outbox."""
    due = (request.opened_at + ANSWER_WITHIN).date().isoformat()
    return {
        "survey": f"{request.engagement}/{request.round}",
        "survey_token": request.token,
        # The catalogue asks for the key; the renderer puts the link there from the token.
        "survey_url": None,
        "due_date": due,
        "team_name": team_name,
    }


def open_feedback(
    uow: UnitOfWork,
    engagement_code: str,
    meta: Meta,
    round: int = 1,
    *,
    clock: Clock,
    portal_url: str = DEFAULT_PORTAL_URL,
) -> FeedbackStatus:
    """Open the questionnaire for the advisor and the team lead; each gets a request
    e-mail with a personal link once, whatever the number of re-runs. (``portal_url`` is
    no longer read: the link is made when the e-mail is rendered, to PPFLOW_PORTAL_URL.)"""
    with uow:
        engagement = uow.engagements.get(engagement_code)
        if engagement.stage not in (EngagementStage.ACTIVE, EngagementStage.COMPLETED):
            raise InvalidInputError(
                f"engagement {engagement_code} is {engagement.stage}; feedback is asked "
                "of active or completed engagements"
            )
        _open_round(uow, engagement, round, clock.now())
        uow.commit()
    return feedback_status(uow, engagement_code)


def _respondents(uow: UnitOfWork, engagement: Engagement) -> list[tuple[str, str, str]]:
    """(kind, code, questionnaire) of who is asked about an engagement."""
    respondents = [("advisor", engagement.advisor, ADVISOR_QUESTIONNAIRE)]
    lead = uow.teams.get(engagement.team).lead
    if lead:
        respondents.append(("staff", lead, TEAM_QUESTIONNAIRE))
    return respondents


def _open_round(
    uow: UnitOfWork,
    engagement: Engagement,
    round: int,
    now: datetime,
    answered_by: frozenset[str] = frozenset(),
) -> None:
    """Inside an open unit of work: open the round for each respondent, each asked by
    e-mail once, except those whose answers are being entered (``answered_by``)."""
    team_name = uow.teams.get(engagement.team).name
    for kind, code, questionnaire in _respondents(uow, engagement):
        request = SurveyRequest(
            engagement.code, kind, code, round, questionnaire, secrets.token_urlsafe(24), now
        )
        if uow.surveys.open(request) and code not in answered_by:
            queue_notification(
                uow,
                template="survey_request",
                recipient_kind=kind,
                recipient_code=code,
                context=_survey_context(request, team_name),
                idempotency_key=f"survey_request:{engagement.code}:{code}:{round}",
                at=now,
            )


def open_due_round(
    uow: UnitOfWork,
    engagement_code: str,
    respondent: str,
    now: datetime,
    answered_by: frozenset[str] = frozenset(),
) -> int:
    """Inside an open unit of work, for answers collected on paper: open the round due for
    the engagement (as ``open-due-surveys`` would: three months after its start, then
    every six months; the final round once it is completed) and return it. Refused for an
    unknown engagement, one neither active nor completed, a respondent not asked about it,
    or when no round is due yet."""
    engagement = uow.engagements.get(engagement_code)  # "no engagement 'EN-…'"
    if engagement.stage not in (EngagementStage.ACTIVE, EngagementStage.COMPLETED):
        raise InvalidInputError(
            f"engagement {engagement_code} is {engagement.stage}; feedback is asked "
            "of active or completed engagements"
        )
    if respondent not in {code for _, code, _ in _respondents(uow, engagement)}:
        raise NotFoundError(f"questionnaire for {respondent} on engagement", engagement_code)
    if engagement.stage == EngagementStage.COMPLETED:
        round = FINAL_ROUND
    else:
        start = engagement.start_date or now.date()
        round = due_round(months_between(start, now.date()))
        if round == 0:
            first = _months_after(start, 3)
            raise InvalidInputError(
                f"no questionnaire is due yet on {engagement_code}: the first round is due "
                f"three months after its start, on {first.isoformat()}"
            )
    _open_round(uow, engagement, round, now, answered_by | {respondent})
    return round


def _months_after(day: date, months: int) -> date:
    """The first day that is ``months`` whole months after ``day`` (as the sweep counts
    them: 31 January plus one month is 1 March)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    if day.day <= calendar.monthrange(year, month)[1]:
        return date(year, month, day.day)
    return date(year + month // 12, month % 12 + 1, 1)


def feedback_status(uow: UnitOfWork, engagement_code: str) -> FeedbackStatus:
    with uow:
        requests = uow.surveys.for_engagement(engagement_code)
    return FeedbackStatus(
        engagement_code,
        opened=len(requests),
        answered=sum(1 for r in requests if r.answered_at),
        reminded=sum(1 for r in requests if r.reminders),
    )


def remind_feedback(
    uow: UnitOfWork,
    engagement_code: str,
    after: timedelta,
    clock: Clock,
    portal_url: str = DEFAULT_PORTAL_URL,
) -> int:
    """Remind respondents who have not answered within ``after``; once per period. Each
    reminder's link is signed when it is rendered, so it is fresh (``portal_url`` is no
    longer read)."""
    reminded = 0
    with uow:
        now = clock.now()
        team_name = uow.teams.get(uow.engagements.get(engagement_code).team).name
        for request in uow.surveys.for_engagement(engagement_code):
            last = request.reminded_at or request.opened_at
            if request.answered_at or now - last < after:
                continue
            uow.surveys.mark_reminded(request.token, now)
            queue_notification(
                uow,
                template="survey_request",
                recipient_kind=request.respondent_kind,
                recipient_code=request.respondent,
                context=_survey_context(request, team_name),
                idempotency_key=(
                    f"survey_reminder:{engagement_code}:{request.respondent}:"
                    f"{request.round}:{request.reminders + 1}"
                ),
                at=now,
            )
            reminded += 1
        uow.commit()
    return reminded


@dataclass(frozen=True)
class EvaluationReport:
    engagement: str
    advisor: str
    team: str
    score: float | None
    criteria: tuple[dict, ...]
    notes: str
    replayed: bool = False
    moves: tuple[Transition, ...] = ()  # the transition it made (none when replayed)


def evaluate_engagement(
    uow: UnitOfWork, engagement_code: str, meta: Meta, notes: str = "", *, clock: Clock
) -> EvaluationReport:
    """Score a completed engagement against the criteria, record the evaluation, and move
    the engagement to evaluated. Evaluating it again returns the first evaluation."""

    def work(uow: UnitOfWork, now: datetime) -> EvaluationReport:
        engagement = uow.engagements.get(engagement_code)
        existing = uow.evaluations.get(engagement_code)
        if existing is not None:
            return EvaluationReport(
                engagement_code,
                engagement.advisor,
                engagement.team,
                existing.score,
                tuple(existing.criteria),
                existing.notes,
                replayed=True,
            )
        team = uow.teams.get(engagement.team)
        on_team = {
            e.advisor
            for e in uow.engagements.for_team(team.code)
            if e.stage
            in (EngagementStage.ACTIVE, EngagementStage.COMPLETED, EngagementStage.EVALUATED)
        }
        required = {m.code for m in uow.training.list(required_only=True)}
        done = {r.module for r in uow.advisors.training(engagement.advisor) if r.completed_at}
        scores = tuple(
            r.score for r in uow.surveys.for_engagement(engagement_code) if r.score is not None
        )
        held, attended = attendance(uow, engagement, until=now.date())
        criteria = evaluate(
            EvaluationInput(
                joined_at=engagement.joined_at,
                objectives_set_at=team.objectives_set_at,
                advisors_on_team=len(on_team),
                min_advisors=team.rules.min_advisors,
                required_modules=len(required),
                completed_modules=len(required & done),
                meetings_held=held,
                meetings_attended=attended,
                feedback_scores=scores,
            )
        )
        rows = [asdict(c) for c in criteria]
        score = overall(criteria)
        uow.evaluations.add(Evaluation(engagement_code, rows, score, notes, now, meta.actor))
        facts = EngagementFacts(evaluation_recorded=True)
        change = apply_move(uow, engagement, EngagementStage.EVALUATED, facts, meta, now)[0]
        return EvaluationReport(
            engagement_code,
            engagement.advisor,
            engagement.team,
            score,
            tuple(rows),
            notes,
            moves=change.moves,
        )

    def replayed(_change: StageChange) -> EvaluationReport:  # the evaluation it recorded
        with uow:
            existing = uow.evaluations.get(engagement_code)
            engagement = uow.engagements.get(engagement_code)
        assert existing is not None  # the replayed move was recorded with its evaluation
        return EvaluationReport(
            engagement_code,
            engagement.advisor,
            engagement.team,
            existing.score,
            tuple(existing.criteria),
            existing.notes,
            True,
        )

    return rebuild_after_replay(run_once(uow, meta, clock, work), replayed)
