"""The keys that sign personal links: outside development every path that makes or checks
a link accepts only keys made by `ppflow keygen`; keys rotate without breaking the links
already sent; the outbox holds a survey's token, never its link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ppflow.adapters.orm import NotificationRow, SurveyRequestRow
from ppflow.cli import app as ppflow_cli
from ppflow.domain.commands import Meta
from ppflow.services import advisors, feedback, links
from ppflow.services.links import SigningKeyError
from ppflow.settings import DEVELOPMENT_SIGNING_KEY, PortalSettings, Settings, get_settings
from tests import factories
from tests.conftest import make_app
from tests.integration.portal_helpers import open_engagement

OLD_KEY = "ppflow_5vlph2qrg35yr3hhrnp5tn3qpqalh26kqy2l2pz7e4o7nc4soj7kj45s3e"
NEW_KEY = "ppflow_uovjsigtteqewvrpkpn32pke2aculzsdlwx66dxklt7pjklzoh34mvogue"
SURVEY_LINK = re.compile(r"https?://\S+/s/[A-Za-z0-9_.-]+")

runner = CliRunner()


def invoke(app, *args):
    return runner.invoke(ppflow_cli, list(args), obj=app)


def configure(app, environment: str = "production", **portal):
    app.settings = app.settings.model_copy(
        update={"environment": environment, "portal": PortalSettings(**portal)}
    )
    return app


def notifications(app, template: str) -> list[NotificationRow]:
    with app.session_factory() as session:
        return list(
            session.scalars(
                select(NotificationRow)
                .where(NotificationRow.template == template)
                .order_by(NotificationRow.id)
            )
        )


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def global_settings(monkeypatch):
    """The settings read once (get_settings), from a given environment."""

    def use(**environment: str) -> Settings:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    yield use
    get_settings.cache_clear()


# ------------------------------------------------------ production refuses the dev key


def test_production_refuses_the_development_key_when_mail_is_dispatched(mail_app, smtp_server):
    code = factories.referral(mail_app, factories.staff(mail_app))
    advisors.invite_advisor(mail_app.uow(), code, Meta("t"), mail_app.clock)
    configure(mail_app, "production")

    result = invoke(mail_app, "mail", "dispatch")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert "PPFLOW_ENVIRONMENT=production" in line
    assert "the signing key is the development default" in line
    assert smtp_server.count() == 0
    assert {row.status for row in notifications(mail_app, "invitation")} == {"pending"}
    with pytest.raises(SigningKeyError, match="development default"):
        mail_app.renderer()


def test_production_refuses_a_hand_made_key_when_mail_is_rendered(sqlite_app):
    configure(sqlite_app, "production", signing_key="a" * 40)
    with pytest.raises(SigningKeyError, match="was not made by `ppflow keygen`"):
        sqlite_app.renderer()


def test_production_refuses_the_development_key_on_the_portal(sqlite_app):
    configure(sqlite_app, "production")
    with pytest.raises(SigningKeyError, match="development default"):
        sqlite_app.portal()
    configure(sqlite_app, "production", signing_key=NEW_KEY, previous_signing_keys=["x" * 40])
    with pytest.raises(SigningKeyError, match="previous signing key 1 was not made by"):
        sqlite_app.portal()


def test_a_worker_outside_development_runs_no_flow_with_the_development_key(
    global_settings, tmp_path
):
    """The flows' application refuses unusable keys before any flow runs, so that no
    survey is opened and no e-mail queued whose link could not be signed."""
    from ppflow_flows import runtime

    database = f"sqlite:///{tmp_path}/worker.db"
    try:
        global_settings(PPFLOW_ENVIRONMENT="production", PPFLOW_DATABASE_URL=database)
        runtime.application.cache_clear()
        with pytest.raises(SigningKeyError, match="development default"):
            runtime.application()

        global_settings(PPFLOW_PORTAL__SIGNING_KEY=NEW_KEY)
        runtime.application.cache_clear()
        app = runtime.application()
        assert app.signing_keys().current == NEW_KEY
        app.dispose()
    finally:
        runtime.application.cache_clear()


@pytest.mark.postgres
def test_the_development_key_is_refused_on_postgresql_whatever_the_environment(
    tmp_path, clock, smtp_server
):
    """A worker that never got the organization's configuration runs in "development" with
    the development key; on the organization's PostgreSQL it must sign nothing."""
    app, cleanup = make_app("postgres", tmp_path, clock)
    try:
        app.settings = app.settings.model_copy(update={"smtp": smtp_server.settings()})
        code = factories.referral(app, factories.staff(app))
        advisors.invite_advisor(app.uow(), code, Meta("t"), app.clock)
        configure(app, "development", signing_key=DEVELOPMENT_SIGNING_KEY)

        result = invoke(app, "mail", "dispatch")
        assert result.exit_code == 1 and "Traceback" not in result.output
        [line] = result.output.strip().splitlines()
        assert "development signing key is refused with a postgresql database" in line
        assert smtp_server.count() == 0
        assert {row.status for row in notifications(app, "invitation")} == {"pending"}
        for opening in (app.portal, app.renderer):
            with pytest.raises(SigningKeyError, match="whatever PPFLOW_ENVIRONMENT says"):
                opening()
        checked = invoke(app, "check")
        assert checked.exit_code == 1 and "development signing key is refused" in " ".join(
            checked.output.split()
        )
        # a key of its own as a previous key, or the development key kept as a previous one
        configure(app, "development", signing_key=NEW_KEY, previous_signing_keys=[OLD_KEY])
        assert app.signing_keys().current == NEW_KEY
        assert invoke(app, "mail", "dispatch").exit_code == 0
        assert {row.status for row in notifications(app, "invitation")} == {"sent"}
        configure(
            app, "development", signing_key=NEW_KEY, previous_signing_keys=[DEVELOPMENT_SIGNING_KEY]
        )
        with pytest.raises(SigningKeyError, match="development signing key is refused"):
            app.portal()
    finally:
        app.dispose()
        cleanup()


def test_development_still_signs_with_the_development_key(sqlite_app):
    configure(sqlite_app, "development")
    assert sqlite_app.signing_keys().current == DEVELOPMENT_SIGNING_KEY
    assert sqlite_app.renderer() is not None and sqlite_app.portal() is not None


# ------------------------------------------------------------ keys nobody can guess


def _with_checksum(secret: bytes) -> str:
    """A key in keygen's form around chosen bytes: what someone who read the format could
    forge by hand."""
    import base64
    import hashlib

    checksum = hashlib.sha256(b"ppflow-signing-key|" + secret).digest()[:4]
    return "ppflow_" + base64.b32encode(secret + checksum).decode().rstrip("=").lower()


def _one_changed(key: str, at: int) -> str:
    return key[:at] + ("a" if key[at] != "a" else "b") + key[at + 1 :]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        # hand-made keys that passed the length and entropy rules of earlier versions
        ("abcdefghijklmnopqrstuvwxyzABCDEF0123", "was not made by `ppflow keygen`"),
        ("0123456789abcdefABCDEF0123456789", "was not made by `ppflow keygen`"),
        ("qwertyuiopasdfghjklzxcvbnmQWERTY1", "was not made by `ppflow keygen`"),
        ("development-only-signing-key-Prod2026!", "was not made by `ppflow keygen`"),
        ("glfJq7uQOElYxC7q7f8rtLFW_rbpA0VhatI5ERABZJo", "was not made by `ppflow keygen`"),
        (NEW_KEY[:-3], "is not a whole `ppflow keygen` key"),
        (NEW_KEY + "a", "is not a whole `ppflow keygen` key"),
        (_one_changed(NEW_KEY, 20), "fails its checksum"),
        ("ppflow_", "was not made by `ppflow keygen`"),
        (_with_checksum(bytes(32)), "was not made from random bytes"),
        (_with_checksum(b"Secret12" * 4), "was not made from random bytes"),
        (DEVELOPMENT_SIGNING_KEY, "the signing key is the development default"),
    ],
)
def test_check_refuses_in_production_any_key_not_made_by_keygen(sqlite_app, key, reason):
    result = invoke(configure(sqlite_app, "production", signing_key=key), "check")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "refused" in result.output and "ppflow keygen" in result.output
    assert reason in " ".join(result.output.split())
    assert "the portal may start" not in result.output


def test_check_refuses_a_previous_key_not_made_by_keygen_and_names_it(sqlite_app):
    app = configure(
        sqlite_app, "production", signing_key=NEW_KEY, previous_signing_keys=[OLD_KEY, "b" * 40]
    )
    result = invoke(app, "check")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "and 2 previous key(s)" in output
    assert "previous signing key 2 was not made by `ppflow keygen`" in output
    assert "previous signing key 1" not in output


def test_check_accepts_keys_made_by_keygen(sqlite_app):
    app = configure(sqlite_app, "production", signing_key=NEW_KEY, previous_signing_keys=[OLD_KEY])
    result = invoke(app, "check")
    assert result.exit_code == 0, result.output
    assert "and 1 previous key(s)" in result.output
    assert "the portal may start" in result.output


def test_keygen_prints_a_new_key_each_time_and_production_takes_it(sqlite_app):
    made = [invoke(sqlite_app, "keygen") for _ in range(10)]
    assert all(result.exit_code == 0 for result in made)
    keys = [result.output.strip() for result in made] + [links.make_key() for _ in range(500)]
    assert len(set(keys)) == 510
    assert all(re.fullmatch(r"ppflow_[a-z2-7]{58}", key) for key in keys)
    assert all(links.key_problems(key) == [] for key in keys)
    app = configure(sqlite_app, "production", signing_key=keys[0])
    assert invoke(app, "check").exit_code == 0


# ------------------------------------------------------------------------ rotation


def test_previous_keys_come_from_the_environment_as_a_list(global_settings):
    settings = global_settings(PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS=f"{OLD_KEY}, {NEW_KEY}")
    assert settings.portal.previous_signing_keys == [OLD_KEY, NEW_KEY]
    settings = global_settings(PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS=f'["{OLD_KEY}"]')
    assert settings.portal.previous_signing_keys == [OLD_KEY]


def test_after_rotation_links_already_sent_open_and_new_links_use_the_new_key(
    mail_app, smtp_server
):
    configure(mail_app, "production", signing_key=OLD_KEY)
    opened = open_engagement(mail_app)
    mail_app.dispatch_pending()
    sent_before = advisor_survey_link(smtp_server, opened.advisor)
    withdrawal_before = links.withdrawal_link(
        mail_app.settings, opened.advisor, mail_app.clock.now()
    )

    configure(mail_app, "production", signing_key=NEW_KEY, previous_signing_keys=[OLD_KEY])
    mail_app.clock.moment += timedelta(days=10)
    feedback.remind_feedback(mail_app.uow(), opened.engagement, timedelta(days=7), mail_app.clock)
    mail_app.dispatch_pending()
    sent_after = advisor_survey_link(smtp_server, opened.advisor, last=True)

    now = mail_app.clock.now()
    segment = sent_after.rsplit("/", 1)[1]
    assert links.verify(NEW_KEY, links.SURVEY, segment, now).subject
    with pytest.raises(links.LinkError, match="forged"):
        links.verify(OLD_KEY, links.SURVEY, segment, now)

    portal = TestClient(mail_app.portal())
    assert portal.get(path_of(sent_before)).status_code == 200
    assert portal.get(path_of(withdrawal_before)).status_code == 200
    assert portal.get(path_of(sent_after)).status_code == 200

    mail_app.clock.moment += timedelta(days=21)  # 31 days after the first mail
    assert portal.get(path_of(sent_before)).status_code == 410  # expired all the same
    assert portal.get(path_of(sent_after)).status_code == 200

    configure(mail_app, "production", signing_key=NEW_KEY)  # the old key dropped
    mail_app.clock.moment -= timedelta(days=21)
    dropped = TestClient(mail_app.portal())
    assert dropped.get(path_of(sent_before)).status_code == 403
    assert dropped.get(path_of(sent_after)).status_code == 200


def advisor_survey_link(smtp_server, advisor: str, last: bool = False) -> str:
    mails = [
        m
        for m in smtp_server.messages()
        if m.header("X-Ppflow-Template") == "survey_request"
        and m.header("X-Ppflow-Recipient") == advisor
    ]
    mail = mails[-1] if last else mails[0]
    [link] = set(SURVEY_LINK.findall(mail.text))
    assert link in mail.html
    return link


# -------------------------------------------------------- the outbox holds no link


def test_the_outbox_holds_the_survey_token_and_the_mail_a_working_link(mail_app, smtp_server):
    opened = open_engagement(mail_app)
    with mail_app.engine.connect() as connection:
        query = select(SurveyRequestRow.respondent_code, SurveyRequestRow.token)
        tokens = {code: token for code, token in connection.execute(query)}
    rows = notifications(mail_app, "survey_request")
    assert {row.recipient_code for row in rows} == {opened.advisor, opened.lead}
    for row in rows:
        assert row.context["survey_token"] == tokens[row.recipient_code]
        assert "http" not in repr(row.context) and "/s/" not in repr(row.context)

    shown = invoke(mail_app, "outbox", "show", str(rows[0].id))
    assert shown.exit_code == 0, shown.output
    assert "survey_token=" in shown.output
    assert "http" not in shown.output and "/s/" not in shown.output

    mail_app.dispatch_pending()
    link = advisor_survey_link(smtp_server, opened.advisor)
    assert link.startswith(mail_app.settings.portal_url + "/s/" + tokens[opened.advisor] + ".")
    page = TestClient(mail_app.portal()).get(path_of(link))
    assert page.status_code == 200
    assert "Envoyer mes réponses" in page.text
