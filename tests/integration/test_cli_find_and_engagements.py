"""What waits on the coordinator, read from the command line on a real database (SQLite,
then PostgreSQL): `advisor find`, the pool's filters and their refusals, and
`engagement list` and `show`."""

from __future__ import annotations

from datetime import date

import pytest

from ppflow.domain.commands import Meta
from ppflow.services import integration
from ppflow.services.feedback import evaluate_engagement, open_feedback
from ppflow.services.privacy import erase_advisor
from tests import factories
from tests.integration.test_compensation import World, later

# The CLI is read on an 80-column page.
pytestmark = pytest.mark.usefixtures("eighty_columns")


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


# ----------------------------------------------------------------------------- find


def test_find_matches_names_and_e_mail_whatever_the_case_and_accents(any_app, ppflow):
    referrer = factories.staff(any_app)
    helene = factories.referral(
        any_app, referrer, first_name="Hélène", last_name="Côté", email="Helene.Cote@Example.org"
    )
    other = factories.referral(any_app, referrer, first_name="Hélène", last_name="Roy")

    out = ppflow("advisor", "find", "HELENE cote")
    assert helene in out and other not in out
    assert "identified" in out and "Hélène Côté" in out and "Helene.Cote@Example.org" in out
    out = ppflow("advisor", "find", "hélène")
    assert helene in out and other in out
    assert helene in ppflow("advisor", "find", "helene.cote@example")
    out = ppflow("advisor", "find", "helene", "--limit", "1")
    assert helene in out and other not in out and "showing the first 1" in out
    assert one_line(ppflow("advisor", "find", "nobody")) == "no advisor matches"


def test_find_never_matches_an_erased_person(any_app, ppflow):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer, first_name="Zoé", last_name="Erasable")
    assert code in ppflow("advisor", "find", "erasable")

    erase_advisor(any_app.uow(), code, any_app.clock, actor="cli:privacy-officer")

    assert one_line(ppflow("advisor", "find", "erasable")) == "no advisor matches"
    assert one_line(ppflow("advisor", "find", "erased")) == "no advisor matches"


def test_find_refuses_an_empty_search(ppflow):
    out = ppflow("advisor", "find", "  ", code=1)
    assert "error: give a name or an e-mail address to search for" in one_line(out)


# ----------------------------------------------------------------------- pool filters


def test_the_pool_is_filtered_by_skill_availability_and_load(any_app, ppflow):
    world = World(any_app)
    _, busy = world.engagement()
    writer = factories.referral(any_app, world.referrer, skills=("Writing",), availability_hours=10)
    idle = factories.referral(any_app, world.referrer, availability_hours=3)

    out = ppflow("advisor", "list", "--skill", "writing")
    assert writer in out and idle not in out and busy not in out
    out = ppflow("advisor", "list", "--available-hours", "10")
    assert writer in out and idle not in out
    out = ppflow("advisor", "list", "--max-load", "0")
    assert writer in out and idle in out and busy not in out
    assert busy in ppflow("advisor", "list", "--max-load", "1")
    assert busy in ppflow("advisor", "list", "--stage", "active")
    line = one_line(ppflow("advisor", "list", "--skill", "juggling"))
    assert line == "no advisor matches"


@pytest.mark.parametrize(
    ("args", "valid"),
    [
        (("advisor", "list", "--language", "de"), "'fr', 'en'"),
    ],
)
def test_a_choice_option_refuses_an_unknown_value_with_the_valid_ones(ppflow, args, valid):
    out = " ".join(ppflow(*args, code=2).replace("│", " ").split())  # the box Click draws
    assert f"'{args[-1]}' is not one of" in out and valid in out


def test_the_pool_reads_a_stage_by_its_code_or_its_name_and_refuses_others(any_app, ppflow):
    referrer = factories.staff(any_app)
    held = factories.referral(any_app, referrer, first_name="Rémi", last_name="Pause")
    other = factories.referral(any_app, referrer, first_name="Zoé", last_name="Ready")
    ppflow("advisor", "hold", held, "--reason", "a leave")
    for written in ("on_hold", "en pause", "EN PAUSE", "On hold"):
        out = ppflow("advisor", "list", "--stage", written)
        assert held in out and other not in out, written
    out = " ".join(ppflow("advisor", "list", "--stage", "activ", code=2).replace("│", " ").split())
    assert "activ" in out and "en pause" in out  # the choices, in the interface's French


def test_the_pools_language_choice_is_every_language_ppflow_speaks_in_order():
    from ppflow.cli.advisor import Spoken
    from ppflow.domain.model import LANGUAGES

    assert tuple(Spoken) == LANGUAGES


def test_the_pool_refuses_a_negative_count(ppflow):
    assert "--max-load" in ppflow("advisor", "list", "--max-load", "-1", code=2)


# ------------------------------------------------------------------------ engagements


def test_engagements_are_listed_by_team_advisor_and_state(any_app, ppflow):
    world = World(any_app)
    first, first_advisor = world.engagement()
    second, second_advisor = world.engagement()
    later(any_app, date(2026, 6, 1))
    integration.end_engagement(any_app.uow(), first, Meta("t"), False, clock=any_app.clock)

    out = ppflow("engagement", "list")
    assert first in out and second in out
    out = ppflow("engagement", "list", "--team", world.teams[0])
    assert first in out and second not in out
    out = ppflow("engagement", "list", "--advisor", second_advisor)
    assert second in out and first not in out
    out = ppflow("engagement", "list", "--state", "completed")
    assert first in out and second not in out
    line = one_line(ppflow("engagement", "list", "--advisor", first_advisor, "--state", "active"))
    assert line == "no engagement matches"
    assert "error: no advisor 'PA-ZZZZZZ'" in one_line(
        ppflow("engagement", "list", "--advisor", "PA-ZZZZZZ", code=1)
    )
    assert "error: no QI team 'QT-ZZZZZZ'" in one_line(
        ppflow("engagement", "list", "--team", "QT-ZZZZZZ", code=1)
    )


def test_an_engagement_shows_its_evaluation_feedback_rounds_hours_and_pay(any_app, ppflow):
    world = World(any_app)
    engagement, advisor = world.engagement(rate=30.0)
    later(any_app, date(2026, 6, 1))
    world.log(engagement, date(2026, 5, 1), "2.5")
    world.expense(engagement, date(2026, 5, 1), "12.50")
    open_feedback(any_app.uow(), engagement, Meta("t"), clock=any_app.clock)

    out = ppflow("engagement", "show", engagement)
    assert f"{engagement} — active" in out
    assert advisor in out and world.teams[0] in out and "rate: 30.00/h" in out
    assert "evaluation: not yet" in out
    assert "Feedback rounds" in out and "advisor" in out and "staff" in out and "not yet" in out
    assert "hours: 2.5 in 1 entry" in out and "owed: 75.00" in out and "expenses: 12.50" in out

    integration.end_engagement(any_app.uow(), engagement, Meta("t"), False, clock=any_app.clock)
    evaluate_engagement(any_app.uow(), engagement, Meta("t"), "went well", clock=any_app.clock)
    out = ppflow("engagement", "show", engagement)
    assert f"{engagement} — evaluated" in out and "went well" in out
    assert "Criteria" in out and "feedback" in out and "no feedback received" in out
    assert "Ada" not in out  # codes only: the show prints no personal data

    assert "error: no engagement 'EN-ZZZZZZ'" in one_line(
        ppflow("engagement", "show", "EN-ZZZZZZ", code=1)
    )


@pytest.mark.parametrize("revision", ["", "   "])
def test_a_downgrade_to_no_revision_is_refused_and_changes_nothing(any_app, ppflow, revision):
    before = any_app.revision()
    out = " ".join(ppflow("db", "downgrade", revision, code=2).replace("│", " ").split())
    assert "name a revision, or 'base'" in out
    assert any_app.revision() == before
