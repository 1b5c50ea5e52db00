"""When an engagement's questionnaires are due: three months after it starts, then every
six months while it is active, and a final round once it is completed."""

from __future__ import annotations

from datetime import date

FINAL_ROUND = 100  # the questionnaire at the end of an engagement


def months_between(start: date, today: date) -> int:
    """Whole months from ``start`` to ``today`` (31 January to 28 February: none)."""
    months = (today.year - start.year) * 12 + today.month - start.month
    return months - (1 if today.day < start.day else 0)


def due_round(months_since_start: int) -> int:
    """The survey round due after this many whole months (0 when none is due yet)."""
    if months_since_start < 3:
        return 0
    return 1 + (months_since_start - 3) // 6
