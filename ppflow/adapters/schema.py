"""Every table of ppflow in one metadata, for Alembic and the schema tests. Models kept
in modules of their own are imported here so that none is forgotten."""

from ppflow.adapters import orm_compensation  # noqa: F401  (registers its tables)
from ppflow.adapters.orm import Base

metadata = Base.metadata
