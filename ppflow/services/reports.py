"""The program report, assembled once for every way it is asked for: ``ppflow report``
(the terminal's tables, or the HTML report and its CSV export) and the evaluate-program
flow. The figures come from :mod:`ppflow.services.indicators`; the bootstrap's
``write_report`` writes the HTML page and the CSV file from what this returns."""

from __future__ import annotations

from datetime import tzinfo

from ppflow.services.indicators import (
    Indicators,
    compute_indicators,
    compute_trend,
    parse_period,
    previous_quarter,
)
from ppflow.services.ports import Clock, IndicatorQueries


def assemble_report(
    queries: IndicatorQueries,
    period: str | None,
    zone: tzinfo,
    *,
    clock: Clock,
    with_trend: bool = True,
) -> Indicators:
    """The program report for ``period``, written as managers write it (2026Q3, 2026,
    2026-07..2026-09; days start at midnight in ``zone``), or for the quarter that has just
    ended when None: the structural indicators against the program's targets and, with
    ``with_trend``, the main indicators of the last quarters that the HTML report draws.
    A period that cannot be read raises InvalidInputError saying how to write one."""
    if period is None:
        period = previous_quarter(clock.now().astimezone(zone).date())
    chosen = parse_period(period, zone)
    result = compute_indicators(queries, chosen.start, chosen.end, chosen.label)
    if with_trend:
        result.trend = compute_trend(queries, chosen.end, zone)
    return result
