"""Columns the survey portal adds to ``survey_requests`` (migration 0004_portal): the
questionnaire version a response answered, and its scores per theme.

They are declared here, on the existing mapped class, so that ``orm.py`` stays as it is;
importing this module (``migrations/env.py`` and the portal's store do) registers them
on ``Base.metadata``. Adding a column to a mapped class after the fact is supported by
SQLAlchemy's declarative base.
"""

from __future__ import annotations

from sqlalchemy import JSON, Integer
from sqlalchemy.orm import mapped_column

from ppflow.adapters.orm import SurveyRequestRow

if "questionnaire_version" not in SurveyRequestRow.__table__.c:
    SurveyRequestRow.questionnaire_version = mapped_column(Integer, nullable=True)
    SurveyRequestRow.theme_scores = mapped_column(JSON, nullable=True)

survey_requests = SurveyRequestRow.__table__
