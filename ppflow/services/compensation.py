"""Compensation use cases: rate tiers, hours logged (one at a time or from a CSV file),
expenses, declined payment, program budgets, and the alerts they raise.

Each use case runs in one unit of work that also has ``pay``, the compensation
repository (``uow.pay``). An alert is an
outbox row for every coordinator, written in the same transaction as the hours that
crossed the threshold, and keyed so that a threshold crossed once alerts once: per
program, fiscal year and level (80% and 100%) for the budget, per payee and calendar year
for the T4A level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from ppflow.domain.commands import Meta
from ppflow.domain.compensation import (
    EXPENSE_KINDS,
    CompensationPolicy,
    RateTier,
    calendar_year_bounds,
    check_activity,
    check_known_activity,
    check_no_overlap,
    declined_on,
    fiscal_year,
    fiscal_year_bounds,
    fiscal_year_label,
    money,
    new_tier,
    parse_hours,
    parse_money,
    percent,
    rate_to_cents,
    value_activity,
)
from ppflow.domain.compensation import hours as hours_text
from ppflow.domain.errors import DuplicateError, InvalidInputError, NotFoundError, PPFlowError
from ppflow.domain.lifecycle import EngagementStage as E
from ppflow.services.csv_files import read_csv
from ppflow.services.notifications import InvalidRecipientError, queue_notification
from ppflow.services.ports import (
    ActivityEntry,
    BudgetLine,
    Clock,
    EngagementPay,
    Expense,
    PayeeTotal,
    PayEntry,
    UnitOfWork,
)
from ppflow.services.referral_import import RowProblem

PAYABLE_STAGES = (E.ACTIVE, E.COMPLETED, E.EVALUATED, E.ENDED_EARLY)
BUDGET_ALERT = "budget_alert"
T4A_ALERT = "t4a_threshold"
CSV_REQUIRED = ("engagement", "date", "activity", "hours")
CSV_OPTIONAL = ("note",)
MAX_NOTE = 500
MAX_RECEIPT = 200


# ----------------------------------------------------------------- data and ports


@dataclass(frozen=True)
class Alert:
    """A threshold crossed, and how many coordinators were told (newly queued)."""

    kind: str  # budget_alert | t4a_threshold
    subject: str  # program code or advisor code
    year: str  # fiscal year label, or calendar year
    amount_cents: int
    limit_cents: int
    notified: int
    unreachable: tuple[str, ...] = ()
    level: int = 0  # for a budget: the share of it reached, in percent (80 or 100)


# ----------------------------------------------------------------------- commands


@dataclass(frozen=True)
class AddRateTier:
    activity: str
    kind: str  # hourly | flat
    amount: str  # dollars, as text: "25.00"
    effective_from: date
    effective_to: date | None = None
    meta: Meta = Meta()


@dataclass(frozen=True)
class LogHours:
    engagement: str
    day: date
    activity: str
    hours: str  # as text: "1.5"
    note: str = ""
    meta: Meta = Meta()


@dataclass(frozen=True)
class VoidEntry:
    entry: int  # the id ``pay entries`` shows
    reason: str
    meta: Meta = Meta()


@dataclass(frozen=True)
class Voided:
    entry: int
    reversal: int | None  # the reversing entry's id (None for a replayed request)
    engagement: str
    centihours: int
    amount_cents: int
    replayed: bool = False


@dataclass(frozen=True)
class RecordExpense:
    engagement: str
    day: date
    kind: str
    amount: str  # dollars, as text
    receipt: str = ""
    meta: Meta = Meta()


@dataclass(frozen=True)
class Logged:
    engagement: str
    centihours: int
    amount_cents: int
    declined: bool
    alerts: tuple[Alert, ...] = ()
    replayed: bool = False


@dataclass(frozen=True)
class ExpenseRecorded:
    engagement: str
    amount_cents: int
    alerts: tuple[Alert, ...] = ()
    replayed: bool = False


@dataclass(frozen=True)
class PaymentDeclined:
    advisor: str
    effective_from: date
    entries_waived: int
    already_recorded: bool


@dataclass
class HoursImport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    imported: int = 0
    already_imported: int = 0
    alerts: list[Alert] = field(default_factory=list)

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems}


@dataclass(frozen=True)
class Summary:
    year: int
    fiscal_label: str
    payees: list[PayeeTotal]
    budgets: list[BudgetLine]
    t4a_threshold_cents: int


# ------------------------------------------------------------------------- tiers


def add_rate_tier(uow: UnitOfWork, cmd: AddRateTier, clock: Clock) -> RateTier:
    """Add a rate tier; refused if its dates intersect another tier's for the same
    activity (OverlappingTierError names that tier)."""
    tier = new_tier(cmd.activity, cmd.kind, cmd.amount, cmd.effective_from, cmd.effective_to)
    with uow:
        check_no_overlap(tier, uow.pay.tiers(tier.activity))
        added = uow.pay.add_tier(tier, clock.now(), cmd.meta.actor)
        uow.commit()
    return added


def list_rate_tiers(uow: UnitOfWork) -> list[RateTier]:
    with uow:
        return uow.pay.tiers()


# ------------------------------------------------------------------------- hours


def _payable(engagement: EngagementPay | None, code: str, day: date, today: date) -> EngagementPay:
    if engagement is None:
        raise NotFoundError("engagement", code)
    if engagement.stage not in PAYABLE_STAGES:
        raise InvalidInputError(
            f"engagement {code} is {engagement.stage}; only an engagement that has started "
            "can be paid"
        )
    if day > today:
        raise InvalidInputError(f"date {day.isoformat()} is in the future")
    if engagement.start_date and day < engagement.start_date:
        raise InvalidInputError(
            f"date {day.isoformat()} is before engagement {code} started "
            f"({engagement.start_date.isoformat()}): nothing can be logged before its start"
        )
    return engagement


def _check_text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        raise InvalidInputError(f"{what} contains control characters")
    return value


def value_entry(
    cmd: LogHours,
    engagement: EngagementPay | None,
    tiers: list[RateTier],
    declined_from: list[date],
    today: date,
    request_id: str | None = None,
) -> ActivityEntry:
    """Check one logged activity and value it; raises InvalidInputError saying why not.
    Both ``log_hours`` and ``import_hours`` come through here, so they share each rule."""
    activity = check_known_activity(cmd.activity, tiers)
    centihours = parse_hours(cmd.hours)
    note = _check_text(cmd.note, "note", MAX_NOTE)
    engagement = _payable(engagement, cmd.engagement, cmd.day, today)
    rate = rate_to_cents(engagement.hourly_rate) if engagement.hourly_rate is not None else None
    valuation = value_activity(
        activity=activity,
        day=cmd.day,
        centihours=centihours,
        tiers=tiers,
        engagement_rate_cents=rate,
        declined=declined_on(declined_from, cmd.day),
    )
    return ActivityEntry(
        engagement=engagement.code,
        day=cmd.day,
        activity=activity,
        centihours=centihours,
        rate_cents=valuation.rate_cents,
        basis=valuation.basis,
        amount_cents=valuation.amount_cents,
        declined=valuation.declined,
        note=note,
        request_id=request_id,
    )


EntryKey = tuple[str, date, str, int, str]


def entry_key(entry: ActivityEntry) -> EntryKey:
    """What makes two logged activities the same: engagement, date, activity, hours and
    note. Two meetings on one day are two entries when their hours or notes differ."""
    return (entry.engagement, entry.day, entry.activity, entry.centihours, entry.note)


def check_not_repeated(entry: ActivityEntry, logged: dict[EntryKey, str]) -> None:
    """The one rule against logging an activity twice, for ``pay log`` and ``pay import``
    alike: ``logged`` maps each key already logged (in the database, or earlier in the
    same file) to where it is. A voided entry and its reversal count as not logged, so the
    corrected activity can be logged again."""
    where = logged.get(entry_key(entry))
    if where is not None:
        raise DuplicateError(
            f"{entry.engagement} already has {hours_text(entry.centihours)} h of "
            f"'{entry.activity}' on {entry.day.isoformat()} ({where}); if this is another "
            "one, give it a note that tells them apart"
        )


def _logged(uow: UnitOfWork, entries: Iterable[ActivityEntry]) -> dict[EntryKey, str]:
    pairs = {(e.engagement, e.day) for e in entries}
    return {key: "already logged" for key in uow.pay.logged_keys(pairs)}


def log_hours(
    uow: UnitOfWork,
    cmd: LogHours,
    policy: CompensationPolicy,
    clock: Clock,
) -> Logged:
    """Log hours for one activity of an engagement; the amount owed is valued with the
    tier in effect on the activity's date. The same request id twice logs once."""
    request_id = cmd.meta.request_id
    with uow:
        now = clock.now()
        if request_id and uow.pay.logged_request_ids([request_id]):
            return Logged(cmd.engagement, 0, 0, False, replayed=True)
        engagement = uow.pay.engagements([cmd.engagement]).get(cmd.engagement)
        declines = uow.pay.declines([engagement.advisor]) if engagement else {}
        entry = value_entry(
            cmd,
            engagement,
            uow.pay.tiers(),
            declines.get(engagement.advisor, []) if engagement else [],
            now.date(),
            request_id,
        )
        check_not_repeated(entry, _logged(uow, [entry]))
        uow.pay.add_activity(entry, now, cmd.meta.actor)
        touched = [(engagement, entry.day)] if engagement else []  # value_entry refuses none
        alerts = raise_alerts(uow, touched, policy, now, payees=True)
        uow.commit()
    return Logged(entry.engagement, entry.centihours, entry.amount_cents, entry.declined, alerts)


def list_entries(uow: UnitOfWork, engagement: str | None = None) -> list[PayEntry]:
    """Every pay entry (of one engagement), oldest first, with its id for ``pay void``."""
    with uow:
        if engagement is not None and not uow.pay.engagements([engagement]):
            raise NotFoundError("engagement", engagement)
        return uow.pay.entries(engagement)


def void_entry(uow: UnitOfWork, cmd: VoidEntry, clock: Clock) -> Voided:
    """Void a pay entry by writing its reversal: the same engagement, date and activity,
    the hours and amount negated, the reason as its note. Nothing is deleted, so the books
    keep both; their sum is zero in every total. An entry voided already, or itself a
    reversal, is refused, and two voids of one entry at once cannot both be written (the
    reversal's ``voids`` is unique)."""
    reason = _check_text(cmd.reason, "reason", MAX_NOTE)
    if not reason:
        raise InvalidInputError("give the reason for voiding the entry (--reason)")
    request_id = cmd.meta.request_id
    with uow:
        original = uow.pay.entry(cmd.entry)
        if original is None:
            raise InvalidInputError(
                f"there is no pay entry {cmd.entry}; ppflow pay entries lists them with their ids"
            )
        if request_id and uow.pay.logged_request_ids([request_id]):
            return Voided(original.id, None, original.engagement, 0, 0, replayed=True)
        if original.voids is not None:
            raise InvalidInputError(
                f"entry {original.id} is the reversal of entry {original.voids}; "
                "log the activity again instead of voiding its reversal"
            )
        if original.voided_by is not None:
            raise DuplicateError(
                f"entry {original.id} was already voided by entry {original.voided_by}"
            )
        reversal = ActivityEntry(
            engagement=original.engagement,
            day=original.day,
            activity=original.activity,
            centihours=-original.centihours,
            rate_cents=0,
            basis="void",
            amount_cents=-original.amount_cents,
            declined=original.declined,
            note=reason,
            request_id=request_id,
            voids=original.id,
        )
        reversal_id = uow.pay.add_activity(reversal, clock.now(), cmd.meta.actor)
        uow.commit()
    return Voided(
        original.id, reversal_id, original.engagement, original.centihours, original.amount_cents
    )


# ---------------------------------------------------------------------- CSV import


def parse_hours_csv(data: bytes, meta: Meta) -> tuple[list[tuple[int, LogHours]], list[RowProblem]]:
    """Read the rows into commands, with every problem of each row that needs no
    database: missing fields, extra fields, a bad date, bad hours, a bad activity, a bad
    note. Repeated rows are found by ``import_hours``, with the rule ``pay log`` uses."""
    commands: list[tuple[int, LogHours]] = []
    problems: list[RowProblem] = []
    for record in read_csv(data, CSV_REQUIRED, CSV_OPTIONAL):
        line, row = record.line, record.values
        reasons = list(record.problems)
        empty = [c for c in CSV_REQUIRED if not row.get(c)]
        if empty:
            reasons.append(f"missing {', '.join(empty)}")
        day = None
        if row.get("date"):
            try:
                day = date.fromisoformat(row["date"])
            except ValueError:
                reasons.append(f"date '{row['date']}' is not YYYY-MM-DD")
        activity, hours, note = row.get("activity", ""), row.get("hours", ""), row.get("note", "")
        checks: list[tuple[Callable, tuple]] = []
        if activity:
            checks.append((check_activity, (activity,)))
        if hours:
            checks.append((parse_hours, (hours,)))
        checks.append((_check_text, (note, "note", MAX_NOTE)))
        for check, args in checks:
            try:
                check(*args)
            except InvalidInputError as error:
                reasons.append(str(error))
        if reasons or day is None:  # no date is a missing field, among the reasons
            problems.append(RowProblem(line, "; ".join(reasons)))
            continue
        engagement = row.get("engagement", "").upper()
        commands.append((line, LogHours(engagement, day, activity, hours, note, meta)))
    return commands, problems


def import_hours(
    uow: UnitOfWork,
    data: bytes,
    meta: Meta,
    policy: CompensationPolicy,
    skip_invalid: bool = False,
    *,
    clock: Clock,
    progress: Callable[[int, int], None] | None = None,
) -> HoursImport:
    """Import hours from CSV (``engagement,date,activity,hours[,note]``). Every row is
    checked first, against the database too (engagement known and started, a rate for
    the activity); if any is bad nothing is imported, unless ``skip_invalid``. Each row
    is keyed by the file's content and its line, so importing the same file again adds
    nothing."""
    commands, problems = parse_hours_csv(data, meta)
    digest = hashlib.sha256(data).hexdigest()[:20]
    report = HoursImport(rows=len(commands) + len(problems), problems=problems)
    with uow:
        now = clock.now()
        engagements = uow.pay.engagements(c.engagement for _, c in commands)
        declines = uow.pay.declines(e.advisor for e in engagements.values())
        tiers = uow.pay.tiers()
        done = uow.pay.logged_request_ids(f"csv:{digest}:{line}" for line, _ in commands)
        entries: list[ActivityEntry] = []
        valued: list[tuple[int, ActivityEntry]] = []
        for line, cmd in commands:
            request_id = f"csv:{digest}:{line}"
            if request_id in done:
                report.already_imported += 1
                continue
            engagement = engagements.get(cmd.engagement)
            try:
                valued.append(
                    (
                        line,
                        value_entry(
                            cmd,
                            engagement,
                            tiers,
                            declines.get(engagement.advisor, []) if engagement else [],
                            now.date(),
                            request_id,
                        ),
                    )
                )
            except PPFlowError as error:
                report.problems.append(RowProblem(line, str(error)))
        logged = _logged(uow, (e for _, e in valued))
        for line, entry in valued:
            try:
                check_not_repeated(entry, logged)
            except DuplicateError as error:
                report.problems.append(RowProblem(line, str(error)))
                continue
            logged[entry_key(entry)] = f"line {line}"
            entries.append(entry)
        report.problems.sort(key=lambda p: p.line)
        if report.problems and not skip_invalid:
            return report
        for number, entry in enumerate(entries, 1):
            uow.pay.add_activity(entry, now, meta.actor)
            if progress:
                progress(number, len(entries))
        touched = [(engagements[e.engagement], e.day) for e in entries]
        report.alerts = list(raise_alerts(uow, touched, policy, now, payees=True))
        uow.commit()
        report.imported = len(entries)
    return report


# ----------------------------------------------------------------------- expenses


def record_expense(
    uow: UnitOfWork,
    cmd: RecordExpense,
    policy: CompensationPolicy,
    clock: Clock,
) -> ExpenseRecorded:
    """An expense to reimburse, apart from pay: it counts against the program's budget,
    not towards the payee's T4A total, and is owed even when payment was declined."""
    kind = cmd.kind.strip().lower()
    if kind not in EXPENSE_KINDS:
        raise InvalidInputError(f"expense kind '{kind}' is not one of {', '.join(EXPENSE_KINDS)}")
    cents = parse_money(cmd.amount)
    if cents == 0:
        raise InvalidInputError("an expense's amount must be more than 0")
    receipt = _check_text(cmd.receipt, "receipt note", MAX_RECEIPT)
    with uow:
        now = clock.now()
        engagement = _payable(
            uow.pay.engagements([cmd.engagement]).get(cmd.engagement),
            cmd.engagement,
            cmd.day,
            now.date(),
        )
        expense = Expense(engagement.code, cmd.day, kind, cents, receipt, cmd.meta.request_id)
        if uow.pay.add_expense(expense, now, cmd.meta.actor) is None:
            return ExpenseRecorded(engagement.code, cents, replayed=True)
        alerts = raise_alerts(uow, [(engagement, cmd.day)], policy, now, payees=False)
        uow.commit()
    return ExpenseRecorded(engagement.code, cents, alerts)


# ------------------------------------------------------------------------ decline


def decline_payment(
    uow: UnitOfWork,
    advisor: str,
    effective_from: date,
    meta: Meta,
    clock: Clock,
) -> PaymentDeclined:
    """The advisor declines payment from a date on: their activities on or after it owe
    nothing (those already logged too); their hours still count, and expenses are still
    reimbursed."""
    with uow:
        now = clock.now()
        added = uow.pay.add_decline(advisor, effective_from, now, meta.actor)
        waived = uow.pay.waive_from(advisor, effective_from)
        uow.commit()
    return PaymentDeclined(advisor, effective_from, waived, already_recorded=not added)


# ------------------------------------------------------------------------ budgets


def set_budget(
    uow: UnitOfWork,
    program: str,
    year: int,
    amount: str,
    meta: Meta,
    policy: CompensationPolicy,
    clock: Clock,
) -> tuple[Alert, ...]:
    """Set a program's budget for a fiscal year (named by the year it starts in). If the
    spending already committed reaches the alert share, the coordinators are told now."""
    if not 2000 <= year <= 2100:
        raise InvalidInputError(f"fiscal year {year} is not a year between 2000 and 2100")
    cents = parse_money(amount, "budget")
    with uow:
        now = clock.now()
        uow.pay.set_budget(program, year, cents, now, meta.actor)
        alerts = _budget_alerts(uow, {(program, year)}, policy, now)
        uow.commit()
    return tuple(alerts)


def compensation_summary(uow: UnitOfWork, year: int, policy: CompensationPolicy) -> Summary:
    """Per payee for a calendar year (the T4A view), and per program budget for the
    fiscal year that starts in that year."""
    with uow:
        start, end = calendar_year_bounds(year)
        return Summary(
            year=year,
            fiscal_label=fiscal_year_label(year, policy.fiscal_year_start_month),
            payees=uow.pay.payees(start, end),
            budgets=uow.pay.budget_lines(year, policy.fiscal_year_start_month),
            t4a_threshold_cents=policy.t4a_threshold_cents,
        )


# ------------------------------------------------------------------------- alerts


def raise_alerts(
    uow: UnitOfWork,
    touched: Iterable[tuple[EngagementPay, date]],
    policy: CompensationPolicy,
    now: datetime,
    payees: bool,
) -> tuple[Alert, ...]:
    """After amounts were added: check the budget of each program and fiscal year they
    fall in, and (for pay, not expenses) each payee's total for the calendar year."""
    touched = list(touched)
    month = policy.fiscal_year_start_month
    programs = {(e.program, fiscal_year(day, month)) for e, day in touched if e.program}
    alerts = _budget_alerts(uow, programs, policy, now)
    if payees:
        for advisor, year in sorted({(e.advisor, day.year) for e, day in touched}):
            total = uow.pay.payee_total(advisor, *calendar_year_bounds(year))
            if not policy.t4a_due(total):
                continue
            context = {
                "advisor": advisor,
                "year": str(year),
                "total": money(total),
                "threshold": money(policy.t4a_threshold_cents),
                "currency": policy.currency,
            }
            alerts.append(
                _notify(
                    uow,
                    T4A_ALERT,
                    advisor,
                    str(year),
                    total,
                    policy.t4a_threshold_cents,
                    context,
                    f"{T4A_ALERT}:{advisor}:{year}",
                    now,
                )
            )
    return tuple(a for a in alerts if a.notified or a.unreachable)


def _budget_alerts(
    uow: UnitOfWork,
    programs: Iterable[tuple[str, int]],
    policy: CompensationPolicy,
    now: datetime,
) -> list[Alert]:
    alerts: list[Alert] = []
    month = policy.fiscal_year_start_month
    for program, year in sorted(programs):
        budget = uow.pay.budget(program, year)
        if budget is None:
            continue
        committed = uow.pay.committed(program, *fiscal_year_bounds(year, month))
        label = fiscal_year_label(year, month)
        context = {
            "program": program,
            "fiscal_year": label,
            "budget": money(budget),
            "committed": money(committed),
            "percent": percent(committed, budget),
            "currency": policy.currency,
        }
        for level in policy.budget_levels_reached(committed, budget):
            # The alert ratio's level keeps the key it had before the 100% alert existed,
            # so that an 80% alert already sent is not sent again; 100% has its own.
            key = f"{BUDGET_ALERT}:{program}:{year}"
            if level != policy.budget_alert_ratio:
                key += f":{int(level * 100)}"
            alert = _notify(uow, BUDGET_ALERT, program, label, committed, budget, context, key, now)
            if alert.notified or alert.unreachable:
                alerts.append(replace(alert, level=int(level * 100)))
    return alerts


def _notify(
    uow: UnitOfWork,
    kind: str,
    subject: str,
    year: str,
    amount: int,
    limit: int,
    context: dict,
    key: str,
    now: datetime,
) -> Alert:
    """Queue the alert to every coordinator, once per coordinator and key. A coordinator
    without a valid address is reported and skipped, so the hours are still logged (and
    the alert is queued for them once their address is corrected and hours are added)."""
    notified = 0
    unreachable: list[str] = []
    for coordinator in uow.pay.coordinators():
        try:
            if queue_notification(
                uow,
                template=kind,
                recipient_kind="staff",
                recipient_code=coordinator,
                context=context,
                idempotency_key=f"{key}:{coordinator}",
                at=now,
            ):
                notified += 1
        except InvalidRecipientError:
            unreachable.append(coordinator)
    return Alert(kind, subject, year, amount, limit, notified, tuple(unreachable))
