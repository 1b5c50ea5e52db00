"""The in-memory unit of work of the unit tests (tests/unit/fakes.py) against the SQLite
one: the same scenarios, run through the real use cases on each, must leave the same
observable state and raise the same errors, so that the fakes cannot drift silently."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta

import pytest

from ppflow.domain.commands import ChangeAdvisorStage, Meta
from ppflow.domain.compensation import CompensationPolicy, RateTier
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    NotFoundError,
    PPFlowError,
)
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.matching import Match
from ppflow.domain.model import (
    Advisor,
    Correction,
    Decision,
    Evaluation,
    Meeting,
    ProgramTarget,
    SurveyRequest,
    Transition,
)
from ppflow.services import (
    advisors,
    compensation,
    decisions,
    integration,
    portal,
    queries,
    referral_import,
)
from ppflow.services.compensation import ActivityEntry, Expense
from ppflow.services.feedback import open_feedback
from ppflow.services.ports import (
    AdvisorFilter,
    Directory,
    FixedClock,
    NewNotification,
    Outbox,
    Outcome,
)
from tests.unit import fakes
from tests.unit.fakes import (
    START,
    FakeDirectory,
    FakeOutbox,
    FakeQuestionnaires,
    FakeUnitOfWork,
    Organization,
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


# --------------------------------------------------------------------------------------
# Contracts: every method of a fake that copies SQL, run on the fake and on its SQL twin.
# Each contract takes one side (an organization on a unit of work, with the dispatcher's
# outbox and directory beside it) and returns what it saw; the two sides must see the same,
# once the random codes are named by their order of appearance.


@dataclass
class Side:
    o: Organization
    outbox: Outbox
    directory: Directory


def fake_side() -> Side:
    uow = FakeUnitOfWork()
    o = organization(uow=uow, clock=FixedClock(START))
    return Side(o, FakeOutbox(uow.tables), FakeDirectory(uow.tables))


def sql_side(app) -> Side:
    from ppflow.adapters.outbox import SqlDirectory

    o = organization(uow=app.uow(), clock=FixedClock(START))
    return Side(o, app.outbox(), SqlDirectory(app.session_factory))


CODE = re.compile(r"\b(?:PA|EN|ST|QT)-[23456789A-HJKMNP-Z]{6}\b")


ENUM = re.compile(r"<\w+\.\w+: ('[^']*')>")  # a StrEnum equals its text
NUMBERED = re.compile(r"\b(Lavoie|marie\.)\d+")  # tests.unit.fakes.referral numbers people


def named(seen: object) -> str:
    """What a side saw, as text, each random code replaced by its order of appearance."""
    text = NUMBERED.sub(r"\1#", ENUM.sub(r"\1", repr(seen)))
    names: dict[str, str] = {}
    return CODE.sub(lambda m: names.setdefault(m.group(), f"<{len(names)}>"), text)


def refused(call: Callable[[], object]) -> str:
    """The kind of error a call raised ("integrity" for a unique index), or its result."""
    try:
        return repr(call())
    except PPFlowError as error:
        return type(error).__name__
    except Exception as error:  # the database's IntegrityError or the fake's
        assert "Integrity" in type(error).__name__, error
        return "integrity"


CONTRACTS: dict[str, Callable[[Side], list]] = {}


def contract(check: Callable[[Side], list]) -> Callable[[Side], list]:
    CONTRACTS[check.__name__] = check
    return check


def engaged(o: Organization) -> tuple[str, str]:
    """An active advisor and their engagement."""
    advisor = advisor_at(o, "active")
    with o.uow:
        return advisor, o.uow.engagements.for_advisor(advisor)[0].code


@contract
def every_field_a_save_writes(side: Side) -> list:
    """Saving an advisor writes every field but its code, program and version: a field
    added to ``Advisor`` is written by both, with no list of fields to keep up to date."""
    o = side.o
    code = advisor_at(o, "ready")
    changed = {
        "stage": AdvisorStage.ON_HOLD,
        "held_from": AdvisorStage.READY,
        "stage_changed_at": START + timedelta(days=3),
        "languages": ["en", "es"],
        "tags": ["diabète"],
        "skills": ["facilitation"],
        "availability_hours": 12,
    }
    saved_fields = {f.name for f in fields(Advisor)} - {"code", "program", "version"}
    assert set(changed) == saved_fields, "give every field a save writes a new value"
    with o.uow as uow:
        uow.advisors.save(replace(uow.advisors.get(code), **changed))
        uow.commit()
    with o.uow as uow:
        saved = uow.advisors.get(code)
    assert {name: getattr(saved, name) for name in changed} == changed
    return [saved]


@contract
def people_programs_and_teams(side: Side) -> list:
    o, seen = side.o, []
    first = advisor_at(o, "identified", first_name="Éloïse", last_name="Tremblay")
    second = advisor_at(o, "ready", first_name="Eloise", email="eloise.b@example.org")
    with o.uow as uow:
        seen += [uow.advisors.find(("eloise",), 10), uow.advisors.find(("tremblay",), 1)]
        seen += [
            uow.advisors.count(AdvisorFilter()),
            uow.advisors.count(AdvisorFilter(stage="ready", limit=1)),
            uow.advisors.count(AdvisorFilter(stage="recruited")),
        ]
        seen += [uow.advisors.referrer(first), uow.advisors.referrer(second)]
        contact = uow.advisors.contact(first)
        contact.phone, contact.language = "514-555-0199", "en"
        uow.advisors.save_contact(first, contact)
        member = uow.staff.get(o.lead)
        member.name, member.department = "Sam B. Bouchard", "Urgence"
        uow.staff.save(member)
        program = uow.programs.get(o.program)
        target = ProgramTarget("teams_with_advisors", 0.5, "2026", set_at=START)
        uow.programs.add_target(o.program, target)
        uow.programs.add_target(o.program, replace(target, target=0.6, version=2))
        uow.commit()
    with o.uow as uow:
        seen += [uow.advisors.contact(first), uow.staff.get(o.lead), uow.staff.list()]
        seen += [uow.staff.by_email("SAM.BOUCHARD@example.org"), uow.staff.known(["nobody"])]
        seen += [program, uow.programs.get(o.program), uow.programs.list()]
        seen += [uow.teams.list(), uow.teams.list("active"), uow.teams.advisor_count(o.team)]
        seen.append(uow.teams.last_proposals(o.team))
        matches = [Match(second, 80, ("speaks fr",), ("cancer",)), Match(first, 40, ())]
        uow.teams.record_proposals(o.team, matches, START)
        uow.teams.record_proposals(o.team, matches[:1], START + timedelta(hours=1))
        uow.commit()
    with o.uow as uow:
        seen.append(uow.teams.last_proposals(o.team))
        seen.append(refused(lambda: uow.staff.get("ST-NOBODY")))
    return seen


@contract
def pay(side: Side) -> list:
    o, seen = side.o, []
    advisor, engagement = engaged(o)
    day = START.date()
    with o.uow as uow:
        tier = uow.pay.add_tier(RateTier("meeting", "hourly", 3000, date(2026, 1, 1)), START, "c")
        uow.pay.add_tier(RateTier("training", "flat", 5000, date(2026, 1, 1)), START, "c")
        seen += [tier, uow.pay.tiers(), uow.pay.tiers("training")]
        seen.append(uow.pay.engagements([engagement, "EN-NOBODY"]))
        entry = ActivityEntry(engagement, day, "meeting", 250, 3000, "tier", 7500, False, "n", "r1")
        first = uow.pay.add_activity(entry, START, "c")
        second = uow.pay.add_activity(
            replace(entry, day=date(2026, 3, 9), request_id="r2", note=""), START, "c"
        )
        reversal = replace(entry, centihours=-250, amount_cents=-7500, request_id=None, voids=first)
        uow.pay.add_activity(reversal, START, "c")
        seen += [uow.pay.entry(first), uow.pay.entry(second), uow.pay.entry(999)]
        seen += [uow.pay.entries(), uow.pay.entries(engagement), uow.pay.entries("EN-NOBODY")]
        seen += [uow.pay.logged_request_ids(["r1", "r3"]), uow.pay.logged_keys([(engagement, day)])]
        expense = Expense(engagement, day, "parking", 1200, "receipt.pdf", "x1")
        seen += [uow.pay.add_expense(expense, START, "c"), uow.pay.add_expense(expense, START, "c")]
        seen.append(uow.pay.add_decline(advisor, date(2026, 3, 8), START, "c"))
        seen.append(uow.pay.add_decline(advisor, date(2026, 3, 8), START, "c"))
        seen += [uow.pay.declines([advisor]), uow.pay.waive_from(advisor, date(2026, 3, 8))]
        uow.pay.set_budget(o.program, 2026, 500_000, START, "c")
        uow.pay.set_budget(o.program, 2026, 400_000, START, "c")
        seen += [uow.pay.budget(o.program, 2026), uow.pay.budget(o.program, 2027)]
        seen += [uow.pay.budget_lines(None, 4), uow.pay.budget_lines(2026, 4)]
        seen.append(uow.pay.committed(o.program, date(2026, 1, 1), date(2027, 1, 1)))
        seen.append(uow.pay.payee_total(advisor, date(2026, 1, 1), date(2027, 1, 1)))
        seen += [uow.pay.payees(date(2026, 1, 1), date(2027, 1, 1)), uow.pay.coordinators()]
        seen.append(uow.pay.engagement_total(engagement))
        uow.commit()
    with o.uow as uow:  # a refusal ends its unit of work: the database rolls it back
        seen.append(refused(lambda: uow.pay.add_activity(reversal, START, "c")))
    with o.uow as uow:
        seen.append(refused(lambda: uow.pay.add_activity(entry, START, "c")))  # r1 again
    return seen


@contract
def meetings_corrections_evaluations_and_decisions(side: Side) -> list:
    o, seen = side.o, []
    advisor, engagement = engaged(o)
    day = START.date()
    with o.uow as uow:
        meeting = Meeting(o.team, day, (advisor,), (), "camille", START, sets_objectives=True)
        uow.meetings.add(meeting)
        uow.meetings.add(replace(meeting, held_on=date(2026, 2, 1), present=(), absent=(advisor,)))
        seen += [uow.meetings.on(o.team, day), uow.meetings.on(o.team, date(2026, 1, 1))]
        seen += [uow.meetings.for_team(o.team, None, None)]
        seen += [uow.meetings.for_team(o.team, date(2026, 2, 2), day)]
        uow.corrections.add(Correction("advisor", advisor, ("email",), "camille", "typo", START))
        uow.corrections.add(Correction("team", o.team, ("name", "lead"), "camille", "r", START))
        seen += [uow.corrections.of("advisor", advisor), uow.corrections.of("team", advisor)]
        uow.evaluations.add(
            Evaluation(engagement, [{"name": "heard", "met": True}], 4.5, "", START, "c")
        )
        seen += [uow.evaluations.get(engagement), uow.evaluations.get("EN-NOBODY")]
        later = START + timedelta(hours=1)
        uow.decisions.add(Decision("run-1", "screening", advisor, {"outcome": "a"}, "c", START))
        uow.decisions.add(Decision("run-2", "screening", advisor, {"outcome": "b"}, "c", later))
        seen += [uow.decisions.get("run-1", "screening"), uow.decisions.get("run-1", "match")]
        seen += [uow.decisions.latest(advisor, "screening"), uow.decisions.latest(advisor, "x")]
        uow.commit()
    with o.uow as uow:
        seen.append(refused(lambda: uow.meetings.add(meeting)))
    return seen


@contract
def surveys_and_responses(side: Side) -> list:
    o, seen = side.o, []
    advisor, engagement = engaged(o)
    request = SurveyRequest(engagement, "advisor", advisor, 1, "advisor-experience", "tok-1", START)
    with o.uow as uow:
        seen += [uow.surveys.open(request), uow.surveys.open(request)]
        uow.surveys.open(replace(request, respondent_kind="staff", respondent=o.lead, token="t2"))
        seen += [uow.surveys.by_token("tok-1"), uow.surveys.by_token("nope")]
        uow.surveys.mark_reminded("tok-1", START + timedelta(days=7))
        seen.append(uow.surveys.for_engagement(engagement))
        uow.commit()
    with o.uow as uow:
        pending = uow.responses.by_token("tok-1")
        seen += [pending, uow.responses.by_token("nope")]
        seen += [
            uow.responses.latest(engagement, advisor, 1),
            uow.responses.latest(engagement, advisor, None),
        ]
        seen += [uow.responses.language(pending), uow.responses.advisor_language(advisor)]
        seen += [uow.responses.advisor_language("PA-NOBODY"), uow.responses.advisor_erased(advisor)]
        answered = START + timedelta(days=8)
        seen.append(
            uow.responses.record("tok-1", {"res_heard": 4}, 1, 4.0, {"respect": 4.0}, answered)
        )
        seen.append(uow.responses.record("tok-1", {"res_heard": 2}, 1, 2.0, {}, answered))
        seen.append(uow.surveys.answer("t2", {"x": 5}, 5.0, answered))
        seen.append(uow.surveys.answer("t2", {"x": 1}, 1.0, answered))
        seen.append(uow.responses.end_for(advisor, "withdrawn", answered))
        uow.commit()
    with o.uow as uow:
        seen += [uow.surveys.for_engagement(engagement), uow.responses.by_token("tok-1")]
    return seen


@contract
def the_log_and_its_readers(side: Side) -> list:
    o, seen = side.o, []
    first = advisor_at(o, "invited")
    advisor_at(o, "identified")
    with o.uow as uow:
        seen += [uow.transitions.cursor("events"), uow.transitions.after(0, START, 100)]
        moves = uow.transitions.after(0, START + timedelta(seconds=1), 2)
        seen.append(moves)
        uow.transitions.move_cursor("events", moves[-1][0], START)
        uow.transitions.move_cursor("events", 1, START)  # never backwards
        seen.append(uow.transitions.cursor("events"))
        seen.append(uow.transitions.after(moves[-1][0], START + timedelta(seconds=1), 100))
        seen.append(uow.notifications.cancel_pending(first, "withdrew"))
        seen.append(sorted(uow.notifications.templates_for(first)))
        uow.rollback()
        seen.append(uow.transitions.cursor("events"))
        uow.transitions.move_cursor("events", 2, START)
        uow.commit()
    with o.uow as uow:
        seen.append(uow.transitions.cursor("events"))
    return seen


@contract
def a_referral_file(side: Side) -> list:
    o = side.o
    header = "first_name,last_name,email,language,referred_by,phone,tags"
    rows = [
        f"Marie,Lavoie,marie@example.org,fr,{o.referrer},,cancer",
        f"Luc,Morin,luc@x.org,en,{o.referrer},514-555-0101,",
    ]
    data = ("\n".join((header, *rows)) + "\n").encode()
    meta = Meta(actor="camille", request_id="upload-1")
    first = referral_import.import_referrals(o.uow, data, meta, clock=o.clock)
    again = referral_import.import_referrals(o.uow, data, meta, clock=o.clock)
    clash = ("\n".join((header, f"Ana,Roy,MARIE@example.org,fr,{o.referrer},,")) + "\n").encode()
    seen: list = [len(first.imported), sorted(again.imported) == sorted(first.imported)]
    seen.append(
        refused(lambda: referral_import.import_referrals(o.uow, clash, Meta(), clock=o.clock))
    )
    with o.uow as uow:
        seen += [uow.referral_batch.replayed(["upload-1:2", "upload-1:9"])]
        seen += [uow.referral_batch.codes_taken([*first.imported, "PA-NOBODY"])]
        seen += [uow.advisors.count_by_stage(), [uow.advisors.contact(c) for c in first.imported]]
    return seen


@contract
def the_outbox_and_the_directory(side: Side) -> list:
    o, seen = side.o, []
    advisors = [advisor_at(o, "invited", first_name=n) for n in ("Aisha", "Luc", "Ana")]

    def claim(now: datetime, limit: int, lease_until: datetime, token: str) -> list:
        # created_at is the database's own time (a server default), so it is left out
        entries = side.outbox.claim(now, limit, lease_until, token)
        return [replace(e, created_at=None) for e in entries]

    now = START + timedelta(minutes=5)
    lease = now + timedelta(minutes=2)
    claimed = claim(now, 2, lease, "pass-1")
    seen += [claimed, claim(now, 10, lease, "pass-2")]
    seen.append(side.outbox.renew("pass-1", lease + timedelta(minutes=1)))
    seen.append(side.outbox.renew("pass-1", lease))  # never shortened
    seen.append(side.outbox.renew("nobody", lease))
    outcomes = [
        Outcome(claimed[0].id, "sent", message_id="<m1@x>"),
        Outcome(claimed[1].id, "pending", "451 later", next_attempt_at=now + timedelta(hours=1)),
        Outcome(999, "sent"),
    ]
    notice = NewNotification("delivery_failed", "staff", o.coordinator, "fr", {"n": 1}, "df:1")
    seen.append(side.outbox.settle("pass-1", now, outcomes, [notice, notice]))
    seen.append(side.outbox.settle("pass-2", now, outcomes))  # not its rows
    later = now + timedelta(hours=2)
    seen.append(claim(later, 10, later + timedelta(minutes=2), "pass-3"))
    seen.append(claim(later + timedelta(minutes=3), 10, later, "pass-4"))  # the lease ran out
    people = side.directory.people([*advisors, "PA-NOBODY"], [o.lead, "ST-NOBODY"])
    seen.append(sorted(people.values(), key=lambda person: (person.kind, person.first_name)))
    seen.append(side.directory.coordinators())
    return seen


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_a_contract_sees_the_same_on_the_fake_and_on_sqlite(name, sqlite_app):
    check = CONTRACTS[name]
    fake, real = check(fake_side()), check(sql_side(sqlite_app))

    assert len(fake) == len(real)
    for number, (on_fake, on_sqlite) in enumerate(zip(fake, real, strict=True)):
        assert named(on_fake) == named(on_sqlite), f"observation {number} of {name}"


# The fakes that copy no SQL: stubs that answer what a test scripts (the SQL behind the
# same ports is tested on the databases: tests/integration/test_sweeps_db.py,
# test_privacy.py, test_waiting_stalled.py), and the stand-ins for SMTP, the templates and
# the questionnaire files, which have no SQL twin.
NOT_SQL = {
    "FakeSweepQueries": "stub (test_sweeps_db.py)",
    "FakeRetentionStore": "stub (test_sweeps_db.py)",
    "FakePrivacyStore": "stub (test_privacy.py, test_erasure.py)",
    "FakeRenderer": "stands for Jinja2 (test_templates.py)",
    "FakeMailer": "stands for SMTP (test_notifications.py)",
    "FakeQuestionnaires": "stands for the questionnaire files (test_questionnaires.py)",
}
# What the unit tests read from the fake unit of work, no port's method.
LOOKS = {"FakeUnitOfWork.queued", "FakeUnitOfWork.log"}


def fake_methods() -> dict[str, Callable]:
    """Every public method of every fake that copies SQL, by class.method."""
    found = {}
    for name, cls in vars(fakes).items():
        if not (inspect.isclass(cls) and cls.__module__ == fakes.__name__):
            continue
        if not name.startswith("Fake") or name in NOT_SQL or issubclass(cls, Exception):
            continue
        for attr, method in vars(cls).items():
            if callable(method) and not attr.startswith("_") or attr in ("__enter__", "__exit__"):
                found[f"{name}.{attr}"] = method
    return found


def test_every_method_of_a_fake_that_copies_sql_is_run_by_a_contract(monkeypatch):
    """Run the contracts on the fake side alone, recording each fake method called: a
    method no contract calls is one whose agreement with SQL nobody checks."""
    called: set[str] = set()
    for key, method in fake_methods().items():
        cls_name, attr = key.split(".")

        def recorded(*args, _method=method, _key=key, **kwargs):
            called.add(_key)
            return _method(*args, **kwargs)

        monkeypatch.setattr(getattr(fakes, cls_name), attr, recorded)
    for check in CONTRACTS.values():
        check(fake_side())
    for scenario in (_walk, _races):
        scenario(organization(uow=FakeUnitOfWork(), clock=FixedClock(START)))

    unchecked = sorted(set(fake_methods()) - called - LOOKS)
    assert unchecked == [], f"fake methods no contract runs against SQL: {unchecked}"
    assert {n for n in vars(fakes) if n.startswith("Fake")} >= set(NOT_SQL)
