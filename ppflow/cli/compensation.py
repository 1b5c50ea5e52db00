"""``ppflow pay``: rate tiers, hours, expenses, declines, budgets and the summary.

Output names advisors by code and shows amounts; it never prints personal data.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ppflow.cli.context import current_app, err, meta, out, styled
from ppflow.cli.errors import CommandGroup, about, fail, show_bad_rows
from ppflow.cli.typed import day_given, read_amount, read_choice, read_day, read_hours
from ppflow.domain.compensation import (
    KNOWN_ACTIVITIES,
    CompensationPolicy,
    hours,
    money,
    percent,
)
from ppflow.services import compensation as pay
from ppflow.services.csv_files import ACCEPTED, CsvFormatError, describe

pay_app = CommandGroup(help="Compensation: rate tiers, hours, expenses, budgets and alerts.")
tier_app = CommandGroup(help="Rate tiers with effective dates.")
pay_app.add_typer(tier_app, name="tier")


DATE_HELP = "e.g. 2026-12-05 or 5 December 2026"
DayOption = typer.Option(
    "--date", help=f"The day, {DATE_HELP} (default: today).", callback=read_day
)


class TierKind(StrEnum):
    hourly = "hourly"
    flat = "flat"


def _day(day: object, default: date) -> date:
    """The day an option gave (read by read_day), else ``default``."""
    return day_given(day) if day else default


def _policy() -> CompensationPolicy:
    settings = current_app().settings.compensation
    return CompensationPolicy.from_values(
        settings.t4a_threshold, settings.budget_alert_ratio, settings.fiscal_year_start_month
    )


def _today() -> date:
    return current_app().clock.now().date()


def show_alerts(alerts) -> None:
    for alert in alerts:
        if alert.kind == pay.BUDGET_ALERT:
            what = (
                f"program {alert.subject} has committed {money(alert.amount_cents)} of its "
                f"{money(alert.limit_cents)} budget for {alert.year} "
                f"({percent(alert.amount_cents, alert.limit_cents)}%, "
                f"past the {alert.level}% level)"
            )
        else:
            what = (
                f"advisor {alert.subject} reached {money(alert.amount_cents)} in {alert.year}"
                f" (T4A level {money(alert.limit_cents)})"
            )
        err.print(
            styled(
                "[bold yellow]alert:[/] {what}; {notified} coordinator(s) notified",
                what=what,
                notified=alert.notified,
            ),
            highlight=False,
        )
        if alert.unreachable:
            err.print(
                styled(
                    "[yellow]no valid address for coordinator(s) {codes}; correct it to send "
                    "them this alert[/]",
                    codes=", ".join(alert.unreachable),
                )
            )


# -------------------------------------------------------------------------- tiers


@tier_app.command("add")
def tier_add(
    activity: Annotated[
        str,
        typer.Argument(
            help="Activity kind, e.g. meeting.", callback=read_choice("activity", open_ended=True)
        ),
    ],
    kind: Annotated[TierKind, typer.Option(help="Per hour, or flat per activity.")],
    amount: Annotated[
        str,
        typer.Option(
            help="Dollars per hour, or per activity: 25.50 or 25,50.", callback=read_amount
        ),
    ],
    start: Annotated[
        str, typer.Option("--from", help=f"First day, {DATE_HELP}.", callback=read_day)
    ],
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day, inclusive (default: open).", callback=read_day),
    ] = None,
) -> None:
    """Add a rate tier for an activity from a date.

    A tier whose dates intersect another's for the same activity is refused (an
    open-ended tier runs forever)."""
    first = _day(start, _today())
    last = _day(end, first) if end else None
    tier = pay.add_rate_tier(
        current_app().uow(),
        pay.AddRateTier(activity, kind.value, amount, first, last, meta()),
        current_app().clock,
    )
    until = f" to {tier.effective_to}" if tier.effective_to else ""
    out.print(
        styled(
            "tier [bold]{activity}[/]: {kind} {amount} from {start}{until}",
            activity=tier.activity,
            kind=tier.kind,
            amount=money(tier.amount_cents),
            start=tier.effective_from,
            until=until,
        )
    )


@tier_app.command("list")
def tier_list() -> None:
    """List rate tiers by activity and date."""
    table = Table("activity", "kind", "amount", "from", "to", title="rate tiers")
    for tier in pay.list_rate_tiers(current_app().uow()):
        table.add_row(
            tier.activity,
            tier.kind,
            money(tier.amount_cents),
            tier.effective_from.isoformat(),
            tier.effective_to.isoformat() if tier.effective_to else "-",
        )
    out.print(table)


# -------------------------------------------------------------------------- hours


@pay_app.command("log")
def log(
    engagement: Annotated[str, typer.Argument(help="Engagement code (EN-...).")],
    activity: Annotated[
        str,
        typer.Option(
            help=f"One with a rate tier, or one of {', '.join(KNOWN_ACTIVITIES)} (or its name).",
            callback=read_choice("activity", open_ended=True),
        ),
    ],
    hours_text: Annotated[
        str, typer.Option("--hours", help="Hours, e.g. 1.5 or 1,5.", callback=read_hours)
    ],
    day: Annotated[str | None, DayOption] = None,
    note: Annotated[str, typer.Option(help="A short note (no health details).")] = "",
    request_id: Annotated[
        str | None, typer.Option(help="Logging twice with the same id logs once.")
    ] = None,
) -> None:
    """Log the hours of one activity; the amount owed uses the tier in effect that day."""
    logged = pay.log_hours(
        current_app().uow(),
        pay.LogHours(engagement, _day(day, _today()), activity, hours_text, note, meta(request_id)),
        _policy(),
        current_app().clock,
    )
    if logged.replayed:
        out.print(f"already logged with request id {request_id}; nothing changed")
        return
    owed = "payment declined, nothing owed" if logged.declined else money(logged.amount_cents)
    out.print(
        styled(
            "logged {hours} h on [bold]{engagement}[/]: {owed}",
            hours=hours(logged.centihours),
            engagement=logged.engagement,
            owed=owed,
        ),
        highlight=False,
    )
    show_alerts(logged.alerts)


@pay_app.command("entries")
def entries(
    engagement: Annotated[
        str | None, typer.Argument(help="Engagement code (EN-...); all when left out.")
    ] = None,
) -> None:
    """List the pay entries with the ids ppflow pay void takes; a voided entry shows the
    reversal that voids it."""
    found = pay.list_entries(current_app().uow(), engagement)
    if not found:
        out.print("no pay entries")
        return
    table = Table("entry", "engagement", "date", "activity", "hours", "owed", "status")
    for e in found:
        status = (
            f"voids {e.voids}: {e.note}"
            if e.voids is not None
            else f"voided by {e.voided_by}"
            if e.voided_by is not None
            else "declined"
            if e.declined
            else ""
        )
        table.add_row(
            str(e.id),
            e.engagement,
            e.day.isoformat(),
            e.activity,
            hours(e.centihours),
            money(e.amount_cents),
            status,
        )
    out.print(table)


@pay_app.command("void")
def void(
    entry: Annotated[int, typer.Argument(help="The entry's id (ppflow pay entries).")],
    reason: Annotated[str, typer.Option(help="Why the entry is void (kept on its reversal).")],
    request_id: Annotated[
        str | None, typer.Option(help="Voiding twice with the same id voids once.")
    ] = None,
) -> None:
    """Void a pay entry: a reversing entry, dated as the entry, negates its hours and
    amount; both stay in the books."""
    voided = pay.void_entry(
        current_app().uow(), pay.VoidEntry(entry, reason, meta(request_id)), current_app().clock
    )
    if voided.replayed:
        out.print(f"already voided with request id {request_id}; nothing changed")
        return
    out.print(
        styled(
            "entry {entry} voided by entry {reversal}: {hours} h and {amount} on "
            "[bold]{engagement}[/]",
            entry=voided.entry,
            reversal=voided.reversal,
            hours=hours(-voided.centihours),
            amount=money(-voided.amount_cents),
            engagement=voided.engagement,
        ),
        highlight=False,
    )


@pay_app.command(
    "import",
    help=(
        "Import hours from a CSV file: engagement, date, activity, hours and optionally "
        f"note. Accepted: {ACCEPTED}.\n\nEvery row is checked first; if any row is bad "
        "nothing is imported, unless --skip-invalid is given. Importing the same file again "
        "adds nothing."
    ),
)
def import_csv(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows anyway.")] = False,
) -> None:
    data = path.read_bytes()
    with about(path.name, (CsvFormatError,)):
        report = pay.import_hours(
            current_app().uow(),
            data,
            meta(),
            _policy(),
            skip_invalid=skip_invalid,
            clock=current_app().clock,
        )
        out.print(f"{path.name}: {describe(data)}", highlight=False, markup=False)
    if report.problems:
        show_bad_rows(report.problems, path.name)
    if report.problems and not skip_invalid:
        good = report.rows - len(report.bad_lines) - report.already_imported
        fail(
            "nothing imported: fix the rows above, or use --skip-invalid "
            f"to import the {good} good row(s)"
        )
    again = (
        f" ({report.already_imported} already imported before)" if report.already_imported else ""
    )
    out.print(f"imported {report.imported} of {report.rows} row(s){again}")
    show_alerts(report.alerts)


# ----------------------------------------------------------------------- expenses


@pay_app.command("expense")
def expense(
    engagement: Annotated[str, typer.Argument(help="Engagement code (EN-...).")],
    amount: Annotated[
        str, typer.Option(help="Dollars, e.g. 18.75 or 18,75.", callback=read_amount)
    ],
    kind: Annotated[
        str,
        typer.Option(
            help=f"One of {', '.join(pay.EXPENSE_KINDS)} (or its name).",
            callback=read_choice("expense"),
        ),
    ],
    day: Annotated[str | None, DayOption] = None,
    receipt: Annotated[str, typer.Option(help="Receipt note, e.g. its number.")] = "",
    request_id: Annotated[
        str | None, typer.Option(help="Recording twice with the same id records once.")
    ] = None,
) -> None:
    """Record an expense to reimburse, apart from pay."""
    recorded = pay.record_expense(
        current_app().uow(),
        pay.RecordExpense(engagement, _day(day, _today()), kind, amount, receipt, meta(request_id)),
        _policy(),
        current_app().clock,
    )
    if recorded.replayed:
        out.print(f"already recorded with request id {request_id}; nothing changed")
        return
    out.print(f"expense of {money(recorded.amount_cents)} recorded on {recorded.engagement}")
    show_alerts(recorded.alerts)


# ------------------------------------------------------------------------ decline


@pay_app.command("decline")
def decline(
    advisor: Annotated[str, typer.Argument(help="Advisor code (PA-...).")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="From this day (default: today).", callback=read_day),
    ] = None,
) -> None:
    """Record that an advisor declines payment from a day on.

    Nothing is owed for their activities from that day, those already logged
    included; their hours still count, and expenses are still reimbursed."""
    result = pay.decline_payment(
        current_app().uow(), advisor, _day(start, _today()), meta(), current_app().clock
    )
    note = " (already recorded)" if result.already_recorded else ""
    waived = result.entries_waived
    out.print(
        f"{result.advisor} declines payment from {result.effective_from}{note}; "
        f"{waived} logged {'activity' if waived == 1 else 'activities'} now owe nothing"
    )


# ------------------------------------------------------------------------- budget


@pay_app.command("budget")
def budget(
    program: Annotated[str, typer.Argument(help="Program code.")],
    year: Annotated[int, typer.Option(help="Fiscal year, by the year it starts in.")],
    amount: Annotated[str, typer.Option(help="Dollars.", callback=read_amount)],
) -> None:
    """Set a program's budget for a fiscal year."""
    rules = _policy()
    alerts = pay.set_budget(
        current_app().uow(), program, year, amount, meta(), rules, current_app().clock
    )
    out.print(f"budget of {program} for fiscal year {year} set to {amount}")
    show_alerts(alerts)


# ------------------------------------------------------------------------ summary


@pay_app.command("summary")
def summary(
    year: Annotated[int | None, typer.Option(help="Calendar year (default: this year).")] = None,
) -> None:
    """Totals per payee for a year, and each program's budget.

    Payees are totalled by calendar year (the T4A view); budgets are shown for the
    fiscal year that starts in that year."""
    rules = _policy()
    result = pay.compensation_summary(current_app().uow(), year or _today().year, rules)
    payees = Table(
        "advisor",
        "hours",
        "owed",
        "expenses",
        "entries",
        "T4A",
        title=f"payees in {result.year} (T4A at {money(result.t4a_threshold_cents)})",
    )
    for row in result.payees:
        flag = "due" if rules.t4a_due(row.owed_cents) else "-"
        owed = money(row.owed_cents) + (" (declined)" if row.declined else "")
        payees.add_row(
            row.advisor,
            hours(row.centihours),
            owed,
            money(row.expenses_cents),
            str(row.entries),
            flag,
        )
    out.print(payees)
    budgets = Table(
        "program",
        "fiscal year",
        "budget",
        "committed",
        "used",
        title=f"budgets for fiscal year {result.fiscal_label}",
    )
    for line in result.budgets:
        alert = rules.budget_alert_due(line.committed_cents, line.budget_cents)
        used = f"{percent(line.committed_cents, line.budget_cents)}%"
        budgets.add_row(
            line.program,
            result.fiscal_label,
            money(line.budget_cents),
            money(line.committed_cents),
            Text(used, style="bold yellow") if alert else used,
        )
    out.print(budgets)
