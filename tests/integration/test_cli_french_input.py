"""French input on the command line: choices by their names in the interface's language
(any case, accents optional), numbers with a decimal comma, shares with a percent sign,
dates written in words; an ambiguous date refused with the reason, exit code 2 (a usage
error), never a traceback."""

from __future__ import annotations

import pytest

from ppflow.domain.commands import Meta
from ppflow.services import integration, queries
from ppflow.services.privacy import list_incidents
from tests import factories
from tests.integration.test_cli_errors import ppflow as ppflow_process

META = Meta("t")


def unboxed(output: str) -> str:
    """The output on one line, without the box Click draws around a usage error."""
    return " ".join(output.replace("│", " ").split())


@pytest.fixture
def fr(any_app):
    any_app.settings.language = "fr"
    return any_app


@pytest.fixture
def teams(fr):
    """A team still forming and an active one."""
    forming = factories.team(fr, factories.staff(fr, role="front_line_manager"))
    active = factories.team(fr, factories.staff(fr, role="front_line_manager"))
    integration.brief_team(fr.uow(), active, META, fr.clock)
    factories.modules(fr, "PP-101")
    advisor = factories.ready_advisor(fr, factories.staff(fr))
    integration.confirm_match(fr.uow(), active, advisor, META, clock=fr.clock)
    return forming, active


@pytest.mark.parametrize("stage", ["forming", "en formation", "EN FORMATION", "En Formation"])
def test_a_team_stage_filter_takes_the_french_name_like_the_code(ppflow, teams, stage):
    forming, active = teams
    out = ppflow("team", "list", "--stage", stage)
    assert forming in out and active not in out


@pytest.mark.parametrize("state", ["active", "Active", "ACTIVE"])
def test_an_engagement_state_filter_takes_its_name_in_any_case(fr, ppflow, teams, state):
    forming, active = teams
    assert active in ppflow("engagement", "list", "--state", state)
    assert "no engagement matches" in ppflow("engagement", "list", "--state", "terminée tôt")


@pytest.mark.parametrize("role", ["top_level_manager", "haute direction", "HAUTE DIRECTION"])
def test_a_staff_role_is_its_code_or_its_french_name(fr, ppflow, role):
    out = ppflow("staff", "add", "--name", "Ana", "--email", "ana@example.org", "--role", role)
    assert "(top_level_manager)" in out
    assert [m.role for m in queries.list_staff(fr.uow(), "top_level_manager")] == [
        "top_level_manager"
    ]


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("fr", "« chef » n'est pas l'un des choix : coordination, gestionnaire"),
        ("en", "'chef' is not one of: coordinator, front-line manager"),
    ],
)
def test_an_unknown_role_is_refused_listing_the_roles_in_the_interface_language(
    any_app, ppflow, language, says
):
    any_app.settings.language = language
    args = ("staff", "add", "--name", "Ana", "--email", "ana@example.org", "--role", "chef")
    out = unboxed(ppflow(*args, code=2)).replace("\u00a0", " ")
    assert says in out


@pytest.mark.parametrize("value", ["0,8", "80 %", "80%", "80\u00a0%", "80\u202f%", "0.8"])
def test_a_target_share_takes_a_decimal_comma_or_a_percent_sign(fr, ppflow, value):
    ppflow("program", "add", "PP-X", "--name", "Program", "--department", "Quality")
    program = "PP-X"
    ppflow("program", "target", program, f"attendance_rate={value}:2027")
    targets = queries.get_program(fr.uow(), program).targets
    assert [(t.indicator, t.target) for t in targets] == [("attendance_rate", 0.8)]


def test_an_incident_date_may_be_written_in_french(fr, ppflow):
    out = ppflow(
        "incident", "add", "--occurred", "1er mars 2026", "--circumstances", "lost list",
        "--data", "names", "--people", "2", "--severity", "low", "--measures", "found",
    )  # fmt: skip
    assert "recorded incident" in out
    assert [str(i["occurred_on"]) for i in list_incidents(fr.uow())] == ["2026-03-01"]


@pytest.mark.parametrize("typed", ["05/12/2026", "5/12/26"])
def test_an_ambiguous_date_is_refused_in_its_own_process_with_the_reason(tmp_path, typed):
    assert ppflow_process(tmp_path, "db", "upgrade").returncode == 0
    result = ppflow_process(
        tmp_path, "incident", "add", "--occurred", typed, "--circumstances", "c",
        "--data", "d", "--people", "1", "--severity", "low", "--measures", "m",
        PPFLOW_LANGUAGE="fr",
    )  # fmt: skip
    output = unboxed(result.stdout + result.stderr).replace("\u00a0", " ")
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert f"« {typed} » est ambiguë : jour/mois ou mois/jour ?" in output
    assert "2026-12-05" in output  # what to write instead
