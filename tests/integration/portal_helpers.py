"""Shared set-up for the portal tests: an active engagement with its questionnaires open."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ppflow.adapters.orm import NotificationRow, SurveyRequestRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors, feedback, integration, links
from tests import factories


@dataclass
class Opened:
    engagement: str
    advisor: str
    lead: str


def open_engagement(app, language: str = "fr") -> Opened:
    factories.modules(app, "PP-101")
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    code = factories.referral(app, factories.staff(app), language=language)
    meta = Meta(actor="test")
    advisors.invite_advisor(app.uow(), code, meta, app.clock)
    advisors.record_invitation_answer(app.uow(), code, True, meta, app.clock)
    advisors.apply_screening_outcome(app.uow(), code, "retained", meta, clock=app.clock)
    advisors.enrol_required_modules(app.uow(), code, meta, app.clock)
    advisors.complete_module(app.uow(), code, "PP-101", meta, app.clock)
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    engagement_code = integration.confirm_match(
        app.uow(), team, code, Meta("t"), clock=app.clock
    ).engagement
    feedback.open_feedback(
        app.uow(), engagement_code, Meta("t"), clock=app.clock, portal_url=app.settings.portal_url
    )
    return Opened(engagement_code, code, lead)


def token_of(app, respondent: str) -> str:
    with app.engine.connect() as connection:
        return connection.scalar(
            select(SurveyRequestRow.token).where(SurveyRequestRow.respondent_code == respondent)
        )


def mailed_link(app, respondent: str) -> str:
    """The survey link an e-mail to this respondent carries, signed now as the renderer
    signs it (the outbox keeps the token only; path only)."""
    with app.session_factory() as session:
        context = session.scalar(
            select(NotificationRow.context).where(
                NotificationRow.template == "survey_request",
                NotificationRow.recipient_code == respondent,
            )
        )
    url = links.survey_link(app.settings, context["survey_token"], app.clock.now())
    return url[url.index("/s/") :]


def response_row(app, respondent: str):
    with app.engine.connect() as connection:
        table = SurveyRequestRow.__table__
        return connection.execute(select(table).where(table.c.respondent_code == respondent)).one()


def client_for(app):
    from starlette.testclient import TestClient

    return TestClient(app.portal())


def page_text(html: str) -> str:
    """What a person reads on a page: tags dropped, entities decoded, spaces as spaces
    (French typography's non-breaking ones too)."""
    import html as entities
    import re

    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = entities.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def error_box(html: str) -> str:
    """The text of the page's error message ('' when it has none)."""
    import re

    found = re.search(r'<div class="error" role="alert".*?</div>', html, flags=re.S)
    return page_text(found.group(0)) if found else ""


def checked(html: str) -> dict[str, str]:
    """The radio answers the page shows as chosen, by item id."""
    import re

    return dict(re.findall(r'<input type="radio" name="(\w+)" value="(\w+)" checked>', html))
