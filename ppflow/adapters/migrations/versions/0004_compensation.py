"""compensation: rate tiers, hours logged, expenses, declined payment, program budgets

Revision ID: 0004_compensation
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_compensation"
down_revision = "0003"
branch_labels = None
depends_on = None


def _recorded() -> list[sa.Column]:
    return [
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rate_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        *_recorded(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_tiers")),
        sa.UniqueConstraint("activity", "effective_from", name=op.f("uq_rate_tiers_activity")),
    )
    op.create_table(
        "activity_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("activity_date", sa.Date(), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("centihours", sa.Integer(), nullable=False),
        sa.Column("rate_cents", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        *_recorded(),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_activity_logs_engagement_id_engagements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_logs")),
        sa.UniqueConstraint("request_id", name=op.f("uq_activity_logs_request_id")),
    )
    with op.batch_alter_table("activity_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_logs_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_logs_activity_date"), ["activity_date"], unique=False
        )
    op.create_table(
        "expenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("expense_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        *_recorded(),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_expenses_engagement_id_engagements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expenses")),
        sa.UniqueConstraint("request_id", name=op.f("uq_expenses_request_id")),
    )
    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expenses_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_expenses_expense_date"), ["expense_date"], unique=False
        )
    op.create_table(
        "payment_declines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        *_recorded(),
        sa.ForeignKeyConstraint(
            ["advisor_id"],
            ["advisors.id"],
            name=op.f("fk_payment_declines_advisor_id_advisors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_declines")),
        sa.UniqueConstraint(
            "advisor_id", "effective_from", name=op.f("uq_payment_declines_advisor_id")
        ),
    )
    with op.batch_alter_table("payment_declines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_declines_advisor_id"), ["advisor_id"], unique=False
        )
    op.create_table(
        "program_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_program_budgets_program_id_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_budgets")),
        sa.UniqueConstraint(
            "program_id", "fiscal_year", name=op.f("uq_program_budgets_program_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("program_budgets")
    with op.batch_alter_table("payment_declines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_declines_advisor_id"))
    op.drop_table("payment_declines")
    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expenses_expense_date"))
        batch_op.drop_index(batch_op.f("ix_expenses_engagement_id"))
    op.drop_table("expenses")
    with op.batch_alter_table("activity_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_logs_activity_date"))
        batch_op.drop_index(batch_op.f("ix_activity_logs_engagement_id"))
    op.drop_table("activity_logs")
    op.drop_table("rate_tiers")
