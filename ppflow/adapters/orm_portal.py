"""The ``survey_requests`` table as SQL Core sees it, for the survey portal's store.

Its columns, the questionnaire version and per-theme scores of a response included, are
declared on :class:`ppflow.adapters.orm.SurveyRequestRow`; this name only spares the
portal's modules from reaching through the mapped class.
"""

from __future__ import annotations

from ppflow.adapters.orm import SurveyRequestRow

survey_requests = SurveyRequestRow.__table__
