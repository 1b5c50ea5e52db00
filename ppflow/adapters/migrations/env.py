"""Alembic environment: the engine is handed over by ppflow.adapters.db, never built here.

After the migrations, the database's statistics are taken again (ANALYZE), so that the
planner knows the sizes of the tables a migration changed or filled: on SQLite, which
keeps none until told, with a bound on the rows read per index (``analysis_limit``), so
that it takes milliseconds even over a million transitions. An empty table gets no
statistics, so a database migrated before it is filled is planned as one never analyzed;
the queries of the indicators, the pool and the search are planned right either way
(``tests/integration/test_indicator_plans.py``)."""

from alembic import context
from sqlalchemy import inspect

from ppflow.adapters.schema import metadata

config = context.config
engine = config.attributes["engine"]
ANALYSIS_LIMIT = 1000  # rows SQLite reads per index to estimate it

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
    # ppflow's own tables only: on PostgreSQL a bare ANALYZE reads every schema
    tables = sorted(set(inspect(connection).get_table_names()) & set(metadata.tables))
    if tables and connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        for table in tables:
            connection.exec_driver_sql(f'ANALYZE "{table}"')
    elif tables:
        connection.exec_driver_sql("ANALYZE " + ", ".join(f'"{t}"' for t in tables))
