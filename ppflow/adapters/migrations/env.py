"""Alembic environment: the engine is handed over by ppflow.adapters.db, never built here."""

from alembic import context

from ppflow.adapters.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
