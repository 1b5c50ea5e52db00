"""SQLite's query plans for the indicators: the transition log is never read whole, and
nothing is read row by row inside a loop except through an index keyed on the outer row.

A plan that reads a range of the log for every advisor (the funnel once did, on a
database without statistics) turns a 2-second report into minutes at 100,000 advisors.
The plans are taken from the statements the report itself runs, on a small seeded
database, with and without statistics (ANALYZE), and again with each index of the log
they need dropped, which must be noticed.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from ppflow.services.indicators import compute_indicators, compute_trend, parse_period
from tests.benchmarks.bench_indicators import seed

LOG = re.compile(r"^(SCAN|SEARCH) (transitions(?:_\d+)?)\b")
LOOP = re.compile(r"^(SCAN|SEARCH) ")
# The indexes of the log the indicators read through (ix_transitions_entity_from_state_code
# serves other queries: without it the indicators' plans, the trend's too, stay sound).
NEEDED = ("ix_transitions_entity_to_state_code", "ix_transitions_entity_at")


def _statements(app) -> list[tuple[str, object]]:
    """Every SELECT the indicators report and its trend run, with their parameters."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        period = parse_period("2026Q3")
        compute_indicators(app.indicators(), period.start, period.end, period.label)
        compute_trend(app.indicators(), period.end)  # the HTML report's quarters
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    return seen


def _faults(plan: list[tuple[int, int, str]]) -> list[str]:
    """What is wrong with one plan (rows of EXPLAIN QUERY PLAN: id, parent, detail)."""
    parent = {node: up for node, up, _ in plan}
    detail = {node: text for node, _, text in plan}
    children: dict[int, list[int]] = {}
    for node, up, _ in plan:
        children.setdefault(up, []).append(node)

    def inner(node: int) -> bool:
        """Run once per row of an outer loop: a later loop of a join, anything under a
        correlated subquery, or anything under either."""
        while node in parent:
            up = parent[node]
            siblings = children.get(up, [])
            earlier = siblings[: siblings.index(node)]
            if LOOP.match(detail[node]) and any(LOOP.match(detail[s]) for s in earlier):
                return True
            if detail[node].startswith("CORRELATED "):
                return True
            node = up
        return False

    faults = []
    for node, _, step in plan:
        log = LOG.match(step)
        if log and (log.group(1) == "SCAN" or step.endswith("(entity=?)")):
            faults.append(f"reads the whole log (of one kind of entity): {step}")
        elif inner(node) and step.startswith("SCAN ") and not _per_row(step):
            faults.append(f"a full scan inside a loop: {step}")
        elif log and inner(node) and "code=?" not in step:
            faults.append(f"a range of the log for each outer row: {step}")
    return faults


def _per_row(step: str) -> bool:
    """Steps that are per row by nature: a subquery already computed, a table-valued
    function over one row's value (json_each)."""
    return "(subquery" in step or "VIRTUAL TABLE" in step or "CONSTANT ROW" in step


def _plan_faults(app) -> dict[str, list[str]]:
    found = {}
    with app.engine.connect() as connection:
        for statement, parameters in _statements(app):
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            faults = _faults([(r[0], r[1], r[3]) for r in rows])
            if faults:
                found[" ".join(statement.split())[:300]] = faults
    return found


@pytest.fixture
def seeded(sqlite_app):
    seed(sqlite_app, 300)
    return sqlite_app


@pytest.mark.parametrize("statistics", [False, True], ids=["fresh", "analyzed"])
def test_no_indicator_query_reads_the_log_whole_or_inside_a_loop(seeded, statistics):
    if statistics:
        with seeded.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    assert len(_statements(seeded)) >= 10  # the report's queries were seen
    assert _plan_faults(seeded) == {}


@pytest.mark.parametrize("index", NEEDED)
def test_dropping_an_index_of_the_log_is_seen_in_the_plans(seeded, index):
    with seeded.engine.begin() as connection:
        connection.execute(text(f"DROP INDEX {index}"))
    assert _plan_faults(seeded) != {}
