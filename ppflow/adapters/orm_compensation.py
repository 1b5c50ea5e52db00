"""Tables of compensation: rate tiers, hours logged, expenses, declined payment and
program budgets. Money is in integer cents and hours in hundredths of an hour, so sums
are exact on SQLite and PostgreSQL alike. Created by the initial migration, like every table."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ppflow.adapters.orm import PERSONAL, Base, UtcDateTime, about_an_advisor


class RateTierRow(Base):
    __tablename__ = "rate_tiers"
    __table_args__ = (UniqueConstraint("activity", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # hourly | flat
    amount_cents: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class ActivityLogRow(Base):
    """Hours logged for one activity of one engagement, with the amount owed for it as
    valued when it was logged (the tier in effect on the activity's date)."""

    __tablename__ = "activity_logs"
    __table_args__ = (about_an_advisor("engagement_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    activity_date: Mapped[date] = mapped_column(Date, index=True)
    activity: Mapped[str] = mapped_column(String(64))
    centihours: Mapped[int] = mapped_column(Integer)
    rate_cents: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(16))  # hourly | flat | engagement-rate
    amount_cents: Mapped[int] = mapped_column(Integer)
    declined: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="", info=PERSONAL)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    # A reversing entry names the entry it voids (its hours and amount negated, its note
    # the reason); unique, so that two voids of one entry cannot both be written.
    voids_id: Mapped[int | None] = mapped_column(ForeignKey("activity_logs.id"), unique=True)


class ExpenseRow(Base):
    """An expense to reimburse, kept apart from pay: it counts against the program's
    budget but not towards the payee's T4A total."""

    __tablename__ = "expenses"
    __table_args__ = (about_an_advisor("engagement_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    expense_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount_cents: Mapped[int] = mapped_column(Integer)
    receipt: Mapped[str] = mapped_column(String(200), default="", info=PERSONAL)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class PaymentDeclineRow(Base):
    """An advisor declined payment from a date on."""

    __tablename__ = "payment_declines"
    __table_args__ = (UniqueConstraint("advisor_id", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))


class ProgramBudgetRow(Base):
    __tablename__ = "program_budgets"
    __table_args__ = (UniqueConstraint("program_id", "fiscal_year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
