"""`ppflow program target`: each revision is a new version of the logic model, dated, and
a report judges each period by the version in force during it; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ppflow.adapters.orm import ProgramTargetRow
from ppflow.cli import app as ppflow_cli
from ppflow.domain.errors import ConcurrentUpdateError
from ppflow.domain.model import ProgramTarget
from ppflow.services.indicators import compute_indicators

runner = CliRunner()


def invoke(app, *args):
    return runner.invoke(ppflow_cli, list(args), obj=app)


def target_rows(app):
    with app.engine.connect() as connection:
        return connection.execute(
            select(
                ProgramTargetRow.indicator,
                ProgramTargetRow.target,
                ProgramTargetRow.period,
                ProgramTargetRow.version,
                ProgramTargetRow.created_at,
            ).order_by(ProgramTargetRow.indicator, ProgramTargetRow.version)
        ).all()


@pytest.fixture
def program(any_app):
    result = invoke(
        any_app, "program", "add", "PP-T", "--name", "Partenariat", "--department", "Qualité",
        "--target", "teams_with_advisors=2:2026",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return "PP-T"


def test_a_target_is_revised_as_a_new_version_and_the_first_stays(any_app, program):
    t0 = any_app.clock.now()
    any_app.clock.moment = t0 + timedelta(days=60)
    result = invoke(any_app, "program", "target", program, "teams_with_advisors=3:2026")
    assert result.exit_code == 0, result.output
    assert "teams_with_advisors is 3 for 2026, version 2" in result.output
    any_app.clock.moment = t0 + timedelta(days=70)
    result = invoke(any_app, "program", "target", program, "withdrawals=1")
    assert result.exit_code == 0, result.output

    assert target_rows(any_app) == [
        ("teams_with_advisors", 2.0, "2026", 1, t0),
        ("teams_with_advisors", 3.0, "2026", 2, t0 + timedelta(days=60)),
        ("withdrawals", 1.0, "2026", 1, t0 + timedelta(days=70)),  # the year of the clock
    ]
    shown = invoke(any_app, "program", "show", program)
    assert shown.exit_code == 0
    assert "2026-03-02" in shown.output and "2026-05-01" in shown.output


def test_each_period_is_judged_by_the_target_in_force_during_it(any_app, program):
    t0 = any_app.clock.now()
    any_app.clock.moment = t0 + timedelta(days=60)
    assert invoke(any_app, "program", "target", program, "teams_with_advisors=3").exit_code == 0

    def judged(start, end):
        result = compute_indicators(any_app.indicators(), start, end)
        return result.target_versions.get("teams_with_advisors"), result

    before_any, result = judged(t0 - timedelta(days=30), t0)
    assert before_any is None  # the period ended before the first target was set
    row = {c.indicator: c for c in result.comparisons()}["teams_with_advisors"]
    assert (row.target, row.met) == (None, None)
    assert any("Not judged against a target: teams_with_advisors" in n for n in result.notes)

    first, _ = judged(t0, t0 + timedelta(days=30))
    assert (first.target, first.version) == (2.0, 1)
    second, result = judged(t0 + timedelta(days=30), t0 + timedelta(days=90))
    assert (second.target, second.version, second.previous) == (3.0, 2, 2.0)
    row = {c.indicator: c for c in result.comparisons()}["teams_with_advisors"]
    assert (row.value, row.met) == (0, False)


@pytest.mark.parametrize(
    "argument, message",
    [
        ("teams_with_advisors", "write INDICATOR=VALUE[:YEAR]"),
        ("teams_with_advisors=many", "write INDICATOR=VALUE[:YEAR]"),
        ("teams_with_adviser=3", "'teams_with_adviser' is not an indicator; valid ones:"),
        ("share_teams_with_advisors=60", "is a share: write its target from 0 to 1"),
        ("teams=-2", "a number of 0 or more"),
        ("teams=3:next", "'next' is not a year"),
    ],
)
def test_a_bad_target_is_refused_in_one_line_and_nothing_is_written(
    any_app, program, argument, message
):
    result = invoke(any_app, "program", "target", program, argument)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert len(target_rows(any_app)) == 1


def test_an_unknown_program_is_named(any_app, program):
    result = invoke(any_app, "program", "target", "PP-NONE", "teams=3")
    assert result.exit_code == 1
    assert "no program 'PP-NONE'" in result.output


def test_two_revisions_read_at_once_cannot_both_become_version_two(any_app, program):
    late = any_app.uow()
    with late:
        read = late.programs.get(program)
        assert [t.version for t in read.targets] == [1]
        assert invoke(any_app, "program", "target", program, "teams_with_advisors=3").exit_code == 0
        with pytest.raises(ConcurrentUpdateError):
            late.programs.add_target(
                program, ProgramTarget("teams_with_advisors", 4.0, "2026", 2, any_app.clock.now())
            )
    assert [row.target for row in target_rows(any_app)] == [2.0, 3.0]
