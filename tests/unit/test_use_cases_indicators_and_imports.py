"""Indicators on fake query answers, the referral CSV import and the demonstration seed on
the in-memory unit of work. The SQL that counts the indicators is covered in
tests/integration/test_indicators_db.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ppflow.domain.commands import Meta
from ppflow.services import demo, indicators, referral_import
from ppflow.services.ports import (
    Compensation,
    Durations,
    ItemScores,
    Retention,
    TargetVersion,
    TeamCounts,
)
from ppflow.services.referral_import import CsvFormatError
from tests.unit.fakes import FakeUnitOfWork, organization

Q1 = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
MONTREAL = ZoneInfo("America/Montreal")


@dataclass
class FakeIndicatorQueries:
    paid: Compensation | None = field(default_factory=lambda: Compensation(12.5, 300.0, 20.0))
    themes: tuple | None = None

    def funnel_at(self, end):
        return {"active": 4, "ready": 2}

    def entered(self, stage, start, end):
        return {"active": 3, "withdrawn": 1, "declined": 2}.get(stage, 0)

    def funnel_moves(self, steps, start, end):
        reached = {"identified": 8, "invited": 6, "screening": 4, "active": 3}
        return reached, {"identified": 6, "invited": 3, "screening": 0}

    def new_referrals(self, start, end):
        return 7

    def teams_at(self, end):
        return TeamCounts(active_teams=4, with_one=3, with_two=1, advisors_on_active_teams=5)

    def days_to_integration(self, start, end):
        return Durations(3, 40.0, 75.0)

    def retention(self, end, days):
        return Retention(4, 3) if days == 183 else Retention(0, 0)

    def reasons_for_leaving(self, start, end):
        return [("withdrawn", "moved", 3), ("withdrawn", "health", 1), ("alumni", "done", 2)]

    def compensation(self, start, end):
        return self.paid

    def feedback_mean(self, start, end):
        return 4.2, 5

    def item_scores(self, start, end):
        return [ItemScores("2026Q1", "res_heard", 4.0, 2), ItemScores("2026Q1", "res_x", 5.0, 2)]

    def item_themes(self):
        return self.themes

    def attendance(self, start, end):
        return []

    def target_versions(self):
        return [
            TargetVersion("share_teams_with_two_advisors", 0.5, "2026", 2, Q1[0], 0.4),
            TargetVersion("days_to_integration_median", 45, "2026", 1, Q1[0]),
        ]


def test_indicators_put_each_figure_beside_its_target():
    result = indicators.compute_indicators(FakeIndicatorQueries(), *Q1, label="2026Q1")

    assert result.values["share_teams_with_advisors"] == 0.75
    assert result.values["advisors_per_team"] == 1.25
    assert result.values["retention_6m"] == 0.75 and result.values["retention_12m"] is None
    assert (result.values["hours"], result.values["compensation_paid"]) == (12.5, 300.0)
    met = {c.indicator: c.met for c in result.comparisons()}
    assert met["share_teams_with_two_advisors"] is False  # 0.25 against 0.5
    assert met["days_to_integration_median"] is True  # 40 days, lower is better
    assert result.reasons_for_leaving == [
        ("withdrawn", "moved", 3),
        ("alumni", indicators.OTHER_REASONS, 2),
        ("withdrawn", indicators.OTHER_REASONS, 1),
    ]


def test_without_compensation_tables_or_questionnaire_themes_the_report_says_so():
    result = indicators.compute_indicators(FakeIndicatorQueries(paid=None), *Q1)

    assert result.values["hours"] is None
    assert any("no compensation tables" in note for note in result.notes)
    assert result.themes == {"res": {"2026Q1": 4.5}}  # grouped by the id's prefix


def test_questionnaire_themes_group_the_items_when_they_are_known():
    themes = ({"res_heard": "respect", "res_x": "influence"}, {"respect": "Respect"})
    result = indicators.compute_indicators(FakeIndicatorQueries(themes=themes), *Q1)
    assert result.themes == {"influence": {"2026Q1": 5.0}, "respect": {"2026Q1": 4.0}}
    assert result.values["feedback_respect"] == 4.0
    assert result.theme_titles == {"influence": "influence", "respect": "Respect"}


def test_the_funnel_gives_each_steps_conversion_to_the_next():
    result = indicators.compute_indicators(FakeIndicatorQueries(), *Q1)
    steps = [(s.stage, s.reached, s.moved_on, s.rate) for s in result.conversions]
    assert steps == [
        ("identified", 8, 6, 0.75),
        ("invited", 6, 3, 0.5),
        ("screening", 4, 0, 0.0),
        ("recruited", 0, 0, None),  # nobody reached it: no rate rather than 0 %
        ("preparing", 0, 0, None),
        ("ready", 0, 0, None),
        ("active", 3, None, None),  # the last step leads nowhere
    ]
    assert result.exits == {"declined": 2, "not_retained": 0, "withdrawn": 1}


@dataclass
class QuarterlyQueries(FakeIndicatorQueries):
    """New referrals only from 2025Q4 on (one more each quarter)."""

    def new_referrals(self, start, end):
        return max(0, (start.year - 2025) * 4 + (start.month - 1) // 3 - 2)

    def entered(self, stage, start, end):
        return 0

    def teams_at(self, end):
        return TeamCounts(0, 0, 0, 0)

    def feedback_mean(self, start, end):
        return None, 0

    def days_to_integration(self, start, end):
        return Durations(0, None, None)


def test_the_trend_covers_the_quarters_up_to_the_periods_last_day():
    quarters = indicators.trend_quarters(datetime(2026, 7, 1, 4, tzinfo=UTC), MONTREAL)
    assert [p.label for p in quarters] == [
        "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"
    ]  # fmt: skip
    assert quarters[-1].end == datetime(2026, 7, 1, 4, tzinfo=UTC)


def test_the_trend_leaves_out_empty_quarters_before_the_first_figure_down_to_four():
    late = indicators.compute_trend(QuarterlyQueries(), datetime(2026, 10, 1, tzinfo=UTC))
    assert [q.quarter for q in late] == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    assert [q.values["new_referrals"] for q in late] == [1, 2, 3, 4]
    early = indicators.compute_trend(QuarterlyQueries(), datetime(2026, 4, 1, tzinfo=UTC))
    assert [q.quarter for q in early] == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert [q.values["new_referrals"] for q in early] == [0, 0, 1, 2]
    assert early[-1].targets == {"days_to_integration_median": 45}


# ------------------------------------------------------------------ referral import


def referrals_csv(o, *rows: str) -> bytes:
    header = "first_name,last_name,email,language,referred_by,phone,tags"
    return ("\n".join((header, *rows)) + "\n").encode()


def test_a_referral_file_is_imported_in_one_transaction_and_a_retry_replays_it():
    o = organization()
    data = referrals_csv(
        o,
        f"Marie,Lavoie,marie@example.org,fr,{o.referrer},,cancer;youth",
        "Luc,Morin,luc@example.org,FR,dominique@example.org,514-555-0101,",
    )
    meta = Meta(actor="camille", request_id="upload-9")
    seen = []

    report = referral_import.import_referrals(
        o.uow, data, meta, clock=o.clock, progress=lambda *p: seen.append(p)
    )
    again = referral_import.import_referrals(o.uow, data, meta, clock=o.clock)

    assert len(report.imported) == 2 and report.problems == []
    assert seen == [(1, 2), (2, 2)]
    assert sorted(again.imported) == sorted(report.imported)
    assert o.uow.advisors.count_by_stage() == {"identified": 2}
    first = o.uow.advisors.get(report.imported[0])
    assert first.tags == ["cancer", "youth"]
    assert [t.request_id for t in o.uow.log("advisor")] == ["upload-9:2", "upload-9:3"]
    assert o.uow.queued("referral_received") == []  # the coordinators hear once per import
    [notice] = o.uow.queued("referrals_imported")
    assert notice.context["count"] == 2 and notice.recipient_code == o.coordinator


def test_a_referral_file_with_bad_rows_imports_nothing_unless_told_to_skip_them():
    o = organization()
    o_code = referral_import.import_referrals(
        o.uow,
        referrals_csv(o, f"Ana,Roy,ana@example.org,fr,{o.referrer},,"),
        Meta(),
        clock=o.clock,
    ).imported[0]
    data = referrals_csv(
        o,
        f"Marie,Lavoie,marie@example.org,fr,{o.referrer},,",
        "Luc,Morin,luc@example.org,fr,nobody@example.org,,",
        f"Ana,Again,ANA@example.org,fr,{o.referrer},,",
        f"Marie,Twice,marie@example.org,fr,{o.referrer},,",
        f"Tom,Wilson,tom@,en,{o.referrer},,",
    )

    report = referral_import.import_referrals(o.uow, data, Meta(), clock=o.clock)

    assert report.imported == [] and sorted(report.bad_lines) == [3, 4, 5, 6]
    reasons = {p.line: p.reason for p in report.problems}
    assert "referrer 'nobody@example.org' is not a known staff member" in reasons[3]
    assert f"e-mail already in the pool as {o_code}" in reasons[4]
    assert "same e-mail as line 2" in reasons[5]
    assert "e-mail 'tom@' is not a valid address" in reasons[6]
    assert o.uow.advisors.count_by_stage() == {"identified": 1}

    skipped = referral_import.import_referrals(
        o.uow, data, Meta(), skip_invalid=True, clock=o.clock
    )
    assert len(skipped.imported) == 1
    assert o.uow.advisors.count_by_stage() == {"identified": 2}


def test_a_referral_file_without_the_required_columns_is_refused_as_a_whole():
    o = organization()
    with pytest.raises(CsvFormatError, match="lacks the column\\(s\\) referred_by"):
        referral_import.import_referrals(
            o.uow, b"first_name,last_name,email,language\n", Meta(), clock=o.clock
        )


# ---------------------------------------------------------------------------- demo


def test_the_demonstration_walks_every_advisor_to_their_stage_once():
    uow, clock = FakeUnitOfWork(), organization().clock

    assert demo.seed(uow, clock)
    assert not demo.seed(uow, clock)

    counts = uow.advisors.count_by_stage()
    assert counts["ready"] == 2 and counts["on_hold"] == 1 and counts["withdrawn"] == 1
    assert sum(counts.values()) == len(demo.ADVISORS)
    found = demo.existing_structure(uow)
    assert found["coordinator"] == uow.staff.by_email("camille.roy@example.org").code
    assert found["team1"] and found["team2"]
    assert demo.existing_structure(FakeUnitOfWork()) is None
