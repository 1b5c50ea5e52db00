"""Every table of ppflow in one metadata, for Alembic and the schema tests. Models kept
in modules of their own are imported here so that none is forgotten."""

from ppflow.adapters import orm_compensation, orm_portal  # noqa: F401  (register their tables)
from ppflow.adapters.orm import Base

metadata = Base.metadata
