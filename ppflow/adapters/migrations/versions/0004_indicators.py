"""indicators: indexes on the transition log for the structural indicators

Revision ID: 0004_indicators
Revises: 0003
Create Date: 2026-11-22

The indicators read the log by state (first entry into a state per code, entries and exits
of a state) and by time (moves in a period, moves since a moment). Each index below covers
its queries, so they read the index and never the table.
"""

from alembic import op

revision = "0004_indicators"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_transitions_entity_to_state_code": ["entity", "to_state", "code", "at"],
    "ix_transitions_entity_from_state_code": ["entity", "from_state", "code", "at"],
    "ix_transitions_entity_at": ["entity", "at", "to_state", "from_state", "code"],
}


def upgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
