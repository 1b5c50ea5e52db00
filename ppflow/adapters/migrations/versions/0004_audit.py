"""audit: append-only transitions on PostgreSQL, and the confidentiality incident register

Revision ID: 0004_audit
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_audit"
down_revision = "0003"
branch_labels = None
depends_on = None

REFUSE = """
CREATE OR REPLACE FUNCTION ppflow_transitions_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'transitions are append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "confidentiality_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("circumstances", sa.Text(), nullable=False),
        sa.Column("data_concerned", sa.Text(), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("keep_until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confidentiality_incidents")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE)
        op.execute(
            "CREATE TRIGGER transitions_append_only BEFORE UPDATE OR DELETE ON transitions "
            "FOR EACH ROW EXECUTE FUNCTION ppflow_transitions_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS transitions_append_only ON transitions")
        op.execute("DROP FUNCTION IF EXISTS ppflow_transitions_append_only()")
    op.drop_table("confidentiality_incidents")
