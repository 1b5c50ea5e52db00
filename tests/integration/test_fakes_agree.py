"""The in-memory unit of work of the unit tests (tests/unit/fakes.py) against the SQLite
one: the same scenarios, run through the real use cases on each, must leave the same
observable state and raise the same errors, so that the fakes cannot drift silently."""

from __future__ import annotations

from datetime import date

from ppflow.domain.commands import ChangeAdvisorStage, Meta
from ppflow.domain.compensation import CompensationPolicy
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    NotFoundError,
    PPFlowError,
)
from ppflow.domain.model import Transition
from ppflow.services import advisors, compensation, decisions, integration, portal, queries
from ppflow.services.feedback import open_feedback
from ppflow.services.ports import AdvisorFilter, FixedClock
from tests.unit.fakes import (
    START,
    FakeQuestionnaires,
    FakeUnitOfWork,
    advisor_at,
    organization,
    referral,
)

META = Meta(actor="camille", reason="checked")


def on_both(sqlite_app):
    """The same organization on a fresh fake unit of work and on the migrated SQLite one."""
    fake = organization(uow=FakeUnitOfWork(), clock=FixedClock(START))
    real = organization(uow=sqlite_app.uow(), clock=sqlite_app.clock)
    assert real.clock.now() == START
    return fake, real


class Aliases:
    """Codes are random: name each by the order it first appears in, so that two runs
    compare equal."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def __call__(self, text):
        if not isinstance(text, str):
            return text
        for code in sorted(self.names, key=len, reverse=True):
            text = text.replace(code, self.names[code])
        return text

    def add(self, *codes: str) -> None:
        for code in codes:
            self.names.setdefault(code, f"<{len(self.names)}>")


def _state(o, codes: Aliases, advisor_codes: list[str]) -> dict:
    """Everything a coordinator could look at, through the ports only."""
    uow = o.uow
    with uow:
        people = [o.coordinator, o.referrer, o.lead, *advisor_codes]
        engagements = [e for a in advisor_codes for e in uow.engagements.for_advisor(a)]
        codes.add(*[e.code for e in engagements])
        state = {
            "stages": uow.advisors.count_by_stage(),
            "pool": [
                (
                    codes(p.advisor.code),
                    str(p.advisor.stage),
                    p.active_engagements,
                    p.advisor.version,
                )
                for p in uow.advisors.list(AdvisorFilter())
            ],
            "history": [
                (
                    codes(t.code),
                    t.from_state,
                    t.to_state,
                    t.at,
                    t.actor,
                    codes(t.reason),
                    t.request_id,
                )
                for a in advisor_codes
                for t in uow.transitions.history("advisor", a)
            ],
            "team": (str(uow.teams.get(o.team).stage), uow.teams.get(o.team).version),
            "team_history": [
                (t.to_state, t.actor) for t in uow.transitions.history("team", o.team)
            ],
            "engagements": [
                (codes(e.code), str(e.stage), e.end_date, e.reason, e.version) for e in engagements
            ],
            "mail": {codes(p): sorted(uow.notifications.templates_for(p)) for p in people},
            "consents": [
                (c.purpose, c.wording_version, c.expires_at, c.withdrawn_at)
                for a in advisor_codes
                for c in uow.advisors.consents(a)
            ],
            "training": [
                (r.module, r.completed_at) for a in advisor_codes for r in uow.advisors.training(a)
            ],
            "surveys": [
                (s.respondent_kind, s.round, s.answered_at, s.score)
                for e in engagements
                for s in uow.surveys.for_engagement(e.code)
            ],
            "pay": [
                (codes(p.advisor), p.centihours, p.owed_cents, p.entries)
                for p in compensation.compensation_summary(uow, 2026, CompensationPolicy()).payees
            ],
        }
    return state


def _walk(o) -> dict:
    """Two advisors through the lifecycle: one integrated, paid, surveyed and withdrawn;
    one put on hold; each refusal recorded as its error's type and message."""
    codes = Aliases()
    codes.add(o.coordinator, o.referrer, o.lead, o.team)
    refused = []

    def attempt(call):
        try:
            return call()
        except PPFlowError as error:
            refused.append((type(error).__name__, codes(str(error))))

    first = advisor_at(o, "ready", first_name="Aisha")
    second = advisor_at(o, "preparing", first_name="Luc")
    codes.add(first, second)
    attempt(lambda: advisors.invite_advisor(o.uow, first, META, o.clock))
    attempt(lambda: advisors.put_on_hold(o.uow, second, Meta(actor="camille"), o.clock))
    o.later(hours=1)
    advisors.put_on_hold(o.uow, second, Meta("camille", "ill", "hold-1"), o.clock)
    replay = advisors.put_on_hold(o.uow, second, Meta("camille", "ill", "hold-1"), o.clock)
    attempt(lambda: integration.confirm_match(o.uow, o.team, first, META, clock=o.clock))
    integration.brief_team(o.uow, o.team, META, o.clock)
    joined = integration.confirm_match(o.uow, o.team, first, META, hourly_rate=30.0, clock=o.clock)
    codes.add(joined.engagement)
    o.later(days=10)
    compensation.log_hours(
        o.uow,
        compensation.LogHours(joined.engagement, date(2026, 3, 5), "meeting", "2.5"),
        CompensationPolicy(),
        o.clock,
    )
    open_feedback(o.uow, joined.engagement, META, clock=o.clock)
    portal.record_response(
        o.uow,
        FakeQuestionnaires(),
        joined.engagement,
        first,
        {"res_heard": 4, "inf_change": 5},
        o.clock,
        partial=True,
    )
    attempt(
        lambda: portal.record_response(
            o.uow,
            FakeQuestionnaires(),
            joined.engagement,
            first,
            {"res_heard": 1},
            o.clock,
            partial=True,
        )
    )
    o.later(days=1)
    advisors.withdraw_advisor(o.uow, first, Meta("camille", "moving away"), o.clock)
    attempt(
        lambda: advisors.register_referral(
            o.uow, referral(o, email="ghost@x.org", referred_by="ST-NOBODY"), o.clock
        )
    )
    attempt(lambda: queries.get_advisor(o.uow, "PA-NOBODY"))
    attempt(
        lambda: advisors.change_advisor_stage(
            o.uow, ChangeAdvisorStage(first, "ready", meta=META), o.clock
        )
    )
    decisions.record_decision(o.uow, "run-1", "screening", second, {"o": "yes"}, "a", o.clock)
    attempt(
        lambda: decisions.record_decision(
            o.uow, "run-1", "screening", second, {"o": "no"}, "b", o.clock
        )
    )
    return {
        "state": _state(o, codes, [first, second]),
        "refused": refused,
        "replayed": (replay.replayed, replay.to_state),
        "warnings": [codes(w) for w in joined.warnings],
    }


def test_a_walk_through_the_lifecycle_leaves_the_same_state_on_the_fake_and_on_sqlite(
    sqlite_app,
):
    fake, real = (_walk(o) for o in on_both(sqlite_app))

    assert fake["state"] == real["state"]
    assert fake["refused"] == real["refused"]
    assert fake == real
    # and the scenario did what it says, so that agreeing means something
    assert fake["state"]["stages"] == {"withdrawn": 1, "on_hold": 1}
    assert [kind for kind, _ in fake["refused"]] == [
        "IllegalTransitionError",
        "GuardFailedError",
        "InvalidInputError",
        "DuplicateError",
        "NotFoundError",
        "NotFoundError",
        "IllegalTransitionError",
        "DecisionTakenError",
    ]
    assert fake["replayed"] == (True, "on_hold")


def _races(o) -> list[str]:
    """What the storage itself refuses: a stale save, a request id used twice, an unknown
    code; each as the kind of error a use case sees."""
    seen = []
    code = advisor_at(o, "ready")
    with o.uow:
        first, stale = o.uow.advisors.get(code), o.uow.advisors.get(code)
        first.stage = stale.stage = "on_hold"
        o.uow.advisors.save(first)
        try:
            o.uow.advisors.save(stale)
        except ConcurrentUpdateError as error:
            seen.append(str(error).replace(code, "<advisor>"))
        o.uow.commit()
    with o.uow:
        assert o.uow.advisors.get(code).version == first.version  # one save won
        logged = Transition("advisor", code, "ready", "on_hold", START, "x", None, "req-1")
        o.uow.transitions.add(logged)
        try:
            o.uow.transitions.add(logged)
        except PPFlowError:
            seen.append("a ppflow error")  # run_once would not retry it as a lost race
        except Exception:
            seen.append("the unique index refused the second row")
    with o.uow:
        assert o.uow.transitions.by_request_id("req-1") is None  # not committed
        for call in (
            lambda: o.uow.advisors.enrol(code, "NOPE", START),
            lambda: o.uow.engagements.get("EN-NOPE"),
            lambda: o.uow.teams.get("QT-NOPE"),
            lambda: o.uow.staff.get("ST-NOPE"),
            lambda: o.uow.advisors.contact("PA-NOPE"),
        ):
            try:
                call()
            except NotFoundError as error:
                seen.append(str(error))
        assert (
            o.uow.notifications.queue(
                template="invitation",
                recipient_kind="advisor",
                recipient_code=code,
                language="fr",
                context={},
                idempotency_key=f"invitation:{code}",
                at=START,
                transition_id=None,
            )
            is False
        )  # queued already when the advisor was invited
    return seen


def test_the_storage_refuses_the_same_things_with_the_same_errors_on_the_fake_and_on_sqlite(
    sqlite_app,
):
    fake, real = (_races(o) for o in on_both(sqlite_app))

    assert fake == real
    assert fake[:2] == [
        "advisor <advisor> was changed by someone else at the same time; nothing was written. "
        "Reload it and try again.",
        "the unique index refused the second row",
    ]
    assert len(fake) == 7
