"""survey portal: each response keeps its questionnaire version and per-theme scores

Revision ID: 0004_portal
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_portal"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questionnaire_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("theme_scores", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_requests", schema=None) as batch_op:
        batch_op.drop_column("theme_scores")
        batch_op.drop_column("questionnaire_version")
