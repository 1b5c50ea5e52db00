"""The scheduled sweeps on a real database: reminders, due questionnaires, retention and
indicators."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ppflow.adapters.orm import ContactRow, NotificationRow, TransitionRow
from ppflow.domain.commands import Meta
from ppflow.domain.surveys import FINAL_ROUND, due_round
from ppflow.services import advisors, feedback, integration, queries
from ppflow.services.indicators import compute_indicators
from ppflow.services.retention import apply_retention
from ppflow.services.sweeps import open_due_surveys, send_reminders
from tests import factories

META = Meta("test")


def digests(app) -> list[NotificationRow]:
    with app.session_factory() as session:
        return list(
            session.scalars(
                select(NotificationRow).where(NotificationRow.template == "reminder_digest")
            )
        )


def test_the_digest_lists_each_kind_of_stalled_case_once_a_day(any_app):
    app = any_app
    coordinator = factories.staff(app, role="coordinator")
    factories.staff(app, role="coordinator")
    provider = factories.staff(app)
    factories.modules(app, "PP-101")
    stalled = factories.referral(app, provider)
    app.clock.moment += timedelta(days=8)
    fresh = factories.referral(app, provider)
    invited = factories.referral(app, provider)
    advisors.invite_advisor(app.uow(), invited, META, app.clock)
    app.clock.moment += timedelta(days=15)
    report = send_reminders(app.uow(), app.sweeps(), clock=app.clock)
    assert report.cases["identified"] == 2  # the stalled one and the one 15 days old
    assert report.cases["invited"] == 1
    assert report.digests == 2  # one per coordinator
    [digest] = [d for d in digests(app) if d.recipient_code == coordinator]
    listed = {item["advisor"]: item for item in digest.context["items"]}
    assert listed[stalled]["days"] == 23 and listed[invited]["kind"] == "invited"
    assert fresh in listed and digest.context["total"] == report.total
    again = send_reminders(app.uow(), app.sweeps(), clock=app.clock)
    assert again.digests == 0 and len(digests(app)) == 2


def test_overdue_training_and_expiring_consent_are_reminded(any_app):
    app = any_app
    factories.staff(app, role="coordinator")
    factories.modules(app, "PP-101")
    code = factories.referral(app, factories.staff(app))
    advisors.invite_advisor(app.uow(), code, META, app.clock)
    advisors.apply_screening_outcome(app.uow(), code, "retained", META, clock=app.clock)
    advisors.enrol_required_modules(app.uow(), code, META, app.clock)
    app.clock.moment += timedelta(days=710)  # consents last 730 days
    report = send_reminders(app.uow(), app.sweeps(), clock=app.clock)
    assert report.cases["training"] == 1
    assert report.cases["consent"] == 2  # participation and confidentiality
    items = digests(app)[0].context["items"]
    assert {"advisor": code, "kind": "training", "days": 710, "detail": "PP-101"} in items
    expires = (app.clock.now() + timedelta(days=20)).date().isoformat()
    consent = {"advisor": code, "kind": "consent", "days": 20, "detail": "participation"}
    assert {**consent, "on": expires} in items


def test_questionnaires_open_three_months_in_then_every_six_and_at_the_end(any_app):
    app = any_app
    factories.modules(app, "PP-101")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    code = factories.ready_advisor(app, factories.staff(app))
    integration.brief_team(app.uow(), team, META, app.clock)
    engagement = integration.confirm_match(app.uow(), team, code, META, clock=app.clock).engagement
    assert [due_round(m) for m in (0, 2, 3, 8, 9, 15)] == [0, 0, 1, 1, 2, 3]

    def run() -> int:
        return open_due_surveys(app.uow, app.sweeps(), app.clock)

    assert run() == 0
    app.clock.moment += timedelta(days=95)
    assert run() == 1 and run() == 0
    app.clock.moment += timedelta(days=185)
    assert run() == 1
    integration.end_engagement(app.uow(), engagement, META, clock=app.clock)
    assert run() == 1 and run() == 0
    with app.uow() as uow:
        rounds = sorted({r.round for r in uow.surveys.for_engagement(engagement)})
    assert rounds == [1, 2, FINAL_ROUND]
    status = feedback.feedback_status(app.uow(), engagement)
    assert status.opened == 6  # advisor and team lead, three rounds


def test_retention_erases_personal_data_but_keeps_the_history(any_app):
    app = any_app
    provider = factories.staff(app)
    old = factories.referral(app, provider, last_name="Oldwithdrawn")
    recent = factories.referral(app, provider, last_name="Recentwithdrawn")
    advisors.invite_advisor(app.uow(), old, META, app.clock)
    advisors.withdraw_advisor(app.uow(), old, META, app.clock)
    app.clock.moment += timedelta(days=40)
    advisors.withdraw_advisor(app.uow(), recent, META, app.clock)
    with app.session_factory.begin() as session:  # mail that never went out
        session.execute(
            NotificationRow.__table__.update()
            .where(NotificationRow.recipient_code == old)
            .values(status="pending")
        )
    report = apply_retention(app.uow(), app.settings.retention_days, app.clock)
    assert report.erased["withdrawn"] == 1 and report.cancelled >= 1
    with app.session_factory() as session:
        names = set(session.scalars(select(ContactRow.last_name)))
        pending = session.scalars(
            select(NotificationRow.status).where(NotificationRow.recipient_code == old)
        ).all()
        log = session.scalars(select(TransitionRow.to_state).where(TransitionRow.code == old)).all()
    assert "Oldwithdrawn" not in names and "Recentwithdrawn" in names
    assert set(pending) == {"dead"}
    assert log == ["identified", "invited", "withdrawn"]
    assert queries.get_advisor(app.uow(), old).advisor.stage == "withdrawn"
    again = apply_retention(app.uow(), app.settings.retention_days, app.clock)
    assert again.total == 0


def test_indicators_count_the_funnel_and_compare_with_targets(any_app):
    from ppflow.domain.commands import AddProgram, TargetSpec
    from ppflow.services import organization

    app = any_app
    start = app.clock.now()
    factories.modules(app, "PP-101")
    organization.add_program(
        app.uow(),
        AddProgram(
            "PP-X", "Program", "Quality", (), (TargetSpec("teams_with_two_advisors", 3, "2026"),)
        ),
        app.clock,
    )
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    integration.brief_team(app.uow(), team, META, app.clock)
    provider = factories.staff(app)
    joined = [factories.ready_advisor(app, provider) for _ in range(2)]
    app.clock.moment += timedelta(days=10)
    for code in joined:
        integration.confirm_match(app.uow(), team, code, META, clock=app.clock)
    factories.referral(app, provider)
    result = compute_indicators(app.indicators(), start, app.clock.now() + timedelta(days=1))
    assert result.funnel == {"active": 2, "identified": 1}
    assert result.values["new_referrals"] == 3
    assert result.values["advisors_integrated"] == 2
    assert result.values["teams_with_two_advisors"] == 1
    assert result.values["days_to_integration_median"] == 10.0
    assert result.targets == {"teams_with_two_advisors": 3.0}
