"""Compensation on a real database (SQLite, then PostgreSQL): amounts owed by tier and
date, declined payment, expenses apart, the budget and T4A alerts in the outbox, the
CSV import, and the figures the indicators read."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from ppflow.adapters.compensation import SqlCompensationReport
from ppflow.adapters.orm import NotificationRow, StaffRow
from ppflow.adapters.orm_compensation import (
    ActivityLogRow,
    ExpenseRow,
    PaymentDeclineRow,
    ProgramBudgetRow,
    RateTierRow,
)
from ppflow.domain.commands import AddProgram, AddTeam, Meta
from ppflow.domain.compensation import CompensationPolicy
from ppflow.domain.errors import DuplicateError, InvalidInputError, NotFoundError
from ppflow.services import compensation as pay
from ppflow.services import integration, organization
from ppflow.services.referral_import import CsvFormatError
from tests import factories

POLICY = CompensationPolicy.from_values(500.0, 0.8, 4)
MY_TABLES = (RateTierRow, ActivityLogRow, ExpenseRow, PaymentDeclineRow, ProgramBudgetRow)


class World:
    """A program with a team; engagements made through the real use cases."""

    def __init__(self, app, program: str = "PP-X"):
        self.app = app
        self.program = program
        factories.modules(app, "PP-101")
        organization.add_program(app.uow(), AddProgram(program, "Partenaires", "Bureau"), app.clock)
        self.coordinators = [factories.staff(app, role="coordinator") for _ in range(2)]
        self.referrer = factories.staff(app)
        self.teams: list[str] = []

    def uow(self):
        return self.app.uow()

    def engagement(self, rate: float | None = 25.0, program: str | None = "") -> tuple[str, str]:
        """A new team in the program (or none) with one engaged advisor: (engagement, advisor)."""
        lead = factories.staff(self.app, role="front_line_manager")
        team = organization.add_team(
            self.app.uow(),
            AddTeam(
                f"Team {len(self.teams)}",
                program=self.program if program == "" else program,
                lead=lead,
                meta=Meta("t"),
            ),
            self.app.clock,
        ).code
        self.teams.append(team)
        advisor = factories.ready_advisor(self.app, self.referrer)
        integration.brief_team(self.app.uow(), team, Meta("t"), self.app.clock)
        engagement = integration.confirm_match(
            self.app.uow(), team, advisor, Meta("t"), hourly_rate=rate, clock=self.app.clock
        ).engagement
        return engagement, advisor

    def tier(self, activity, kind, amount, start, end=None):
        return pay.add_rate_tier(
            self.uow(), pay.AddRateTier(activity, kind, amount, start, end), self.app.clock
        )

    def log(self, engagement, day, hours, activity="meeting", request_id=None):
        return pay.log_hours(
            self.uow(),
            pay.LogHours(engagement, day, activity, hours, meta=Meta("t", request_id=request_id)),
            POLICY,
            self.app.clock,
        )

    def expense(self, engagement, day, amount, kind="travel"):
        return pay.record_expense(
            self.uow(),
            pay.RecordExpense(engagement, day, kind, amount, "receipt 42"),
            POLICY,
            self.app.clock,
        )

    def summary(self, year=2026):
        return pay.compensation_summary(self.uow(), year, POLICY)

    def payee(self, advisor, year=2026):
        found = [p for p in self.summary(year).payees if p.advisor == advisor]
        return found[0] if found else None

    def alerts(self, template):
        with self.app.session_factory() as session:
            rows = session.scalars(
                select(NotificationRow)
                .where(NotificationRow.template == template)
                .order_by(NotificationRow.id)
            )
            return [(r.recipient_code, r.idempotency_key, r.context) for r in rows]


@pytest.fixture
def world(any_app):
    created = World(any_app)
    # engagements start on 2026-03-02; the tests then work in the 2026-27 fiscal year
    return created


def later(app, day: date) -> None:
    app.clock.moment = app.clock.moment.replace(year=day.year, month=day.month, day=day.day)


# ---------------------------------------------------------------------- the schema


def test_each_kind_of_tier_pays_by_the_date_of_the_activity(world):
    app = world.app
    hourly, _ = world.engagement(rate=None)
    agreed, _ = world.engagement(rate=25.0)
    world.tier("meeting", "hourly", "20.00", date(2026, 1, 1), date(2026, 4, 30))
    world.tier("meeting", "hourly", "30.00", date(2026, 5, 1))
    world.tier("presentation", "flat", "75.00", date(2026, 1, 1), date(2026, 12, 31))
    later(app, date(2026, 6, 1))

    assert world.log(hourly, date(2026, 4, 15), "2").amount_cents == 4000  # old rate
    assert world.log(hourly, date(2026, 5, 10), "2").amount_cents == 6000  # new rate
    assert world.log(hourly, date(2026, 5, 11), "3", "presentation").amount_cents == 7500
    assert world.log(agreed, date(2026, 5, 10), "2").amount_cents == 5000  # engagement rate
    assert world.log(agreed, date(2026, 5, 12), "1.5", "workshop").amount_cents == 3750
    with pytest.raises(InvalidInputError, match="no rate tier for 'workshop'"):
        world.log(hourly, date(2026, 5, 12), "1", "workshop")

    totals = {p.advisor: p for p in world.summary().payees}
    with app.session_factory() as session:
        rows = session.scalars(select(ActivityLogRow).order_by(ActivityLogRow.id)).all()
    assert [(r.basis, r.rate_cents, r.amount_cents) for r in rows] == [
        ("hourly", 2000, 4000),
        ("hourly", 3000, 6000),
        ("flat", 7500, 7500),
        ("engagement-rate", 2500, 5000),
        ("engagement-rate", 2500, 3750),
    ]
    assert sorted((p.centihours, p.owed_cents) for p in totals.values()) == [
        (350, 8750),
        (700, 17500),
    ]


def test_hours_cannot_be_logged_before_the_engagement_in_the_future_or_twice(world):
    engagement, _ = world.engagement()
    later(world.app, date(2026, 6, 1))
    with pytest.raises(InvalidInputError, match="nothing can be logged before its start"):
        world.log(engagement, date(2026, 3, 1), "1")
    with pytest.raises(InvalidInputError, match="in the future"):
        world.log(engagement, date(2026, 6, 2), "1")
    with pytest.raises(NotFoundError):
        world.log("EN-ZZZZZZ", date(2026, 5, 2), "1")
    first = world.log(engagement, date(2026, 5, 2), "1", request_id="req-1")
    again = world.log(engagement, date(2026, 5, 2), "1", request_id="req-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert world.summary().payees[0].entries == 1


def test_a_declined_payment_owes_nothing_from_its_date_and_hours_still_count(world):
    engagement, advisor = world.engagement(rate=25.0)
    later(world.app, date(2026, 6, 1))
    world.log(engagement, date(2026, 4, 10), "2")  # before the decline: paid
    world.log(engagement, date(2026, 4, 25), "2")  # logged before, dated after: waived
    declined = pay.decline_payment(
        world.uow(), advisor, date(2026, 4, 20), Meta("t"), world.app.clock
    )
    assert (declined.entries_waived, declined.already_recorded) == (1, False)
    after = world.log(engagement, date(2026, 5, 1), "4")
    assert (after.amount_cents, after.declined) == (0, True)
    world.expense(engagement, date(2026, 5, 1), "12.50")

    payee = world.payee(advisor)
    assert (payee.centihours, payee.owed_cents, payee.expenses_cents) == (800, 5000, 1250)
    assert payee.declined is True
    repeat = pay.decline_payment(
        world.uow(), advisor, date(2026, 4, 20), Meta("t"), world.app.clock
    )
    assert (repeat.entries_waived, repeat.already_recorded) == (0, True)


def test_expenses_are_kept_apart_from_pay(world):
    engagement, advisor = world.engagement(rate=25.0)
    later(world.app, date(2026, 6, 1))
    world.log(engagement, date(2026, 5, 1), "2")
    world.expense(engagement, date(2026, 5, 1), "600.00", "travel")
    payee = world.payee(advisor)
    assert (payee.owed_cents, payee.expenses_cents) == (5000, 60000)
    assert world.alerts(pay.T4A_ALERT) == []  # expenses do not count towards a T4A
    with world.app.session_factory() as session:
        row = session.scalar(select(ExpenseRow))
    assert (row.kind, row.amount_cents, row.receipt) == ("travel", 60000, "receipt 42")
    with pytest.raises(InvalidInputError, match="expense kind 'gifts'"):
        world.expense(engagement, date(2026, 5, 1), "5", "gifts")
    with pytest.raises(InvalidInputError, match="more than 0"):
        world.expense(engagement, date(2026, 5, 1), "0")


# ------------------------------------------------------------------------- alerts


def test_the_budget_alert_goes_to_each_coordinator_once_when_spending_reaches_80_percent(world):
    app = world.app
    engagement, _ = world.engagement(rate=25.0)
    later(app, date(2026, 6, 1))
    pay.set_budget(world.uow(), "PP-X", 2026, "1000", Meta("t"), POLICY, app.clock)
    world.log(engagement, date(2026, 3, 20), "20")  # fiscal year 2025-26: not this budget
    world.log(engagement, date(2026, 4, 1), "20")  # 500.00
    world.expense(engagement, date(2026, 4, 2), "249.99")  # 749.99
    assert world.alerts(pay.BUDGET_ALERT) == []

    crossed = world.expense(engagement, date(2026, 4, 3), "50.01")  # 800.00: 80%
    assert [(a.kind, a.subject, a.year, a.notified) for a in crossed.alerts] == [
        (pay.BUDGET_ALERT, "PP-X", "2026-27", 2)
    ]
    sent = world.alerts(pay.BUDGET_ALERT)
    assert sorted(code for code, _, _ in sent) == sorted(world.coordinators)
    assert {key for _, key, _ in sent} == {
        f"budget_alert:PP-X:2026:{c}" for c in world.coordinators
    }
    assert sent[0][2] == {
        "program": "PP-X",
        "fiscal_year": "2026-27",
        "budget": "1000.00",
        "committed": "800.00",
        "percent": 80,
        "currency": "CAD",
    }
    assert world.log(engagement, date(2026, 4, 4), "4").alerts == ()  # 900.00
    assert len(world.alerts(pay.BUDGET_ALERT)) == 2

    spent = world.log(engagement, date(2026, 4, 5), "4")  # 1000.00: 100%
    assert [(a.level, a.amount_cents, a.notified) for a in spent.alerts] == [(100, 100000, 2)]
    assert world.log(engagement, date(2026, 4, 6), "20").alerts == ()  # 1500.00
    assert world.expense(engagement, date(2026, 4, 7), "400").alerts == ()  # 1900.00: 190%
    sent = world.alerts(pay.BUDGET_ALERT)
    assert sorted(key for _, key, _ in sent) == sorted(
        [f"budget_alert:PP-X:2026:{c}" for c in world.coordinators]
        + [f"budget_alert:PP-X:2026:100:{c}" for c in world.coordinators]
    )
    assert [context["percent"] for _, _, context in sent] == [80, 80, 100, 100]


def test_a_budget_set_below_what_is_committed_alerts_at_once(world):
    engagement, _ = world.engagement(rate=25.0)
    later(world.app, date(2026, 6, 1))
    world.log(engagement, date(2026, 4, 1), "4")  # 100.00
    assert (
        pay.set_budget(world.uow(), "PP-X", 2026, "500", Meta("t"), POLICY, world.app.clock) == ()
    )
    alerts = pay.set_budget(world.uow(), "PP-X", 2026, "110", Meta("t"), POLICY, world.app.clock)
    assert [(a.level, a.amount_cents) for a in alerts] == [(80, 10000)]
    assert len(world.alerts(pay.BUDGET_ALERT)) == 2
    alerts = pay.set_budget(world.uow(), "PP-X", 2026, "50", Meta("t"), POLICY, world.app.clock)
    assert [(a.level, a.amount_cents) for a in alerts] == [(100, 10000)]
    assert pay.set_budget(world.uow(), "PP-X", 2026, "40", Meta("t"), POLICY, world.app.clock) == ()
    assert len(world.alerts(pay.BUDGET_ALERT)) == 4
    with pytest.raises(NotFoundError):
        pay.set_budget(world.uow(), "PP-NONE", 2026, "1", Meta("t"), POLICY, world.app.clock)


def test_the_t4a_alert_comes_once_per_payee_and_year_at_500_dollars(world):
    app = world.app
    first, advisor = world.engagement(rate=25.0)
    second, other = world.engagement(rate=25.0)
    later(app, date(2026, 12, 1))
    world.log(first, date(2026, 4, 1), "19.99")  # 499.75
    world.log(second, date(2026, 4, 1), "19.99")
    assert world.alerts(pay.T4A_ALERT) == []

    reached = world.log(first, date(2026, 4, 2), "0.01")  # 500.00
    assert [(a.kind, a.subject, a.year) for a in reached.alerts] == [
        (pay.T4A_ALERT, advisor, "2026")
    ]
    world.log(first, date(2026, 5, 2), "3")
    sent = world.alerts(pay.T4A_ALERT)
    assert len(sent) == 2 and {c for c, _, _ in sent} == set(world.coordinators)
    assert sent[0][2] == {
        "advisor": advisor,
        "year": "2026",
        "total": "500.00",
        "threshold": "500.00",
        "currency": "CAD",
    }
    assert "Ada" not in str(sent[0][2])  # codes and amounts only

    later(app, date(2027, 2, 1))
    world.log(first, date(2027, 1, 5), "2")  # a new calendar year starts from zero
    assert len(world.alerts(pay.T4A_ALERT)) == 2
    assert world.payee(other).owed_cents == 49975


def test_a_coordinator_without_an_address_does_not_stop_the_hours(world):
    app = world.app
    engagement, advisor = world.engagement(rate=25.0)
    later(app, date(2026, 6, 1))

    with app.session_factory() as session:
        row = session.scalar(select(StaffRow).where(StaffRow.code == world.coordinators[0]))
        row.email = "not-an-address"
        session.commit()
    logged = world.log(engagement, date(2026, 5, 1), "20")
    assert [(a.notified, a.unreachable) for a in logged.alerts] == [(1, (world.coordinators[0],))]
    assert world.payee(advisor).centihours == 2000


# ---------------------------------------------------------------------- CSV import


def csv_file(*rows: str, header="engagement,date,activity,hours,note") -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def run_import(world, data: bytes, skip_invalid=False):
    return pay.import_hours(
        world.uow(), data, Meta("t"), POLICY, skip_invalid=skip_invalid, clock=world.app.clock
    )


def test_the_csv_import_reports_every_kind_of_bad_row_and_imports_nothing(world):
    engagement, _ = world.engagement(rate=None)
    world.tier("meeting", "hourly", "20", date(2026, 1, 1))
    later(world.app, date(2026, 6, 1))
    data = csv_file(
        f"{engagement},2026-04-01,meeting,2,first",  # 2: good
        f"{engagement},2026-04-02,meeting,,",  # 3: missing hours
        f"{engagement},01/04/2026,meeting,2,",  # 4: bad date
        f"{engagement},2026-04-03,meeting,two,",  # 5: hours not a number
        f"{engagement},2026-04-03,meeting,0,",  # 6: zero hours
        f"{engagement},2026-04-03,meeting,30,",  # 7: too many hours
        f"{engagement},2026-04-03,meeting,1.125,",  # 8: three decimals
        f"{engagement},2026-04-03,team meeting!,1,",  # 9: bad activity
        "EN-ZZZZZZ,2026-04-03,meeting,1,",  # 10: unknown engagement
        f"{engagement},2026-02-01,meeting,1,",  # 11: before the engagement
        f"{engagement},2026-07-01,meeting,1,",  # 12: in the future
        f"{engagement},2026-04-03,workshop,1,",  # 13: no rate for it
        f"{engagement},2026-04-01,meeting,2,first",  # 14: repeats line 2
        f"{engagement},2026-04-04,meeting,1,note,extra",  # 15: an extra field
        f"{engagement},2026-04-05,meeting,1,bad\x07note",  # 16: control character
        f"{engagement},2026-04-06,meeting,1.5,",  # 17: good
        f"{engagement},2026-04-06,cooking,1,",  # 18: unknown activity
        f"{engagement},2026-04-01,meeting,2,second",  # 19: good: another meeting that day
    )
    report = run_import(world, data)
    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [*range(3, 17), 18]
    assert "missing hours" in reasons[3]
    assert "not YYYY-MM-DD" in reasons[4]
    assert "not a number" in reasons[5]
    assert "more than 0" in reasons[6]
    assert "more than 24" in reasons[7]
    assert "more than two decimals" in reasons[8]
    assert "lowercase word" in reasons[9]
    assert "no engagement 'EN-ZZZZZZ'" in reasons[10]
    assert "before engagement" in reasons[11]
    assert "in the future" in reasons[12]
    assert "no rate tier for 'workshop'" in reasons[13]
    assert "already has 2 h of 'meeting' on 2026-04-01 (line 2)" in reasons[14]
    assert "activity 'cooking' is unknown: give one of interview, meeting" in reasons[18]
    assert "more fields" in reasons[15]
    assert "control characters" in reasons[16]
    assert (report.rows, report.imported) == (18, 0)
    assert world.summary().payees == []

    skipped = run_import(world, data, skip_invalid=True)
    assert skipped.imported == 3
    assert world.summary().payees[0].centihours == 550
    again = run_import(world, data, skip_invalid=True)
    assert (again.imported, again.already_imported) == (0, 3)
    assert world.summary().payees[0].centihours == 550


def test_a_csv_that_cannot_be_read_is_refused_as_a_whole(world):
    with pytest.raises(CsvFormatError, match="lacks the column"):
        run_import(world, csv_file("x,2026-04-01,meeting", header="engagement,date,activity"))
    with pytest.raises(CsvFormatError, match="neither UTF-8 nor Windows-1252 .*line 2"):
        run_import(world, b"engagement,date,activity,hours\nEN-1,2026-04-01,r\x81union,1\n")


def test_a_good_csv_imports_every_row_and_raises_the_alerts(world):
    engagement, advisor = world.engagement(rate=50.0)
    later(world.app, date(2026, 6, 1))
    rows = [f"{engagement},2026-04-{day:02d},meeting,3," for day in range(1, 5)]
    report = run_import(world, csv_file(*rows))
    assert (report.imported, report.problems) == (4, [])
    assert [(a.kind, a.subject) for a in report.alerts] == [(pay.T4A_ALERT, advisor)]
    assert world.payee(advisor).owed_cents == 60000


# ------------------------------------------------------------------------ indicators


def test_the_indicators_read_hours_and_compensation_for_a_period(world):
    app = world.app
    inside, _ = world.engagement(rate=25.0)
    elsewhere, _ = world.engagement(rate=25.0, program=None)
    later(app, date(2026, 12, 1))
    world.log(inside, date(2026, 7, 1), "2")
    world.log(inside, date(2026, 9, 30), "1.5")
    world.log(inside, date(2026, 10, 1), "8")  # next quarter
    world.log(elsewhere, date(2026, 8, 1), "4")
    world.expense(inside, date(2026, 7, 2), "10")
    report = SqlCompensationReport(app.session_factory)

    quarter = report.paid(date(2026, 7, 1), date(2026, 10, 1))
    assert (quarter.centihours, quarter.compensation_cents, quarter.expenses_cents) == (
        750,
        18750,
        1000,
    )
    assert quarter.payees == 2 and quarter.hours == 7.5
    program = report.paid(date(2026, 7, 1), date(2026, 10, 1), program="PP-X")
    assert (program.centihours, program.compensation_cents, program.payees) == (350, 8750, 1)
    empty = report.paid(date(2025, 1, 1), date(2025, 1, 1) + timedelta(days=90))
    assert (empty.centihours, empty.compensation_cents, empty.payees) == (0, 0, 0)


# ------------------------------------------------------------------ the books' rules


def test_a_tier_that_overlaps_another_is_refused_and_one_that_meets_it_is_stored(world):
    world.tier("meeting", "hourly", "20", date(2026, 1, 1), date(2026, 4, 30))
    world.tier("meeting", "hourly", "30", date(2026, 5, 1))
    with pytest.raises(
        InvalidInputError,
        match="overlaps tier 'meeting' hourly 30.00 from 2026-05-01 with no end",
    ):
        world.tier("meeting", "hourly", "40", date(2027, 1, 1))
    with pytest.raises(
        InvalidInputError,
        match="overlaps tier 'meeting' hourly 20.00 from 2026-01-01 to 2026-04-30",
    ):
        world.tier("meeting", "flat", "40", date(2025, 6, 1), date(2026, 1, 1))
    world.tier("meeting", "hourly", "15", date(2025, 1, 1), date(2025, 12, 31))
    world.tier("talk", "flat", "75", date(2026, 1, 1))
    with world.app.session_factory() as session:
        stored = session.scalars(select(RateTierRow.amount_cents).order_by(RateTierRow.id)).all()
    assert stored == [2000, 3000, 1500, 7500]


def test_an_unknown_activity_is_refused_and_a_known_one_uses_the_engagement_rate(world):
    engagement, _ = world.engagement(rate=25.0)
    later(world.app, date(2026, 6, 1))
    with pytest.raises(InvalidInputError, match="activity 'cooking' is unknown: give one of"):
        world.log(engagement, date(2026, 5, 1), "1", "cooking")
    assert world.log(engagement, date(2026, 5, 1), "2", "training").amount_cents == 5000
    world.tier("cooking", "flat", "30", date(2026, 1, 1))
    assert world.log(engagement, date(2026, 5, 1), "1", "cooking").amount_cents == 3000


def test_the_same_activity_is_logged_once_whichever_path_it_comes_by(world):
    engagement, _ = world.engagement(rate=25.0)
    later(world.app, date(2026, 6, 1))
    world.log(engagement, date(2026, 5, 1), "2")
    with pytest.raises(DuplicateError, match="already has 2 h of 'meeting' on 2026-05-01"):
        world.log(engagement, date(2026, 5, 1), "2")
    world.log(engagement, date(2026, 5, 1), "1")  # another meeting, of another length
    report = run_import(
        world,
        csv_file(
            f"{engagement},2026-05-01,meeting,2,",  # 2: logged already
            f"{engagement},2026-05-01,meeting,1,",  # 3: logged already
            f"{engagement},2026-05-01,meeting,2,evening",  # 4: good: another note
            f"{engagement},2026-05-02,meeting,2,",  # 5: good
            f"{engagement},2026-05-02,meeting,2,",  # 6: repeats line 5
        ),
        skip_invalid=True,
    )
    assert {p.line: p.reason for p in report.problems}.keys() == {2, 3, 6}
    assert "(already logged)" in report.problems[0].reason
    assert "(line 5)" in report.problems[2].reason
    assert report.imported == 2
    with pytest.raises(DuplicateError, match="already has 2 h of 'meeting' on 2026-05-02"):
        world.log(engagement, date(2026, 5, 2), "2")
    with world.app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ActivityLogRow)) == 4
