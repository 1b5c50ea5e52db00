"""Compensation use cases on the in-memory unit of work: tiers, hours (one at a time and
from CSV), expenses, declined payment, budgets and the alerts they raise."""

from __future__ import annotations

from datetime import date

import pytest

from ppflow.domain.commands import Meta
from ppflow.domain.compensation import CompensationPolicy
from ppflow.domain.errors import DuplicateError, InvalidInputError, NotFoundError
from ppflow.services import compensation as pay
from tests.unit.fakes import advisor_at, organization

POLICY = CompensationPolicy()
META = Meta(actor="camille")
DAY = date(2026, 3, 2)


@pytest.fixture
def o():
    return organization()


def engaged(o, rate: float | None = None) -> str:
    code = advisor_at(o, "active")  # the engagement starts on 2026-03-02
    o.later(days=30)  # today is 2026-04-01, in fiscal year 2026-27
    if rate is not None:
        o.uow.tables.engagements[o.uow.engagements.for_advisor(code)[0].code].hourly_rate = rate
    return o.uow.engagements.for_advisor(code)[0].code


def meeting_tier(o, amount="25.00", start=date(2026, 1, 1), end=None):
    return pay.add_rate_tier(
        o.uow, pay.AddRateTier("meeting", "hourly", amount, start, end), o.clock
    )


def hours(engagement, h="2", day=DAY, activity="meeting", request_id=None):
    return pay.LogHours(engagement, day, activity, h, meta=Meta("camille", request_id=request_id))


def test_rate_tiers_are_listed_by_activity_and_start(o):
    meeting_tier(o, start=date(2026, 5, 1))
    meeting_tier(o, "20.00", start=date(2025, 1, 1), end=date(2026, 4, 30))
    pay.add_rate_tier(o.uow, pay.AddRateTier("talk", "flat", "75", date(2026, 1, 1)), o.clock)

    tiers = pay.list_rate_tiers(o.uow)

    assert [(t.activity, t.effective_from.year) for t in tiers] == [
        ("meeting", 2025),
        ("meeting", 2026),
        ("talk", 2026),
    ]
    with pytest.raises(InvalidInputError, match="amount must be more than 0"):
        meeting_tier(o, "0")


@pytest.mark.parametrize(
    ("start", "end", "other"),
    [
        (date(2026, 5, 1), None, "from 2026-05-01 with no end"),  # the same start
        (date(2027, 1, 1), None, "from 2026-05-01 with no end"),  # within an open-ended one
        (date(2026, 4, 30), date(2026, 5, 1), "from 2026-01-01 to 2026-04-30"),  # both
        (date(2025, 1, 1), None, "from 2026-01-01 to 2026-04-30"),  # runs over both
        (date(2025, 1, 1), date(2026, 1, 1), "from 2026-01-01 to 2026-04-30"),  # its first day
    ],
)
def test_a_tier_that_overlaps_another_for_the_same_activity_is_refused_naming_it(
    o, start, end, other
):
    meeting_tier(o, "20.00", start=date(2026, 1, 1), end=date(2026, 4, 30))
    meeting_tier(o, "30.00", start=date(2026, 5, 1))

    with pytest.raises(InvalidInputError, match=f"overlaps tier 'meeting' hourly .* {other}"):
        meeting_tier(o, "40.00", start=start, end=end)

    assert len(pay.list_rate_tiers(o.uow)) == 2


def test_tiers_that_meet_without_overlapping_or_for_another_activity_are_accepted(o):
    meeting_tier(o, start=date(2026, 1, 1), end=date(2026, 4, 30))
    meeting_tier(o, start=date(2026, 5, 1))
    meeting_tier(o, start=date(2025, 1, 1), end=date(2025, 12, 31))
    pay.add_rate_tier(o.uow, pay.AddRateTier("talk", "flat", "75", date(2026, 1, 1)), o.clock)

    assert len(pay.list_rate_tiers(o.uow)) == 4


def test_hours_are_valued_with_the_tier_in_effect_on_the_activitys_date(o):
    engagement = engaged(o)
    meeting_tier(o, "20.00", start=date(2025, 1, 1), end=date(2026, 3, 9))
    meeting_tier(o, "30.00", start=date(2026, 3, 10))

    early = pay.log_hours(o.uow, hours(engagement, "1.5", date(2026, 3, 5)), POLICY, o.clock)
    late = pay.log_hours(o.uow, hours(engagement, "1.5", date(2026, 3, 20)), POLICY, o.clock)

    assert (early.centihours, early.amount_cents) == (150, 3000)
    assert late.amount_cents == 4500
    [first, _] = o.uow.tables.activities
    assert (first.actor, first.entry.basis) == ("camille", "hourly")


def test_the_same_request_logs_hours_once(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, request_id="sheet-1"), POLICY, o.clock)

    again = pay.log_hours(o.uow, hours(engagement, request_id="sheet-1"), POLICY, o.clock)

    assert again.replayed
    assert len(o.uow.tables.activities) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"day": date(2026, 4, 2)}, "date 2026-04-02 is in the future"),
        (
            {"day": date(2026, 3, 1)},
            "is before engagement .* started \\(2026-03-02\\): nothing can be logged before",
        ),
        ({"activity": "Big Meeting"}, "must be a short lowercase word"),
        (
            {"activity": "cooking"},
            "activity 'cooking' is unknown: give one of interview, meeting, preparation, "
            "presentation, review, training, workshop, or add a rate tier",
        ),
    ],
)
def test_hours_that_cannot_be_paid_are_refused_and_nothing_is_logged(o, change, message):
    engagement = engaged(o)
    meeting_tier(o)
    cmd = hours(engagement)
    cmd = pay.LogHours(**{**vars(cmd), **change})
    with pytest.raises(InvalidInputError, match=message):
        pay.log_hours(o.uow, cmd, POLICY, o.clock)
    assert o.uow.tables.activities == []


def test_hours_for_an_unknown_or_unstarted_engagement_are_refused(o):
    with pytest.raises(NotFoundError, match="no engagement 'EN-NONE'"):
        pay.log_hours(o.uow, hours("EN-NONE"), POLICY, o.clock)


def test_crossing_the_t4a_threshold_alerts_every_coordinator_once_per_year(o):
    engagement = engaged(o)
    meeting_tier(o, "100.00")

    below = pay.log_hours(o.uow, hours(engagement, "4", date(2026, 3, 3)), POLICY, o.clock)
    crossed = pay.log_hours(o.uow, hours(engagement, "1", date(2026, 3, 4)), POLICY, o.clock)
    beyond = pay.log_hours(o.uow, hours(engagement, "1", date(2026, 3, 5)), POLICY, o.clock)

    assert below.alerts == () and beyond.alerts == ()
    [alert] = crossed.alerts
    assert (alert.kind, alert.amount_cents, alert.notified) == ("t4a_threshold", 50000, 1)
    [queued] = o.uow.queued("t4a_threshold")
    advisor = o.uow.engagements.get(engagement).advisor
    assert queued.recipient_code == o.coordinator
    assert queued.idempotency_key == f"t4a_threshold:{advisor}:2026:{o.coordinator}"
    assert queued.context["total"] == "500.00"


def test_a_budget_alert_is_raised_when_committed_spending_reaches_the_share(o):
    engagement = engaged(o)
    meeting_tier(o, "100.00")
    assert pay.set_budget(o.uow, o.program, 2025, "1000", META, POLICY, o.clock) == ()

    logged = pay.log_hours(o.uow, hours(engagement, "8"), POLICY, o.clock)

    budget = [a for a in logged.alerts if a.kind == "budget_alert"]
    assert [(a.subject, a.year, a.amount_cents, a.limit_cents) for a in budget] == [
        (o.program, "2025-26", 80000, 100000)
    ]
    [queued] = o.uow.queued("budget_alert")
    assert queued.idempotency_key == f"budget_alert:{o.program}:2025:{o.coordinator}"
    assert queued.context["percent"] == 80


def test_setting_a_budget_below_what_is_committed_alerts_now(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "4"), POLICY, o.clock)

    alerts = pay.set_budget(o.uow, o.program, 2025, "100", META, POLICY, o.clock)

    assert [(a.level, a.amount_cents, a.limit_cents) for a in alerts] == [
        (80, 10000, 10000),
        (100, 10000, 10000),
    ]
    with pytest.raises(NotFoundError, match="no program 'PP-NONE'"):
        pay.set_budget(o.uow, "PP-NONE", 2025, "100", META, POLICY, o.clock)
    with pytest.raises(InvalidInputError, match="fiscal year 1999"):
        pay.set_budget(o.uow, o.program, 1999, "100", META, POLICY, o.clock)


def test_an_expense_counts_against_the_budget_not_the_payee_and_is_recorded_once(o):
    engagement = engaged(o)
    cmd = pay.RecordExpense(engagement, DAY, "Parking", "12.50", meta=Meta(request_id="r1"))

    first = pay.record_expense(o.uow, cmd, POLICY, o.clock)
    again = pay.record_expense(o.uow, cmd, POLICY, o.clock)

    assert first.amount_cents == 1250 and not first.replayed and again.replayed
    [payee] = pay.compensation_summary(o.uow, 2026, POLICY).payees
    assert (payee.owed_cents, payee.expenses_cents) == (0, 1250)
    with pytest.raises(InvalidInputError, match="expense kind 'taxi' is not one of"):
        pay.record_expense(o.uow, pay.RecordExpense(engagement, DAY, "taxi", "5"), POLICY, o.clock)


def test_declining_payment_waives_what_was_logged_from_that_date_and_what_comes_after(o):
    engagement = engaged(o)
    advisor = o.uow.engagements.get(engagement).advisor
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2", date(2026, 3, 3)), POLICY, o.clock)
    pay.log_hours(o.uow, hours(engagement, "2", date(2026, 3, 10)), POLICY, o.clock)

    declined = pay.decline_payment(o.uow, advisor, date(2026, 3, 5), META, o.clock)
    later = pay.log_hours(o.uow, hours(engagement, "2", date(2026, 3, 20)), POLICY, o.clock)

    assert (declined.entries_waived, declined.already_recorded) == (1, False)
    assert (later.amount_cents, later.declined) == (0, True)
    assert pay.decline_payment(o.uow, advisor, date(2026, 3, 5), META, o.clock).already_recorded
    [payee] = pay.compensation_summary(o.uow, 2026, POLICY).payees
    assert (payee.centihours, payee.owed_cents, payee.declined) == (600, 5000, True)


def test_the_summary_shows_payees_of_the_year_and_budgets_of_the_fiscal_year(o):
    engagement = engaged(o, rate=40.0)
    pay.log_hours(o.uow, hours(engagement, "1"), POLICY, o.clock)
    pay.set_budget(o.uow, o.program, 2026, "5000", META, POLICY, o.clock)

    summary = pay.compensation_summary(o.uow, 2026, POLICY)

    assert summary.fiscal_label == "2026-27"
    assert [p.owed_cents for p in summary.payees] == [4000]
    assert [(b.program, b.budget_cents, b.committed_cents) for b in summary.budgets] == [
        (o.program, 500000, 0)  # the hours fall in fiscal 2025-26
    ]
    assert pay.compensation_summary(o.uow, 2025, POLICY).payees == []


# ------------------------------------------------------------------------ CSV import


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_an_hours_file_is_imported_once_whatever_the_number_of_runs(o):
    engagement = engaged(o)
    meeting_tier(o)
    data = csv("engagement,date,activity,hours,note", f"{engagement.lower()},2026-03-05,meeting,2,")
    seen = []

    first = pay.import_hours(
        o.uow, data, META, POLICY, clock=o.clock, progress=lambda *p: seen.append(p)
    )
    again = pay.import_hours(o.uow, data, META, POLICY, clock=o.clock)

    assert (first.rows, first.imported, first.problems) == (1, 1, [])
    assert seen == [(1, 1)]
    assert (again.imported, again.already_imported) == (0, 1)
    assert [a.entry.amount_cents for a in o.uow.tables.activities] == [5000]


def test_an_hours_file_with_a_bad_row_imports_nothing_unless_told_to_skip_it(o):
    engagement = engaged(o)
    meeting_tier(o)
    data = csv(
        "engagement,date,activity,hours",
        f"{engagement},2026-03-05,meeting,2",
        f"{engagement},05/03/2026,meeting,2",
        "EN-NONE,2026-03-05,meeting,1",
        f"{engagement},2026-03-05,meeting,2",
    )

    report = pay.import_hours(o.uow, data, META, POLICY, clock=o.clock)

    assert report.imported == 0 and o.uow.tables.activities == []
    assert sorted(report.bad_lines) == [3, 4, 5]
    assert "date '05/03/2026' is not YYYY-MM-DD" in report.problems[0].reason
    assert "no engagement 'EN-NONE'" in report.problems[1].reason
    assert "already has 2 h of 'meeting' on 2026-03-05 (line 2)" in report.problems[2].reason

    skipped = pay.import_hours(o.uow, data, META, POLICY, skip_invalid=True, clock=o.clock)
    assert skipped.imported == 1 and len(o.uow.tables.activities) == 1


def test_an_hours_file_without_the_required_columns_is_refused_as_a_whole(o):
    with pytest.raises(InvalidInputError, match="lacks the column\\(s\\) hours"):
        pay.import_hours(o.uow, csv("engagement,date,activity"), META, POLICY, clock=o.clock)


# --------------------------------------------------------------- the books' rules


def test_an_activity_with_a_tier_of_its_own_is_known_even_outside_the_list(o):
    engagement = engaged(o)
    pay.add_rate_tier(o.uow, pay.AddRateTier("cooking", "flat", "40", date(2026, 1, 1)), o.clock)

    logged = pay.log_hours(o.uow, hours(engagement, activity="cooking"), POLICY, o.clock)

    assert logged.amount_cents == 4000


def test_a_known_activity_without_a_tier_is_paid_at_the_engagement_rate(o):
    engagement = engaged(o, rate=30.0)

    logged = pay.log_hours(o.uow, hours(engagement, activity="training"), POLICY, o.clock)

    assert logged.amount_cents == 6000
    with pytest.raises(InvalidInputError, match="activity 'cooking' is unknown"):
        pay.log_hours(o.uow, hours(engagement, activity="cooking"), POLICY, o.clock)
    assert len(o.uow.tables.activities) == 1


def test_the_same_activity_twice_is_refused_unless_its_hours_or_note_differ(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)

    with pytest.raises(DuplicateError, match="already has 2 h of 'meeting' on 2026-03-02"):
        pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    pay.log_hours(o.uow, hours(engagement, "1.5"), POLICY, o.clock)
    afternoon = pay.LogHours(engagement, DAY, "meeting", "2", "afternoon", META)
    pay.log_hours(o.uow, afternoon, POLICY, o.clock)

    assert [a.entry.centihours for a in o.uow.tables.activities] == [200, 150, 200]


def test_the_import_refuses_what_the_log_refuses_and_accepts_what_it_accepts(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2", date(2026, 3, 5)), POLICY, o.clock)
    data = csv(
        "engagement,date,activity,hours,note",
        f"{engagement},2026-03-05,meeting,2,",  # 2: logged already
        f"{engagement},2026-03-06,meeting,2,",  # 3: good
        f"{engagement},2026-03-06,meeting,1,",  # 4: good: other hours
        f"{engagement},2026-03-06,meeting,2,",  # 5: repeats line 3
        f"{engagement},2026-03-06,meeting,2,afternoon",  # 6: good: another note
        f"{engagement},2026-03-06,cooking,1,",  # 7: unknown activity
        f"{engagement},2026-03-01,meeting,1,",  # 8: before the start
    )

    report = pay.import_hours(o.uow, data, META, POLICY, clock=o.clock)

    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [2, 5, 7, 8]
    assert "already has 2 h of 'meeting' on 2026-03-05 (already logged)" in reasons[2]
    assert "(line 3)" in reasons[5]
    assert "activity 'cooking' is unknown: give one of interview, meeting" in reasons[7]
    assert "before engagement" in reasons[8] and "nothing can be logged before" in reasons[8]
    skipped = pay.import_hours(o.uow, data, META, POLICY, skip_invalid=True, clock=o.clock)
    assert skipped.imported == 3 and len(o.uow.tables.activities) == 4


def test_the_budget_alerts_once_at_80_and_once_at_100_percent(o):
    engagement = engaged(o)
    meeting_tier(o, "100.00")
    pay.set_budget(o.uow, o.program, 2025, "1000", META, POLICY, o.clock)

    def log(h, day):
        logged = pay.log_hours(o.uow, hours(engagement, h, day), POLICY, o.clock)
        return [a.level for a in logged.alerts if a.kind == pay.BUDGET_ALERT]

    assert log("7.5", date(2026, 3, 2)) == []  # 75%
    assert log("1", date(2026, 3, 3)) == [80]  # 85%
    assert log("1", date(2026, 3, 4)) == []  # 95%
    assert log("1", date(2026, 3, 5)) == [100]  # 105%
    assert log("9", date(2026, 3, 6)) == []  # 195%
    keys = [n.idempotency_key for n in o.uow.queued("budget_alert")]
    assert keys == [
        f"budget_alert:{o.program}:2025:{o.coordinator}",
        f"budget_alert:{o.program}:2025:100:{o.coordinator}",
    ]


def test_each_budget_level_alerts_per_program_and_fiscal_year(o):
    engagement = engaged(o)
    meeting_tier(o, "100.00")
    pay.set_budget(o.uow, o.program, 2025, "100", META, POLICY, o.clock)
    pay.set_budget(o.uow, o.program, 2026, "100", META, POLICY, o.clock)

    old = pay.log_hours(o.uow, hours(engagement, "1", date(2026, 3, 31)), POLICY, o.clock)
    o.later(days=30)
    new = pay.log_hours(o.uow, hours(engagement, "1", date(2026, 4, 1)), POLICY, o.clock)

    assert [(a.year, a.level) for a in old.alerts if a.kind == pay.BUDGET_ALERT] == [
        ("2025-26", 80),
        ("2025-26", 100),
    ]
    assert [(a.year, a.level) for a in new.alerts if a.kind == pay.BUDGET_ALERT] == [
        ("2026-27", 80),
        ("2026-27", 100),
    ]


# ------------------------------------------------------------------------- voids


def void(entry: int, reason="logged on the wrong engagement", request_id=None):
    return pay.VoidEntry(entry, reason, Meta("camille", request_id=request_id))


def test_a_void_writes_the_reversing_entry_and_the_books_net_to_zero(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    [entry] = pay.list_entries(o.uow, engagement)

    voided = pay.void_entry(o.uow, void(entry.id), o.clock)

    original, reversal = pay.list_entries(o.uow, engagement)
    assert (voided.entry, voided.reversal) == (original.id, reversal.id)
    assert original.voided_by == reversal.id and reversal.voids == original.id
    assert (reversal.centihours, reversal.amount_cents) == (-200, -5000)
    assert (reversal.day, reversal.activity) == (original.day, original.activity)
    assert reversal.note == "logged on the wrong engagement"
    total = o.uow.pay.engagement_total(engagement)
    assert (total.centihours, total.owed_cents) == (0, 0)


def test_after_a_void_the_same_activity_can_be_logged_again(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    with pytest.raises(DuplicateError, match="already has"):
        pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    pay.void_entry(o.uow, void(1), o.clock)

    again = pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)

    assert again.amount_cents == 5000
    assert o.uow.pay.engagement_total(engagement).owed_cents == 5000


@pytest.mark.parametrize(
    ("entry", "reason", "message"),
    [
        (1, "again", "entry 1 was already voided by entry 2"),
        (2, "again", "entry 2 is the reversal of entry 1"),
        (9, "typo", "there is no pay entry 9; ppflow pay entries lists them"),
        (1, "   ", "give the reason for voiding"),
    ],
)
def test_a_void_is_refused_for_an_entry_voided_a_reversal_an_unknown_id_or_no_reason(
    o, entry, reason, message
):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    pay.void_entry(o.uow, void(1), o.clock)

    with pytest.raises((InvalidInputError, DuplicateError), match=message):
        pay.void_entry(o.uow, void(entry, reason), o.clock)
    assert len(pay.list_entries(o.uow)) == 2


def test_the_same_void_request_voids_once(o):
    engagement = engaged(o)
    meeting_tier(o)
    pay.log_hours(o.uow, hours(engagement, "2"), POLICY, o.clock)
    pay.void_entry(o.uow, void(1, request_id="void-1"), o.clock)

    again = pay.void_entry(o.uow, void(1, request_id="void-1"), o.clock)

    assert again.replayed
    assert len(pay.list_entries(o.uow, engagement)) == 2


def test_entries_of_an_unknown_engagement_are_refused(o):
    with pytest.raises(NotFoundError):
        pay.list_entries(o.uow, "EN-NOWHERE")
