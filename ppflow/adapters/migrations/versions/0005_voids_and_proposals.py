"""voids and proposals: a pay entry's reversal, and each team's last match proposals

Revision ID: 0005_voids_and_proposals
Revises: 0004_meetings
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_voids_and_proposals"
down_revision = "0004_meetings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite adds a foreign key and a unique constraint by copying the table
    with op.batch_alter_table("activity_logs") as batch:
        batch.add_column(sa.Column("voids_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_activity_logs_voids_id_activity_logs"), "activity_logs", ["voids_id"], ["id"]
        )
        batch.create_unique_constraint(op.f("uq_activity_logs_voids_id"), ["voids_id"])
    op.create_table(
        "match_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["qi_teams.id"], name=op.f("fk_match_proposals_team_id_qi_teams")
        ),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_match_proposals_advisor_id_advisors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_proposals")),
        sa.UniqueConstraint("team_id", "rank", name=op.f("uq_match_proposals_team_id")),
    )
    op.create_index(op.f("ix_match_proposals_advisor_id"), "match_proposals", ["advisor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_match_proposals_advisor_id"), table_name="match_proposals")
    op.drop_table("match_proposals")
    with op.batch_alter_table("activity_logs") as batch:
        batch.drop_constraint(op.f("uq_activity_logs_voids_id"), type_="unique")
        batch.drop_constraint(op.f("fk_activity_logs_voids_id_activity_logs"), type_="foreignkey")
        batch.drop_column("voids_id")
