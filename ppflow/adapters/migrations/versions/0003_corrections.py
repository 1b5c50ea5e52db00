"""corrections: who corrected which fields of a record, when and why

Revision ID: 0003_corrections
Revises: 0002_one_person
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_corrections"
down_revision = "0002_one_person"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index(op.f("ix_corrections_code"), "corrections", ["code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_corrections_code"), table_name="corrections")
    op.drop_table("corrections")
