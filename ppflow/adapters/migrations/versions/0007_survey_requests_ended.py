"""survey requests ended: once their advisor has withdrawn or been erased, a request
takes no answer, and its link says why

Revision ID: 0007_survey_requests_ended
Revises: 0006_event_cursor
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_survey_requests_ended"
down_revision = "0006_event_cursor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_requests") as batch:
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_because", sa.String(length=16), nullable=True))
    # Requests of advisors who withdrew or were erased before this revision end now.
    requests = sa.table(
        "survey_requests",
        sa.column("respondent_kind", sa.String),
        sa.column("respondent_code", sa.String),
        sa.column("ended_because", sa.String),
    )
    advisors = sa.table("advisors", sa.column("id"), sa.column("code"), sa.column("stage"))
    contacts = sa.table("contacts", sa.column("advisor_id"), sa.column("erased_at"))
    erased = sa.select(advisors.c.code).join(contacts, contacts.c.advisor_id == advisors.c.id)
    erased = erased.where(contacts.c.erased_at.is_not(None))
    withdrawn = sa.select(advisors.c.code).where(advisors.c.stage == "withdrawn")
    theirs = requests.c.respondent_kind == "advisor"
    op.execute(
        requests.update()
        .where(theirs, requests.c.respondent_code.in_(erased))
        .values(ended_because="erased")
    )
    op.execute(
        requests.update()
        .where(
            theirs,
            requests.c.respondent_code.in_(withdrawn),
            requests.c.ended_because.is_(None),
        )
        .values(ended_because="withdrawn")
    )


def downgrade() -> None:
    with op.batch_alter_table("survey_requests") as batch:
        batch.drop_column("ended_because")
        batch.drop_column("ended_at")
