"""The advisor lifecycle on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ppflow.adapters.orm import AdvisorRow, ContactRow, NotificationRow, TransitionRow
from ppflow.domain.commands import ChangeAdvisorStage, Meta
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    GuardFailedError,
    IllegalTransitionError,
    NotFoundError,
)
from ppflow.domain.model import ADVISOR_CODE
from ppflow.services import advisors
from tests import factories

META = Meta(actor="coordinator:test")


def count(app, row_type, *where) -> int:
    with app.session_factory() as session:
        return session.scalar(select(func.count()).select_from(row_type).where(*where))


def test_an_advisor_walks_from_referral_to_ready_and_the_log_replays(any_app):
    referrer = factories.staff(any_app)
    factories.modules(any_app, "PP-101", "CONF-1")
    code = factories.ready_advisor(any_app, referrer)
    assert ADVISOR_CODE.match(code)
    history = advisors.advisor_history(any_app.uow(), code)
    assert [t.to_state for t in history] == [
        "identified",
        "invited",
        "screening",
        "recruited",
        "preparing",
        "ready",
    ]
    # each transition starts where the previous one ended
    assert [t.from_state for t in history[1:]] == [t.to_state for t in history[:-1]]
    with any_app.uow() as uow:
        assert uow.advisors.get(code).stage == "ready"
        assert {c.purpose for c in uow.advisors.consents(code)} == {
            "participation",
            "confidentiality",
        }
    templates = {"invitation", "welcome", "referral_acknowledgement"}
    with any_app.session_factory() as session:
        queued = set(session.scalars(select(NotificationRow.template)))
    assert templates <= queued


def test_personal_data_stays_in_the_contacts_table(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(
        any_app,
        referrer,
        first_name="Zoé",
        last_name="Secret",
        email="zoe.secret@example.org",
        context="lives with diabetes",
    )
    with any_app.session_factory() as session:
        advisor = session.scalar(select(AdvisorRow).where(AdvisorRow.code == code))
        contact = session.scalar(select(ContactRow).where(ContactRow.advisor_id == advisor.id))
        notes = list(session.scalars(select(NotificationRow.context)))
        log = [vars(row) for row in session.scalars(select(TransitionRow))]
    assert contact.last_name == "Secret" and contact.context == "lives with diabetes"
    flat = repr([vars(advisor), notes, log])
    for secret in ("Zoé", "Secret", "zoe.secret", "diabetes"):
        assert secret not in flat
    assert "Secret" not in code and "ZOE" not in code


def test_a_guard_that_fails_writes_nothing_and_says_what_is_missing(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    advisors.invite_advisor(any_app.uow(), code, META, any_app.clock)
    advisors.record_invitation_answer(any_app.uow(), code, True, META, any_app.clock)
    before = count(any_app, TransitionRow)
    with pytest.raises(GuardFailedError, match="no consent recorded; no confidentiality"):
        advisors.change_advisor_stage(
            any_app.uow(), ChangeAdvisorStage(code, "recruited", meta=META), any_app.clock
        )
    with pytest.raises(IllegalTransitionError, match="allowed from 'screening'"):
        advisors.change_advisor_stage(
            any_app.uow(), ChangeAdvisorStage(code, "ready", meta=META), any_app.clock
        )
    assert count(any_app, TransitionRow) == before
    with any_app.uow() as uow:
        assert uow.advisors.get(code).stage == "screening"


def test_not_retained_needs_a_reason(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    advisors.invite_advisor(any_app.uow(), code, META, any_app.clock)
    advisors.record_invitation_answer(any_app.uow(), code, True, META, any_app.clock)
    with pytest.raises(GuardFailedError, match="no reason recorded"):
        advisors.apply_screening_outcome(
            any_app.uow(), code, "not_retained", META, clock=any_app.clock
        )
    change = advisors.apply_screening_outcome(
        any_app.uow(),
        code,
        "not_retained",
        Meta("coordinator:test", "prefers another program"),
        clock=any_app.clock,
    )
    assert change.to_state == "not_retained"
    assert advisors.advisor_history(any_app.uow(), code)[-1].reason == "prefers another program"


def test_hold_returns_to_the_state_held_before(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    advisors.invite_advisor(any_app.uow(), code, META, any_app.clock)
    advisors.put_on_hold(any_app.uow(), code, Meta("c", "hospitalised"), any_app.clock)
    with pytest.raises(GuardFailedError, match="state held before"):
        advisors.change_advisor_stage(
            any_app.uow(), ChangeAdvisorStage(code, "identified", meta=META), any_app.clock
        )
    assert advisors.resume(any_app.uow(), code, META, any_app.clock).to_state == "invited"


def test_withdrawal_is_recorded_in_the_consent_ledger(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    with pytest.raises(GuardFailedError, match="no withdrawal of consent recorded"):
        advisors.change_advisor_stage(
            any_app.uow(), ChangeAdvisorStage(code, "withdrawn", meta=META), any_app.clock
        )
    assert advisors.withdraw_advisor(any_app.uow(), code, META, any_app.clock).to_state == (
        "withdrawn"
    )
    with any_app.uow() as uow:
        assert all(c.withdrawn_at is not None for c in uow.advisors.consents(code))


def test_a_change_sent_again_with_its_request_id_changes_nothing(any_app):
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer, request_id="ref-1")
    again = factories.referral(any_app, referrer, request_id="ref-1")
    assert again == code
    assert count(any_app, AdvisorRow) == 1
    meta = Meta(actor="c", request_id="invite-1")
    first = advisors.invite_advisor(any_app.uow(), code, meta, any_app.clock)
    any_app.clock.moment += timedelta(hours=1)
    second = advisors.invite_advisor(any_app.uow(), code, meta, any_app.clock)
    assert second.replayed and not first.replayed
    assert (second.code, second.from_state, second.to_state, second.at) == (
        first.code,
        first.from_state,
        first.to_state,
        first.at,
    )
    assert count(any_app, TransitionRow, TransitionRow.code == code) == 2
    assert count(any_app, NotificationRow, NotificationRow.template == "invitation") == 1


def test_two_racing_changes_one_wins_and_the_other_gets_a_conflict(any_app):
    """Two real connections read the same version; the second write is refused whole."""
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    now = any_app.clock.now()
    with any_app.uow() as first, any_app.uow() as second:
        mine, theirs = first.advisors.get(code), second.advisors.get(code)
        assert mine.version == theirs.version == 1
        advisors.move_advisor(first, ChangeAdvisorStage(code, "on_hold", meta=Meta("a", "x")), now)
        first.commit()
        with pytest.raises(ConcurrentUpdateError, match=f"advisor {code} was changed"):
            theirs.stage = "withdrawn"
            second.advisors.save(theirs)
    with any_app.uow() as uow:
        advisor = uow.advisors.get(code)
        assert (advisor.stage, advisor.version) == ("on_hold", 2)
    assert [t.to_state for t in advisors.advisor_history(any_app.uow(), code)] == [
        "identified",
        "on_hold",
    ]


def test_concurrent_coordinators_on_one_advisor_never_half_write(any_app):
    """Four threads race to put the same advisor on hold: exactly one succeeds."""
    referrer = factories.staff(any_app)
    code = factories.referral(any_app, referrer)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            advisors.put_on_hold(any_app.uow(), code, Meta(f"c{n}", "race"), any_app.clock)
            outcomes.append("won")
        except (ConcurrentUpdateError, IllegalTransitionError):
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["won"]
    assert count(any_app, TransitionRow, TransitionRow.to_state == "on_hold") == 1
    with any_app.uow() as uow:
        assert uow.advisors.get(code).version == 2


def test_history_of_an_unknown_advisor_is_a_clear_error(any_app):
    with pytest.raises(NotFoundError, match="no advisor 'PA-NOPE42'"):
        advisors.advisor_history(any_app.uow(), "PA-NOPE42")
