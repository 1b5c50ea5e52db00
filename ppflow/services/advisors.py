"""Use cases of the advisor lifecycle: referral, invitation, screening, preparation, hold,
withdrawal. Each writes its state change, its Transition row and the notifications it
causes in one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property

from ppflow.domain.commands import (
    ChangeAdvisorStage,
    Meta,
    RecordConsent,
    RegisterReferral,
    ScreeningOutcome,
)
from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.domain.lifecycle import (
    AdvisorFacts,
    AdvisorStage,
    EngagementFacts,
    EngagementStage,
)
from ppflow.domain.model import (
    Advisor,
    Consent,
    StaffRole,
    Transition,
    new_code,
)
from ppflow.services.moves import StageChange, apply_move, carrying, log_start, run_once
from ppflow.services.notifications import queue_notification
from ppflow.services.ports import Clock, UnitOfWork

__all__ = ["StageChange", "run_once"]  # the move mechanism, as the flows and the CLI use it

PARTICIPATION = "participation"
CONFIDENTIALITY = "confidentiality"


class _Facts:
    """The facts about one advisor that a move's guards read, each looked up in the
    database only when a guard asks for it: putting an advisor on hold needs a reason, not
    their training record. Reads like :class:`lifecycle.AdvisorFacts`."""

    def __init__(self, uow: UnitOfWork, advisor: Advisor, cmd: ChangeAdvisorStage, now: datetime):
        self._uow, self._advisor, self._now = uow, advisor, now
        self.said_yes = cmd.said_yes
        self.said_no_or_no_answer = cmd.said_no_or_no_answer
        self.available = cmd.available
        self.leaving = cmd.leaving
        self.held_from = advisor.held_from
        self.reason = cmd.meta.reason

    @cached_property
    def _consents(self) -> list[Consent]:
        return self._uow.advisors.consents(self._advisor.code)

    @cached_property
    def _valid_purposes(self) -> set[str]:
        return {c.purpose for c in self._consents if c.valid_at(self._now)}

    @cached_property
    def _training(self) -> tuple[set[str], dict]:
        required = {m.code for m in self._uow.training.list(required_only=True)}
        return required, {r.module: r for r in self._uow.advisors.training(self._advisor.code)}

    @cached_property
    def _active_engagement(self) -> bool:
        engagements = self._uow.engagements.for_advisor(self._advisor.code)
        return any(e.stage == EngagementStage.ACTIVE for e in engagements)

    @property
    def contact_held(self) -> bool:
        return not self._uow.advisors.contact(self._advisor.code).erased

    @property
    def invitation_queued(self) -> bool:
        return "invitation" in self._uow.notifications.templates_for(self._advisor.code)

    @property
    def consent_recorded(self) -> bool:
        return PARTICIPATION in self._valid_purposes

    @property
    def confidentiality_signed(self) -> bool:
        return CONFIDENTIALITY in self._valid_purposes

    @property
    def consent_withdrawn(self) -> bool:
        return any(c.withdrawn_at is not None for c in self._consents)

    @property
    def modules_enrolled(self) -> bool:
        required, records = self._training
        return required <= records.keys()

    @property
    def modules_complete(self) -> bool:
        required, records = self._training
        return all(m in records and records[m].completed_at is not None for m in required)

    @property
    def engagement_started(self) -> bool:
        return self._active_engagement

    @property
    def no_active_engagement(self) -> bool:
        return not self._active_engagement


def move_advisor(
    uow: UnitOfWork, cmd: ChangeAdvisorStage, now: datetime
) -> tuple[StageChange, int]:
    """Check and apply one move inside an open unit of work. Returns the change and the id
    of its Transition row (for notifications caused by it)."""
    advisor = uow.advisors.get(cmd.advisor)
    facts = _Facts(uow, advisor, cmd, now)
    return apply_move(uow, advisor, cmd.target, facts, cmd.meta, now)


def _run_move(
    uow: UnitOfWork, cmd: ChangeAdvisorStage, clock: Clock, before_move=None, after_move=None
) -> StageChange:
    """A use case made of an optional preparation (which returns the changes it made, if
    any), the move, and the rows it causes. Returns the move, carrying every move made."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        made = (before_move(uow, now) if before_move else None) or []
        change, transition_id = move_advisor(uow, cmd, now)
        if after_move:
            after_move(uow, change, transition_id, now)
        return carrying(change, [*made, change])

    return run_once(uow, cmd.meta, clock, work)


def change_advisor_stage(uow: UnitOfWork, cmd: ChangeAdvisorStage, clock: Clock) -> StageChange:
    """The general move, for coordinators: the guards decide whether it may happen."""
    return _run_move(uow, cmd, clock)


# ------------------------------------------------------------------ referral intake


def _new_advisor_code(uow: UnitOfWork) -> str:
    while True:
        code = new_code("PA")
        if not uow.advisors.exists(code):
            return code


def add_referral(uow: UnitOfWork, cmd: RegisterReferral, now: datetime) -> StageChange:
    """Register one referral inside an open unit of work (used one at a time and by CSV)."""
    problems = cmd.problems()
    if problems:
        raise InvalidInputError("; ".join(problems))
    key = cmd.referred_by.strip()
    known = uow.staff.known([key])
    referrer = known.get(key) or known.get(key.lower())
    if referrer is None:
        raise NotFoundError("staff member (referrer)", cmd.referred_by)
    code = _new_advisor_code(uow)
    advisor, contact = cmd.advisor(code, now), cmd.contact()
    uow.advisors.add(advisor, contact)  # refused with the existing code if already there
    uow.advisors.add_referral(code, referrer, now, cmd.source)
    meta = replace(cmd.meta, reason=cmd.meta.reason or f"referred by {referrer}")
    change, transition_id = log_start(uow, advisor, meta, now)
    queue_notification(
        uow,
        template="referral_acknowledgement",
        recipient_kind="staff",
        recipient_code=referrer,
        context={"advisor": code, "referrer": referrer},
        idempotency_key=f"referral_acknowledgement:{code}",
        at=now,
        transition_id=transition_id,
    )
    for coordinator in uow.staff.list(role=StaffRole.COORDINATOR):
        queue_notification(
            uow,
            template="referral_received",
            recipient_kind="staff",
            recipient_code=coordinator.code,
            context={"advisor": code, "referrer": referrer},
            idempotency_key=f"referral_received:{code}:{coordinator.code}",
            at=now,
            transition_id=transition_id,
        )
    return change


def register_referral(uow: UnitOfWork, cmd: RegisterReferral, clock: Clock) -> StageChange:
    return run_once(uow, cmd.meta, clock, lambda uow, now: add_referral(uow, cmd, now))


# ---------------------------------------------------------------- recruitment steps


def invite_advisor(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock) -> StageChange:
    """Queue the invitation and record identified -> invited, in one transaction."""

    def queue_invitation(uow: UnitOfWork, now: datetime) -> None:
        queue_notification(
            uow,
            template="invitation",
            recipient_kind="advisor",
            recipient_code=advisor,
            context={"advisor": advisor},
            idempotency_key=f"invitation:{advisor}",
            at=now,
            transition_id=None,
        )

    def link_invitation(
        uow: UnitOfWork, change: StageChange, transition_id: int, now: datetime
    ) -> None:
        uow.notifications.link(f"invitation:{advisor}", transition_id)

    cmd = ChangeAdvisorStage(advisor, AdvisorStage.INVITED, meta=meta)
    return _run_move(uow, cmd, clock, before_move=queue_invitation, after_move=link_invitation)


def record_invitation_answer(
    uow: UnitOfWork, advisor: str, accepted: bool, meta: Meta, clock: Clock
) -> StageChange:
    """The person said yes (-> screening), or no / nothing after the reminders (-> declined)."""
    cmd = ChangeAdvisorStage(
        advisor,
        AdvisorStage.SCREENING if accepted else AdvisorStage.DECLINED,
        said_yes=accepted,
        said_no_or_no_answer=not accepted,
        meta=meta,
    )
    return _run_move(uow, cmd, clock)


def _consent(cmd: RecordConsent, now: datetime) -> Consent:
    expires = now + timedelta(days=cmd.valid_days) if cmd.valid_days else None
    return Consent(cmd.purpose, cmd.wording_version, now, expires)


def _record_consents(uow: UnitOfWork, advisor: str, wording_version: str, now: datetime) -> None:
    """Retained after screening: the participation consent and the confidentiality
    agreement go into the ledger."""
    for purpose in (PARTICIPATION, CONFIDENTIALITY):
        uow.advisors.add_consent(
            advisor, _consent(RecordConsent(advisor, purpose, wording_version), now)
        )


def apply_screening_outcome(
    uow: UnitOfWork,
    advisor: str,
    outcome: str,
    meta: Meta,
    wording_version: str = "v1",
    *,
    clock: Clock,
) -> StageChange:
    """The whole answer to a screening question, in one transaction: ``declined`` (the
    person said no), ``not_retained`` (reason required) or ``retained`` (consent and
    confidentiality recorded, welcome queued). An invited advisor passes through screening."""
    outcome = ScreeningOutcome.parse(outcome)

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        if outcome == ScreeningOutcome.DECLINED:
            cmd = ChangeAdvisorStage(
                advisor, AdvisorStage.DECLINED, said_no_or_no_answer=True, meta=meta
            )
            return move_advisor(uow, cmd, now)[0]
        made: list[StageChange] = []
        if uow.advisors.get(advisor).stage == AdvisorStage.INVITED:
            said_yes = Meta(meta.actor, None, None, meta.flow_run_id)
            cmd = ChangeAdvisorStage(advisor, AdvisorStage.SCREENING, said_yes=True, meta=said_yes)
            made.append(move_advisor(uow, cmd, now)[0])
        if outcome == ScreeningOutcome.NOT_RETAINED:
            cmd = ChangeAdvisorStage(advisor, AdvisorStage.NOT_RETAINED, meta=meta)
            change = move_advisor(uow, cmd, now)[0]
            return carrying(change, [*made, change])
        _record_consents(uow, advisor, wording_version, now)
        cmd = ChangeAdvisorStage(advisor, AdvisorStage.RECRUITED, meta=meta)
        change, transition_id = move_advisor(uow, cmd, now)
        _queue_welcome(uow, advisor, transition_id, now)
        return carrying(change, [*made, change])

    return run_once(uow, meta, clock, work)


def _queue_welcome(uow: UnitOfWork, advisor: str, transition_id: int, now: datetime) -> None:
    modules = [{"code": m.code, "title": m.title} for m in uow.training.list(required_only=True)]
    queue_notification(
        uow,
        template="welcome",
        recipient_kind="advisor",
        recipient_code=advisor,
        context={"advisor": advisor, "modules": modules},
        idempotency_key=f"welcome:{advisor}",
        at=now,
        transition_id=transition_id,
    )


def enrol_required_modules(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock) -> StageChange:
    def enrol(uow: UnitOfWork, now: datetime) -> None:
        for module in uow.training.list(required_only=True):
            uow.advisors.enrol(advisor, module.code, now)

    cmd = ChangeAdvisorStage(advisor, AdvisorStage.PREPARING, meta=meta)
    return _run_move(uow, cmd, clock, enrol)


def complete_module(
    uow: UnitOfWork, advisor: str, module: str, meta: Meta, clock: Clock
) -> StageChange | None:
    """Record one completed module; when it is the last required one, the advisor is ready.
    Returns the stage change, or None when modules are still outstanding."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange | None:
        uow.advisors.complete(advisor, module, now)
        if uow.advisors.get(advisor).stage != AdvisorStage.PREPARING:
            return None
        required = {m.code for m in uow.training.list(required_only=True)}
        done = {r.module for r in uow.advisors.training(advisor) if r.completed_at}
        if not required <= done:
            return None
        cmd = ChangeAdvisorStage(advisor, AdvisorStage.READY, meta=meta)
        return move_advisor(uow, cmd, now)[0]

    return run_once(uow, meta, clock, work)


def put_on_hold(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock):
    return _run_move(uow, ChangeAdvisorStage(advisor, AdvisorStage.ON_HOLD, meta=meta), clock)


def resume(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock):
    """Back from hold, to the stage held before; one transaction."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        held_from = uow.advisors.get(advisor).held_from
        if held_from is None:
            raise InvalidInputError(f"advisor {advisor} is not on hold")
        return move_advisor(uow, ChangeAdvisorStage(advisor, held_from, meta=meta), now)[0]

    return run_once(uow, meta, clock, work)


def reopen_advisor(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock):
    """A declined or not-retained advisor's file is reopened (they are referred again, or
    the decision was a mistake): back to identified, with the reason, while their data is
    still held. After erasure a new referral gives them a new code."""
    cmd = ChangeAdvisorStage(advisor, AdvisorStage.IDENTIFIED, meta=meta)
    return _run_move(uow, cmd, clock)


def leave_program(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock) -> StageChange:
    """The advisor leaves the program, in one transaction: their active engagements are
    completed (each thanked as usual), the advisor becomes alumni and is thanked for their
    time in the program; the retention period of alumni runs from now."""

    def end_engagements(uow: UnitOfWork, now: datetime) -> list[StageChange]:
        ended_now: list[StageChange] = []
        for engagement in uow.engagements.for_advisor(advisor):
            if engagement.stage == EngagementStage.ACTIVE:
                ended = replace(
                    meta,
                    request_id=f"{meta.request_id}:{engagement.code}" if meta.request_id else None,
                )
                facts = EngagementFacts(reason=meta.reason)
                change, transition_id = apply_move(
                    uow, engagement, EngagementStage.COMPLETED, facts, ended, now
                )
                queue_notification(
                    uow,
                    template="engagement_thank_you",
                    recipient_kind="advisor",
                    recipient_code=advisor,
                    context={
                        "advisor": advisor,
                        "engagement": engagement.code,
                        "team_name": uow.teams.get(engagement.team).name,
                    },
                    idempotency_key=f"engagement_thank_you:{engagement.code}",
                    at=now,
                    transition_id=transition_id,
                )
                ended_now.append(change)
        return ended_now

    def thank(uow: UnitOfWork, change: StageChange, transition_id: int, now: datetime) -> None:
        queue_notification(
            uow,
            template="program_thank_you",
            recipient_kind="advisor",
            recipient_code=advisor,
            context={"advisor": advisor},
            idempotency_key=f"program_thank_you:{advisor}",
            at=now,
            transition_id=transition_id,
        )

    cmd = ChangeAdvisorStage(advisor, AdvisorStage.ALUMNI, leaving=True, meta=meta)
    return _run_move(uow, cmd, clock, end_engagements, thank)


def withdraw_advisor(uow: UnitOfWork, advisor: str, meta: Meta, clock: Clock) -> StageChange:
    """Consent is withdrawn, in one transaction: the ledger closes every consent still open,
    the advisor moves to withdrawn (the transition records who and when), their open
    engagements end, their unsent mail is cancelled, and the coordinators are told (by code;
    the reason stays in the log). Someone who never consented has nothing in the ledger to
    close, and gets no consent row made up for the occasion: the transition is the record."""

    def work(uow: UnitOfWork, now: datetime) -> StageChange:
        uow.advisors.withdraw_consents(advisor, now)
        current = uow.advisors.get(advisor)
        # This use case is the withdrawal, so its move does not ask the ledger for one.
        facts = AdvisorFacts(
            consent_withdrawn=True, held_from=current.held_from, reason=meta.reason
        )
        change, transition_id = apply_move(uow, current, AdvisorStage.WITHDRAWN, facts, meta, now)
        ended = close_everything(uow, change, transition_id, now)
        return carrying(change, [change, *ended])

    def close_everything(
        uow: UnitOfWork, change: StageChange, transition_id: int, now: datetime
    ) -> list[StageChange]:
        closed: list[StageChange] = []
        ended = Meta(meta.actor, "the advisor withdrew", None, meta.flow_run_id)
        for engagement in uow.engagements.for_advisor(advisor):
            if engagement.stage in (EngagementStage.PROPOSED, EngagementStage.ACTIVE):
                target = (
                    EngagementStage.CANCELLED
                    if engagement.stage == EngagementStage.PROPOSED
                    else EngagementStage.ENDED_EARLY
                )
                facts = EngagementFacts(reason=ended.reason)
                closed.append(apply_move(uow, engagement, target, facts, ended, now)[0])
        uow.notifications.cancel_pending(advisor, "the advisor withdrew consent")
        uow.responses.end_for(advisor, AdvisorStage.WITHDRAWN, now)  # their links take nothing
        for coordinator in uow.staff.list(role=StaffRole.COORDINATOR):
            queue_notification(
                uow,
                template="advisor_withdrawn",
                recipient_kind="staff",
                recipient_code=coordinator.code,
                context={"advisor": advisor, "stage": change.from_state},
                idempotency_key=f"advisor_withdrawn:{advisor}:{coordinator.code}",
                at=now,
                transition_id=transition_id,
            )
        return closed

    return run_once(uow, meta, clock, work)


def advisor_history(uow: UnitOfWork, advisor: str) -> list[Transition]:
    with uow:
        if not uow.advisors.exists(advisor):
            raise NotFoundError("advisor", advisor)
        return uow.transitions.history("advisor", advisor)
