"""The sweeps, retention and the privacy register, each on fakes of the ports they take.

What the SQL behind these ports finds and erases (stalled cases and due rounds found by
query, contacts erased, export contents) needs the real database and is covered in
tests/integration (test_sweeps_db.py, test_privacy.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.domain.surveys import due_round
from ppflow.services import privacy, retention, sweeps
from ppflow.services.ports import Case, FixedClock, Found
from tests.unit.fakes import (
    START,
    FakePrivacyStore,
    FakeRetentionStore,
    FakeSweepQueries,
    FakeUnitOfWork,
    advisor_at,
    organization,
)


def test_one_digest_a_day_goes_to_each_coordinator_listing_the_stalled_cases():
    o = organization()
    invited = Found(3, [Case("PA-2222AA", "invited", 20), Case("PA-3333BB", "invited", 15)])
    queries = FakeSweepQueries(stalled_cases={"invited": invited})

    report = sweeps.send_reminders(o.uow, queries, clock=o.clock)
    again = sweeps.send_reminders(o.uow, queries, clock=o.clock)

    assert (report.total, report.digests, again.digests) == (3, 1, 0)
    [digest] = o.uow.queued("reminder_digest")
    assert digest.recipient_code == o.coordinator
    assert digest.idempotency_key == f"reminder_digest:{o.coordinator}:2026-03-02"
    assert digest.context["total"] == 3
    assert [i["advisor"] for i in digest.context["items"]] == ["PA-2222AA", "PA-3333BB"]
    o.later(days=1)
    assert sweeps.send_reminders(o.uow, queries, clock=o.clock).digests == 1


def test_no_digest_when_nothing_waits_and_decisions_count_after_their_service_level():
    o = organization()
    young = [Case("PA-2222AA", "decision", 3, "recruit")]

    report = sweeps.send_reminders(
        o.uow, FakeSweepQueries(), waiting_decisions=young, clock=o.clock
    )

    assert report.total == 0 and o.uow.queued("reminder_digest") == []
    old = [Case("PA-2222AA", "decision", 14, "recruit")]
    assert (
        sweeps.send_reminders(
            o.uow, FakeSweepQueries(), waiting_decisions=old, clock=o.clock
        ).cases["decision"]
        == 1
    )


def test_each_kind_of_case_is_looked_for_with_its_own_service_level():
    queries = FakeSweepQueries()
    levels = {**sweeps.DEFAULT_SERVICE_LEVELS, "invited": 3}

    found = sweeps.find_stalled_cases(queries, START, levels)

    assert set(found) == {"identified", "invited", "preparing", "survey", "consent", "training"}
    assert ("stalled", "invited", START - timedelta(days=3)) in queries.asked
    assert ("consent", START + timedelta(days=30)) in queries.asked


def test_due_survey_rounds_are_opened_and_counted():
    o = organization()
    code = advisor_at(o, "active")
    engagement = o.uow.engagements.for_advisor(code)[0].code
    queries = FakeSweepQueries(due_rounds=[(engagement, 1)])

    assert sweeps.open_due_surveys(lambda: o.uow, queries, o.clock) == 1
    assert {s.request.round for s in o.uow.tables.surveys} == {1}
    assert len(o.uow.queued("survey_request")) == 2
    sweeps.open_due_surveys(lambda: o.uow, queries, o.clock)
    assert len(o.uow.queued("survey_request")) == 2  # the same round is opened once


def test_survey_rounds_fall_three_months_in_then_every_six():
    assert [due_round(m) for m in (0, 2, 3, 8, 9, 15)] == [0, 0, 1, 1, 2, 3]


# ------------------------------------------------------------------------- retention


def holding(store, name: str) -> FakeUnitOfWork:
    """A unit of work whose privacy or retention store is ``store``."""
    uow = FakeUnitOfWork()
    setattr(uow, name, store)
    return uow


def test_retention_erases_each_final_state_after_its_own_period():
    store = FakeRetentionStore(people={"withdrawn": 2, "declined": 1}, mail=1)
    clock = FixedClock(START)

    uow = holding(store, "retention")
    report = retention.apply_retention(uow, {"withdrawn": 30, "declined": 365}, clock)

    assert report.erased == {"declined": 1, "withdrawn": 2} and report.total == 3
    assert report.cancelled == 2 and uow.commits == 1  # one transaction for every state
    assert store.asked == [
        ("declined", START - timedelta(days=365)),
        ("withdrawn", START - timedelta(days=30)),
    ]


def test_retention_is_set_only_for_final_states():
    with pytest.raises(ValueError, match="active is not one of alumni, declined"):
        retention.apply_retention(
            holding(FakeRetentionStore(), "retention"), {"active": 30}, FixedClock(START)
        )


# --------------------------------------------------------------------------- privacy


def test_an_export_is_stamped_with_its_format_and_time_and_an_unknown_advisor_refused():
    store = FakePrivacyStore(exports={"PA-2222AA": {"advisor": {"code": "PA-2222AA"}}})

    exported = privacy.export_advisor(holding(store, "privacy"), "PA-2222AA", FixedClock(START))

    assert exported["format"] == "ppflow-advisor-export/1"
    assert exported["exported_at"] == START.isoformat()
    assert exported["advisor"] == {"code": "PA-2222AA"}
    with pytest.raises(NotFoundError):
        privacy.export_advisor(holding(store, "privacy"), "PA-NOBODY", FixedClock(START))


def test_erasure_on_request_is_asked_of_the_store_at_the_clocks_time():
    store = FakePrivacyStore(exports={"PA-2222AA": {}})
    uow = holding(store, "privacy")
    privacy.erase_advisor(uow, "PA-2222AA", FixedClock(START))
    assert store.erased == [("PA-2222AA", START)] and uow.commits == 1


def incident(**changes):
    values = dict(
        occurred_on=date(2026, 2, 27),
        circumstances="a list sent to the wrong team",
        data_concerned="names and e-mail addresses",
        people_affected=12,
        severity="moderate",
        measures="recalled; the team deleted it",
        actor="camille",
    )
    values.update(changes)
    return privacy.RecordIncident(**values)


def test_an_incident_is_registered_and_kept_five_years():
    store = FakePrivacyStore()
    uow = holding(store, "privacy")

    privacy.record_incident(uow, incident(), FixedClock(START))
    privacy.record_incident(uow, incident(occurred_on=date(2024, 2, 29)), FixedClock(START))

    first, leap = store.incident_rows
    assert (first["keep_until"], first["recorded_by"], first["recorded_at"]) == (
        date(2031, 2, 27),
        "camille",
        START,
    )
    assert leap["keep_until"] == date(2029, 3, 1)


def test_an_incident_is_refused_with_every_problem_named():
    bad = incident(severity="huge", people_affected=-1, measures=" ", occurred_on=date(2026, 4, 1))

    with pytest.raises(InvalidInputError) as error:
        privacy.record_incident(holding(FakePrivacyStore(), "privacy"), bad, FixedClock(START))

    for part in ("severity 'huge'", "cannot be negative", "measures must be described", "future"):
        assert part in str(error.value)
