"""The batch path moves a cohort with a handful of statements, and refuses whole rows,
never half of one."""

from __future__ import annotations

from sqlalchemy import func, select

from ppflow.adapters.orm import NotificationRow, TransitionRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from tests import factories


def test_a_cohort_is_invited_in_one_transaction_with_its_invitations(any_app):
    app = any_app
    referrer = factories.staff(app)
    cohort = [factories.referral(app, referrer) for _ in range(5)]
    advisors.invite_advisor(app.uow(), cohort[0], Meta("t"), app.clock)  # already invited
    result = advisors.invite_advisors(
        app.uow(), [*cohort, "PA-NOSUCH"], Meta("flow:x", request_id="run-9"), app.clock
    )
    assert result.moved == cohort[1:]
    reasons = dict(result.refused)
    assert "cannot move from 'invited' to 'invited'" in reasons[cohort[0]]
    assert reasons["PA-NOSUCH"] == "no advisor 'PA-NOSUCH'"
    with app.session_factory() as session:
        rows = session.execute(
            select(TransitionRow.id, TransitionRow.code, TransitionRow.request_id).where(
                TransitionRow.to_state == "invited"
            )
        ).all()
        invitations = dict(
            session.execute(
                select(NotificationRow.recipient_code, NotificationRow.transition_id).where(
                    NotificationRow.template == "invitation"
                )
            ).all()
        )
        stages = session.scalar(select(func.count()).select_from(TransitionRow))
    assert len(rows) == 5 and stages == 10
    assert {code: tid for tid, code, _ in rows} == invitations  # each mail has its transition
    assert {rid for _, code, rid in rows if code != cohort[0]} == {
        f"run-9:{code}" for code in cohort[1:]
    }
    again = advisors.invite_advisors(app.uow(), cohort, Meta("flow:x"), app.clock)
    assert again.moved == [] and len(again.refused) == 5
