"""meetings: a QI team's meetings and the roll call of its advisors

Revision ID: 0004_meetings
Revises: 0003_corrections
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_meetings"
down_revision = "0003_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("sets_objectives", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["qi_teams.id"], name=op.f("fk_meetings_team_id_qi_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("team_id", "held_on", name=op.f("uq_meetings_team_id")),
    )
    op.create_table(
        "meeting_attendance",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_attendance_meeting_id_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["advisor_id"],
            ["advisors.id"],
            name=op.f("fk_meeting_attendance_advisor_id_advisors"),
        ),
        sa.PrimaryKeyConstraint("meeting_id", "advisor_id", name=op.f("pk_meeting_attendance")),
    )
    op.create_index(op.f("ix_meeting_attendance_advisor_id"), "meeting_attendance", ["advisor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_attendance_advisor_id"), table_name="meeting_attendance")
    op.drop_table("meeting_attendance")
    op.drop_table("meetings")
