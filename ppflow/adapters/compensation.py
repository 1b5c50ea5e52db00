"""SQL for compensation: a repository used inside a unit of work (so hours, their alerts
and the outbox rows commit together), and a read-only report of hours and amounts for a
period, for the structural indicators.

Importing this module also registers the compensation tables on ``Base.metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from ppflow.adapters.db import rows_changed
from ppflow.adapters.orm import AdvisorRow, EngagementRow, ProgramRow, StaffRow, TeamRow
from ppflow.adapters.orm_compensation import (
    ActivityLogRow,
    ExpenseRow,
    PaymentDeclineRow,
    ProgramBudgetRow,
    RateTierRow,
)
from ppflow.domain.compensation import RateTier, fiscal_year_bounds
from ppflow.domain.errors import DuplicateError, NotFoundError
from ppflow.services.ports import (
    ActivityEntry,
    BudgetLine,
    EngagementPay,
    Expense,
    PayeeTotal,
    PayEntry,
)

__all__ = ["PaidSummary", "SqlCompensation", "SqlCompensationReport"]


def _tier(row: RateTierRow) -> RateTier:
    return RateTier(
        row.activity, row.kind, row.amount_cents, row.effective_from, row.effective_to, row.id
    )


def _program_id():
    """An engagement's program: its team's, or else its advisor's."""
    return func.coalesce(TeamRow.program_id, AdvisorRow.program_id)


class SqlCompensation:
    """The compensation repository, on the unit of work's session."""

    def __init__(self, session: Session):
        self.session = session

    # ---------------------------------------------------------------- tiers

    def add_tier(self, tier: RateTier, at: datetime, actor: str) -> RateTier:
        """Store a tier; the use case has refused overlaps, this guards one start date."""
        clash = self.session.scalar(
            select(RateTierRow.id).where(
                RateTierRow.activity == tier.activity,
                RateTierRow.effective_from == tier.effective_from,
            )
        )
        if clash:
            raise DuplicateError(
                f"a tier for '{tier.activity}' already starts on {tier.effective_from}"
            )
        row = RateTierRow(
            activity=tier.activity,
            kind=tier.kind,
            amount_cents=tier.amount_cents,
            effective_from=tier.effective_from,
            effective_to=tier.effective_to,
            recorded_at=at,
            actor=actor,
        )
        self.session.add(row)
        self.session.flush()
        return _tier(row)

    def tiers(self, activity: str | None = None) -> list[RateTier]:
        query = select(RateTierRow).order_by(RateTierRow.activity, RateTierRow.effective_from)
        if activity is not None:
            query = query.where(RateTierRow.activity == activity)
        return [_tier(r) for r in self.session.scalars(query)]

    # ------------------------------------------------------------ engagements

    def engagements(self, codes: Iterable[str]) -> dict[str, EngagementPay]:
        codes = sorted(set(codes))
        if not codes:
            return {}
        query = (
            select(
                EngagementRow.code,
                AdvisorRow.code,
                EngagementRow.stage,
                EngagementRow.start_date,
                EngagementRow.hourly_rate,
                ProgramRow.code,
            )
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .join(TeamRow, TeamRow.id == EngagementRow.team_id)
            .outerjoin(ProgramRow, ProgramRow.id == _program_id())
            .where(EngagementRow.code.in_(codes))
        )
        return {
            code: EngagementPay(code, advisor, stage, start, rate, program)
            for code, advisor, stage, start, rate, program in self.session.execute(query)
        }

    def _engagement_id(self, code: str) -> int:
        found = self.session.scalar(select(EngagementRow.id).where(EngagementRow.code == code))
        if found is None:
            raise NotFoundError("engagement", code)
        return found

    def _advisor_id(self, code: str) -> int:
        found = self.session.scalar(select(AdvisorRow.id).where(AdvisorRow.code == code))
        if found is None:
            raise NotFoundError("advisor", code)
        return found

    # ------------------------------------------------------------------ hours

    def logged_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(request_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            found.update(
                self.session.scalars(
                    select(ActivityLogRow.request_id).where(
                        ActivityLogRow.request_id.in_(ids[start : start + 500])
                    )
                )
            )
        return found

    def logged_keys(
        self, pairs: Iterable[tuple[str, date]]
    ) -> set[tuple[str, date, str, int, str]]:
        """(engagement, date, activity, centihours, note) of the activities logged and
        standing for these engagements on these dates: a voided entry and its reversal
        are left out."""
        wanted = set(pairs)
        codes = sorted({code for code, _ in wanted})
        found: set[tuple[str, date, str, int, str]] = set()
        for start in range(0, len(codes), 500):
            chunk = codes[start : start + 500]
            days = sorted({day for code, day in wanted if code in set(chunk)})
            rows = self.session.execute(
                select(
                    EngagementRow.code,
                    ActivityLogRow.activity_date,
                    ActivityLogRow.activity,
                    ActivityLogRow.centihours,
                    ActivityLogRow.note,
                )
                .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
                .where(
                    EngagementRow.code.in_(chunk),
                    ActivityLogRow.activity_date.between(days[0], days[-1]),
                    ActivityLogRow.voids_id.is_(None),
                    ActivityLogRow.id.not_in(
                        select(ActivityLogRow.voids_id).where(ActivityLogRow.voids_id.is_not(None))
                    ),
                )
            )
            for code, day, activity, centihours, note in rows:
                if (code, day) in wanted:
                    found.add((code, day, activity, centihours, note or ""))
        return found

    def add_activity(self, entry: ActivityEntry, at: datetime, actor: str) -> int:
        row = ActivityLogRow(
            engagement_id=self._engagement_id(entry.engagement),
            activity_date=entry.day,
            activity=entry.activity,
            centihours=entry.centihours,
            rate_cents=entry.rate_cents,
            basis=entry.basis,
            amount_cents=entry.amount_cents,
            declined=entry.declined,
            note=entry.note,
            request_id=entry.request_id,
            recorded_at=at,
            actor=actor,
            voids_id=entry.voids,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:
            if entry.voids is None:
                raise
            # the use case ends here and its unit of work rolls the transaction back
            raise DuplicateError(
                f"entry {entry.voids} was voided meanwhile by another entry"
            ) from None
        return row.id

    def _entries(self, *where) -> list[PayEntry]:
        reversal = aliased(ActivityLogRow)
        rows = self.session.execute(
            select(ActivityLogRow, EngagementRow.code, reversal.id)
            .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
            .outerjoin(reversal, reversal.voids_id == ActivityLogRow.id)
            .where(*where)
            .order_by(ActivityLogRow.id)
        )
        return [
            PayEntry(
                id=row.id,
                engagement=code,
                day=row.activity_date,
                activity=row.activity,
                centihours=row.centihours,
                amount_cents=row.amount_cents,
                declined=row.declined,
                note=row.note or "",
                recorded_at=row.recorded_at,
                actor=row.actor,
                voids=row.voids_id,
                voided_by=voided_by,
            )
            for row, code, voided_by in rows
        ]

    def entry(self, entry_id: int) -> PayEntry | None:
        found = self._entries(ActivityLogRow.id == entry_id)
        return found[0] if found else None

    def entries(self, engagement: str | None = None) -> list[PayEntry]:
        return self._entries(*([EngagementRow.code == engagement] if engagement else []))

    def add_expense(self, expense: Expense, at: datetime, actor: str) -> int | None:
        if expense.request_id and self.session.scalar(
            select(ExpenseRow.id).where(ExpenseRow.request_id == expense.request_id)
        ):
            return None
        row = ExpenseRow(
            engagement_id=self._engagement_id(expense.engagement),
            expense_date=expense.day,
            kind=expense.kind,
            amount_cents=expense.amount_cents,
            receipt=expense.receipt,
            request_id=expense.request_id,
            recorded_at=at,
            actor=actor,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    # ---------------------------------------------------------------- declines

    def declines(self, advisors: Iterable[str]) -> dict[str, list[date]]:
        codes = sorted(set(advisors))
        result: dict[str, list[date]] = {code: [] for code in codes}
        if not codes:
            return result
        rows = self.session.execute(
            select(AdvisorRow.code, PaymentDeclineRow.effective_from)
            .join(AdvisorRow, AdvisorRow.id == PaymentDeclineRow.advisor_id)
            .where(AdvisorRow.code.in_(codes))
        )
        for code, start in rows:
            result[code].append(start)
        return result

    def add_decline(self, advisor: str, effective_from: date, at: datetime, actor: str) -> bool:
        advisor_id = self._advisor_id(advisor)
        exists = self.session.scalar(
            select(PaymentDeclineRow.id).where(
                PaymentDeclineRow.advisor_id == advisor_id,
                PaymentDeclineRow.effective_from == effective_from,
            )
        )
        if exists:
            return False
        self.session.add(
            PaymentDeclineRow(
                advisor_id=advisor_id, effective_from=effective_from, recorded_at=at, actor=actor
            )
        )
        self.session.flush()
        return True

    def waive_from(self, advisor: str, effective_from: date) -> int:
        """Mark the advisor's activities on or after the date as declined, owing nothing."""
        engagement_ids = select(EngagementRow.id).where(
            EngagementRow.advisor_id == self._advisor_id(advisor)
        )
        result = self.session.execute(
            update(ActivityLogRow)
            .where(
                ActivityLogRow.engagement_id.in_(engagement_ids),
                ActivityLogRow.activity_date >= effective_from,
                ActivityLogRow.declined.is_(False),
            )
            .values(declined=True, amount_cents=0)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result)

    # ----------------------------------------------------------------- budgets

    def set_budget(
        self, program: str, year: int, amount_cents: int, at: datetime, actor: str
    ) -> None:
        program_id = self.session.scalar(select(ProgramRow.id).where(ProgramRow.code == program))
        if program_id is None:
            raise NotFoundError("program", program)
        row = self.session.scalar(
            select(ProgramBudgetRow).where(
                ProgramBudgetRow.program_id == program_id, ProgramBudgetRow.fiscal_year == year
            )
        )
        if row is None:
            self.session.add(
                ProgramBudgetRow(
                    program_id=program_id,
                    fiscal_year=year,
                    amount_cents=amount_cents,
                    updated_at=at,
                    actor=actor,
                )
            )
        else:
            row.amount_cents, row.updated_at, row.actor = amount_cents, at, actor
        self.session.flush()

    def budget(self, program: str, year: int) -> int | None:
        return self.session.scalar(
            select(ProgramBudgetRow.amount_cents)
            .join(ProgramRow, ProgramRow.id == ProgramBudgetRow.program_id)
            .where(ProgramRow.code == program, ProgramBudgetRow.fiscal_year == year)
        )

    def budgets(self, year: int | None = None) -> list[tuple[str, int, int]]:
        query = (
            select(ProgramRow.code, ProgramBudgetRow.fiscal_year, ProgramBudgetRow.amount_cents)
            .join(ProgramRow, ProgramRow.id == ProgramBudgetRow.program_id)
            .order_by(ProgramRow.code, ProgramBudgetRow.fiscal_year)
        )
        if year is not None:
            query = query.where(ProgramBudgetRow.fiscal_year == year)
        return [(code, year, cents) for code, year, cents in self.session.execute(query)]

    def committed(self, program: str, start: date, end: date) -> int:
        """Amounts owed plus expenses, for a program's engagements, from start to end
        (exclusive)."""
        return self._sum_for_program(
            ActivityLogRow, ActivityLogRow.activity_date, program, start, end
        ) + self._sum_for_program(ExpenseRow, ExpenseRow.expense_date, program, start, end)

    def _sum_for_program(self, row_type, day_column, program: str, start, end) -> int:
        query = (
            select(func.coalesce(func.sum(row_type.amount_cents), 0))
            .join(EngagementRow, EngagementRow.id == row_type.engagement_id)
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .join(TeamRow, TeamRow.id == EngagementRow.team_id)
            .join(ProgramRow, ProgramRow.id == _program_id())
            .where(ProgramRow.code == program, day_column >= start, day_column < end)
        )
        return int(self.session.scalar(query) or 0)

    # ----------------------------------------------------------------- payees

    def payee_total(self, advisor: str, start: date, end: date) -> int:
        """What an advisor is owed for activities from start to end (exclusive), expenses
        apart."""
        query = (
            select(func.coalesce(func.sum(ActivityLogRow.amount_cents), 0))
            .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .where(
                AdvisorRow.code == advisor,
                ActivityLogRow.activity_date >= start,
                ActivityLogRow.activity_date < end,
            )
        )
        return int(self.session.scalar(query) or 0)

    def payees(self, start: date, end: date) -> list[PayeeTotal]:
        """Per advisor, for activities and expenses from start to end (exclusive)."""
        logs = (
            select(
                AdvisorRow.code,
                func.coalesce(func.sum(ActivityLogRow.centihours), 0),
                func.coalesce(func.sum(ActivityLogRow.amount_cents), 0),
                func.count(ActivityLogRow.id),
                func.max(case((ActivityLogRow.declined.is_(True), 1), else_=0)),
            )
            .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .where(ActivityLogRow.activity_date >= start, ActivityLogRow.activity_date < end)
            .group_by(AdvisorRow.code)
        )
        spent = (
            select(AdvisorRow.code, func.coalesce(func.sum(ExpenseRow.amount_cents), 0))
            .join(EngagementRow, EngagementRow.id == ExpenseRow.engagement_id)
            .join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
            .where(ExpenseRow.expense_date >= start, ExpenseRow.expense_date < end)
            .group_by(AdvisorRow.code)
        )
        totals: dict[str, PayeeTotal] = {}
        for code, centihours, owed, entries, declined in self.session.execute(logs):
            totals[code] = PayeeTotal(
                code, int(centihours), int(owed), 0, int(entries), bool(declined)
            )
        for code, amount in self.session.execute(spent):
            current = totals.get(code) or PayeeTotal(code, 0, 0, 0, 0, False)
            totals[code] = PayeeTotal(
                code,
                current.centihours,
                current.owed_cents,
                int(amount),
                current.entries,
                current.declined,
            )
        return [totals[code] for code in sorted(totals)]

    def engagement_total(self, engagement: str) -> PayeeTotal:
        """Everything logged on one engagement, all dates."""
        engagement_id = self._engagement_id(engagement)
        advisor = self.session.execute(
            select(AdvisorRow.code)
            .join(EngagementRow, EngagementRow.advisor_id == AdvisorRow.id)
            .where(EngagementRow.id == engagement_id)
        ).scalar_one()
        centihours, owed, entries, declined = self.session.execute(
            select(
                func.coalesce(func.sum(ActivityLogRow.centihours), 0),
                func.coalesce(func.sum(ActivityLogRow.amount_cents), 0),
                func.count(ActivityLogRow.id),
                func.max(case((ActivityLogRow.declined.is_(True), 1), else_=0)),
            ).where(ActivityLogRow.engagement_id == engagement_id)
        ).one()
        spent = self.session.scalar(
            select(func.coalesce(func.sum(ExpenseRow.amount_cents), 0)).where(
                ExpenseRow.engagement_id == engagement_id
            )
        )
        return PayeeTotal(
            advisor, int(centihours), int(owed), int(spent or 0), int(entries), bool(declined)
        )

    def coordinators(self) -> list[str]:
        return list(
            self.session.scalars(
                select(StaffRow.code).where(StaffRow.role == "coordinator").order_by(StaffRow.code)
            )
        )

    def budget_lines(self, year: int | None, start_month: int) -> list[BudgetLine]:
        lines = []
        for program, fiscal, amount in self.budgets(year):
            start, end = fiscal_year_bounds(fiscal, start_month)
            lines.append(BudgetLine(program, fiscal, amount, self.committed(program, start, end)))
        return lines


# ------------------------------------------------------------------- indicators


@dataclass(frozen=True)
class PaidSummary:
    """Hours and amounts for activities dated in a period (expenses by their own date)."""

    centihours: int
    compensation_cents: int  # owed for the hours (0 where payment was declined)
    expenses_cents: int
    payees: int  # advisors with at least one activity in the period
    declined_centihours: int  # hours given by advisors who declined payment

    @property
    def hours(self) -> float:
        return self.centihours / 100


class SqlCompensationReport:
    """Read-only figures for the structural indicators, one query per figure."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def paid(self, start: date, end: date, program: str | None = None) -> PaidSummary:
        """Hours and compensation for activities dated from ``start`` to ``end``
        (exclusive), optionally for one program's engagements."""
        with self.session_factory() as session:
            logs = (
                select(
                    func.coalesce(func.sum(ActivityLogRow.centihours), 0),
                    func.coalesce(func.sum(ActivityLogRow.amount_cents), 0),
                    func.count(func.distinct(EngagementRow.advisor_id)),
                )
                .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
                .where(ActivityLogRow.activity_date >= start, ActivityLogRow.activity_date < end)
            )
            declined = (
                select(func.coalesce(func.sum(ActivityLogRow.centihours), 0))
                .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
                .where(
                    ActivityLogRow.activity_date >= start,
                    ActivityLogRow.activity_date < end,
                    ActivityLogRow.declined.is_(True),
                )
            )
            spent = (
                select(func.coalesce(func.sum(ExpenseRow.amount_cents), 0))
                .join(EngagementRow, EngagementRow.id == ExpenseRow.engagement_id)
                .where(ExpenseRow.expense_date >= start, ExpenseRow.expense_date < end)
            )
            if program is not None:
                logs, declined, spent = (_in_program(q, program) for q in (logs, declined, spent))
            centihours, owed, payees = session.execute(logs).one()
            return PaidSummary(
                centihours=int(centihours),
                compensation_cents=int(owed),
                expenses_cents=int(session.scalar(spent) or 0),
                payees=int(payees),
                declined_centihours=int(session.scalar(declined) or 0),
            )


def _in_program(query, program: str):
    return (
        query.join(AdvisorRow, AdvisorRow.id == EngagementRow.advisor_id)
        .join(TeamRow, TeamRow.id == EngagementRow.team_id)
        .join(ProgramRow, and_(ProgramRow.id == _program_id(), ProgramRow.code == program))
    )
