"""one person, one code; reasons where erasure reaches them; a record of each erasure

Revision ID: 0002_one_person
Revises: 0001_initial
Create Date: 2026-12-01

- ``contacts.email_key`` (the address in lower case) and ``contacts.phone_key`` (the
  digits), each under a unique index: the database refuses a second contact for the same
  person. Existing rows get their keys; if two rows already share one, only the first
  keeps it (the others are listed by ``ppflow advisor find`` and merged by hand).
- ``transition_reasons``: the free-text reason of a transition moves out of the
  append-only ``transitions`` table into this one, which erasure can empty.
- ``erasures``: who erased whose data (by code), when, and which kinds of data.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_one_person"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("phone_key", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE contacts SET email_key = lower(trim(email)) WHERE email <> '' AND id IN "
        "(SELECT min(id) FROM contacts WHERE email <> '' GROUP BY lower(trim(email)))"
    )
    op.execute(
        "UPDATE contacts SET phone_key = phone WHERE phone <> '' AND id IN "
        "(SELECT min(id) FROM contacts WHERE phone <> '' GROUP BY phone)"
    )
    op.create_index("uq_contacts_email_key", "contacts", ["email_key"], unique=True)
    op.create_index("uq_contacts_phone_key", "contacts", ["phone_key"], unique=True)

    op.create_table(
        "transition_reasons",
        sa.Column("transition_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transition_id"],
            ["transitions.id"],
            name=op.f("fk_transition_reasons_transition_id_transitions"),
        ),
        sa.PrimaryKeyConstraint("transition_id", name=op.f("pk_transition_reasons")),
    )
    op.execute(
        "INSERT INTO transition_reasons (transition_id, reason) "
        "SELECT id, reason FROM transitions WHERE reason IS NOT NULL"
    )
    # a plain ALTER on both backends (SQLite 3.35 and later): a batch copy of the table
    # would have to drop the one that notifications and reasons point to
    op.execute("ALTER TABLE transitions DROP COLUMN reason")

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advisor_code", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_advisor_code"), "erasures", ["advisor_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_erasures_advisor_code"), table_name="erasures")
    op.drop_table("erasures")
    op.execute("ALTER TABLE transitions ADD COLUMN reason TEXT")
    # the log is append-only on PostgreSQL: its trigger would refuse putting the reasons
    # back, so a downgrade leaves them out of the log (they are dropped with their table)
    op.drop_table("transition_reasons")
    op.drop_index("uq_contacts_phone_key", table_name="contacts")
    op.drop_index("uq_contacts_email_key", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("phone_key")
        batch.drop_column("email_key")
