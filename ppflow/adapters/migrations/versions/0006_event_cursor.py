"""event cursor: how far the transition log has been announced as Prefect events

Revision ID: 0006_event_cursor
Revises: 0005_voids_and_proposals
Create Date: 2026-12-01
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006_event_cursor"
down_revision = "0005_voids_and_proposals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cursors = op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    # The moves made before this revision are history: announcing starts after them.
    last = op.get_bind().scalar(sa.text("SELECT COALESCE(MAX(id), 0) FROM transitions"))
    op.bulk_insert(
        cursors,
        [{"name": "transition_events", "position": last, "updated_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("cursors")
