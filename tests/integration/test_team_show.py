"""``ppflow team show`` on a real database (SQLite, then PostgreSQL): the team's tokenism
warnings now, and the last match proposals kept with the reasons of each score (replaced
by the next proposals, erased with the advisor)."""

from __future__ import annotations

from sqlalchemy import func, select

from ppflow.adapters.orm import MatchProposalRow
from ppflow.domain.commands import Meta
from ppflow.services import integration
from ppflow.services.privacy import erase_advisor
from tests import factories


def briefed_team(app) -> tuple[str, str]:
    factories.modules(app, "PP-101")
    referrer = factories.staff(app)
    team = factories.team(app, factories.staff(app, role="front_line_manager"))
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    return team, referrer


def test_a_team_with_one_advisor_shows_the_warning_and_the_proposals_with_reasons(any_app, ppflow):
    team, referrer = briefed_team(any_app)
    first = factories.ready_advisor(any_app, referrer, tags=["cancer"], languages=["fr"])
    second = factories.ready_advisor(any_app, referrer, tags=[], languages=["en"])
    proposed = integration.propose_matches(any_app.uow(), team, 5, clock=any_app.clock)
    assert [m.advisor for m in proposed] == [first, second]
    integration.confirm_match(any_app.uow(), team, first, Meta("t"), clock=any_app.clock)

    out = ppflow("team", "show", team.lower())

    warnings = out.split("Tokenism warnings")[1].split("Last match proposals")[0]
    assert f"team {team} has 1 advisor(s); its rule asks for at least 2" in warnings
    proposals = out.split("Last match proposals")[1]
    assert f"1. {first}  score" in proposals and f"2. {second}  score" in proposals
    assert "speaks the team's language (fr)" in proposals
    assert "shared lived experience: cancer" in proposals
    assert proposals.index(first) < proposals.index(second)


def test_new_proposals_replace_the_last_ones_and_erasure_takes_the_advisors_away(any_app, ppflow):
    team, referrer = briefed_team(any_app)
    first = factories.ready_advisor(any_app, referrer)
    integration.propose_matches(any_app.uow(), team, 5, clock=any_app.clock)
    second = factories.ready_advisor(any_app, referrer)
    integration.propose_matches(any_app.uow(), team, 5, clock=any_app.clock)
    with any_app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MatchProposalRow)) == 2

    erase_advisor(any_app.uow(), first, any_app.clock, actor="dpo")

    out = ppflow("team", "show", team)
    assert second in out and first not in out.split("Last match proposals")[1]
    with any_app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MatchProposalRow)) == 1


def test_a_team_never_proposed_for_says_none_and_an_unknown_team_is_named(any_app, ppflow):
    team, _ = briefed_team(any_app)
    out = ppflow("team", "show", team)
    assert "Last match proposals\n  none" in out
    assert f"team {team} has 0 advisor(s)" in out
    assert "QI team 'QT-NOWHERE'" in " ".join(ppflow("team", "show", "QT-NOWHERE", code=1).split())
