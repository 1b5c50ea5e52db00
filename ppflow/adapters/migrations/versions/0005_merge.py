"""join the branches made side by side from 0003: audit, compensation, indicators, portal

Revision ID: 0005_merge
Revises: 0004_audit, 0004_compensation, 0004_indicators, 0004_portal
Create Date: 2026-11-22
"""

revision = "0005_merge"
down_revision = ("0004_audit", "0004_compensation", "0004_indicators", "0004_portal")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
