"""contacts.search_text: each person's first name, last name and e-mail address without case
or accents, written with them, so that a search by name is one query

Revision ID: 0008_contacts_search_text
Revises: 0007_survey_requests_ended
Create Date: 2026-12-05
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008_contacts_search_text"
down_revision = "0007_survey_requests_ended"
branch_labels = None
depends_on = None

CHUNK = 5000  # contacts read and written back at a time


def folded(first_name: str, last_name: str, email: str) -> str:
    """As ppflow.services.queries.search_text folds them at this revision (kept here, so
    that the revision does what it did whatever the code becomes)."""
    text = f"{first_name} {last_name} {email}".casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    # Every contact not erased gets its folded text; erased ones keep NULL.
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("email", sa.String),
        sa.column("erased_at", sa.DateTime),
        sa.column("search_text", sa.Text),
    )
    connection = op.get_bind()
    write = (
        contacts.update()
        .where(contacts.c.id == sa.bindparam("contact"))
        .values(search_text=sa.bindparam("text"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(contacts.c.id, contacts.c.first_name, contacts.c.last_name, contacts.c.email)
            .where(contacts.c.erased_at.is_(None), contacts.c.id > after)
            .order_by(contacts.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        connection.execute(
            write,
            [{"contact": r.id, "text": folded(r.first_name, r.last_name, r.email)} for r in rows],
        )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("search_text")
