"""The coordinators' digest as a French-speaking coordinator receives it, from the real
sweep on a real database and through the real SMTP server: every case worded in French
(stages as people read them, "depuis 12 jours" or "échéant le ..., dans 20 jours", the
right one for each kind), no English word and no ISO date left; and the same cases read
in English."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ppflow.adapters.orm import NotificationRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors, feedback, integration
from ppflow.services.notifications import template_context
from ppflow.services.ports import Case
from ppflow.services.sweeps import send_reminders
from ppflow.services.wording import Wording
from tests import factories
from tests.integration.test_notifications import by_template, dispatch

META = Meta("test")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# English a French digest must not hold (the sweep's old wording, and the flows' stages).
ENGLISH = (
    "waiting", "decision for", "expires", "expiring", "days", "day", "for", "since",
    "unanswered", "overdue", "training", "consent", "no answer", "not invited",
    "recruit", "prepare", "integrate", "stalled", "stage",
    "identified", "invited", "preparing", "recruited", "screening", "ready",
)  # fmt: skip


def stage_words(templates: Path) -> dict[str, set[str]]:
    """The English label of every stage whose French label differs, by language."""
    wording = Wording.from_directory(templates)
    english = set()
    for key, label in wording.texts["en"].items():
        if key.startswith("stages.") and wording.texts["fr"][key] != label:
            english |= {label, key.rsplit(".", 1)[-1]}
    return {"en": english}


def visible(markup: str) -> str:
    """The text a reader sees in an HTML part."""
    body = markup.split("<body", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def stalled_office(app) -> list[Case]:
    """A pool with a case of every kind, as it is after two years: referrals never
    invited, an invitation unanswered, an advisor preparing with a module not done and
    consents about to expire, a questionnaire unanswered, and decisions waited on."""
    provider = factories.staff(app)
    factories.modules(app, "PP-101")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    placed = factories.ready_advisor(app, provider)
    integration.brief_team(app.uow(), team, META, app.clock)
    engagement = integration.confirm_match(app.uow(), team, placed, META, clock=app.clock)
    feedback.open_feedback(app.uow(), engagement.engagement, META, 1, clock=app.clock)
    preparing = factories.referral(app, provider)
    advisors.invite_advisor(app.uow(), preparing, META, app.clock)
    advisors.record_invitation_answer(app.uow(), preparing, True, META, app.clock)
    advisors.apply_screening_outcome(app.uow(), preparing, "retained", META, clock=app.clock)
    advisors.enrol_required_modules(app.uow(), preparing, META, app.clock)
    app.clock.moment += timedelta(days=690)
    invited = factories.referral(app, provider)  # invited 20 days before the sweep
    advisors.invite_advisor(app.uow(), invited, META, app.clock)
    app.clock.moment += timedelta(days=10)
    factories.referral(app, provider)  # identified 10 days before the sweep
    app.clock.moment += timedelta(days=10)  # consents (730 days) expire in 20 days
    return [
        Case(invited, "decision", 14, "recruit"),
        Case(preparing, "decision", 1, "prepare"),
        Case(team, "decision", 30, "integrate"),
    ]


def test_the_french_digest_reads_in_french_only(mail_app, smtp_server):
    app = mail_app
    factories.staff(app, role="coordinator")
    decisions = stalled_office(app)
    report = send_reminders(app.uow(), app.sweeps(), waiting_decisions=decisions, clock=app.clock)
    assert {kind: bool(n) for kind, n in report.cases.items()} == dict.fromkeys(
        ("identified", "invited", "preparing", "survey", "consent", "training", "decision"), True
    ), report.cases
    dispatch(app)
    [digest] = by_template(smtp_server.messages(), "reminder_digest")
    text = digest.text
    read = " ".join((digest.header("Subject"), text, visible(digest.html)))

    assert "Dossiers en attente au 10 février 2028" in digest.header("Subject")
    for word in ENGLISH + tuple(stage_words(app.settings.templates_dir)["en"]):
        found = re.search(rf"(?<![\w·-]){re.escape(word)}(?![\w·-])", read, re.I)
        assert found is None, f"English in the French digest: {word!r} in {read!r}"
    assert ISO_DATE.search(read) is None
    for line in (
        "repéré·e, pas encore invité·e, depuis 10 jours",
        "invité·e, sans réponse depuis 20 jours",
        "en préparation depuis 710 jours",
        "sans réponse depuis 710 jours",
        "consentement (participation) échéant le 1er mars 2028, dans 20 jours",
        "consentement (confidentialité) échéant le 1er mars 2028, dans 20 jours",
        "formation PP-101 non terminée, inscription il y a 710 jours",
        "recrutement\u00a0: décision attendue depuis 14 jours",
        "intégration\u00a0: décision attendue depuis 30 jours",
    ):
        assert line in text and line in visible(digest.html), line
    # the prepare decision (1 day) is under its 14-day service level: not listed
    assert "préparation\u00a0: décision" not in text


def test_the_same_cases_read_in_english(mail_app):
    app = mail_app
    coordinator = factories.staff(app, role="coordinator")
    decisions = stalled_office(app)
    send_reminders(app.uow(), app.sweeps(), waiting_decisions=decisions, clock=app.clock)
    with app.session_factory() as session:
        context = session.scalars(
            select(NotificationRow.context).where(NotificationRow.template == "reminder_digest")
        ).one()
    people = app.mail_ports().directory.people([], [coordinator])
    recipient = people[coordinator]
    mail = app.renderer().render(
        "reminder_digest", "en", template_context(context, recipient, "en", people)
    )
    assert mail.subject.startswith("Stalled cases as of February 10, 2028")
    for line in (
        "identified, not invited yet, for 10 days",
        "invited, no answer for 20 days",
        "preparing for 710 days",
        "participation consent expiring on March 1, 2028, in 20 days",
        "training PP-101 not complete, enrolled 710 days ago",
        "recruitment: waiting for a decision for 14 days",
        "integration: waiting for a decision for 30 days",
    ):
        assert line in mail.text, line
    assert ISO_DATE.search(mail.subject + mail.text) is None
