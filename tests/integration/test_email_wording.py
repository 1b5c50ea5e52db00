"""What people read in the e-mails: the sending organization in every header, dates, money
and stages in the reader's language, French typography, subjects free of internal codes,
links in the text part that still open once copied, and `ppflow templates check` failing
on what the e-mails and the digest would lack in a language."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ppflow.adapters.email.rendering import (
    JinjaRenderer,
    PersonalLinks,
    check_templates,
    make_environment,
)
from ppflow.services import links
from ppflow.services.notifications import NOTIFICATIONS, sample_people, template_context
from ppflow.services.ports import FixedClock, Person
from ppflow.services.wording import NBSP
from ppflow.settings import Settings
from tests.integration.catalogue_helpers import drop_translation, drop_translations

TEMPLATES = Settings().templates_dir
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
KEY = "a-signing-key-for-these-tests-Zq8Wm3Kp9Xv2"
PORTAL = "https://partenariat.example:8443/portail"
ADVISOR = Person("PA-2B8NQW", "advisor", "Jordan", "Okafor", "j@ex.org", "fr")
STAFF = Person("ST-4HWX2B", "staff", "Nadia", "Haddad", "n@ex.org", "fr")


def renderer(templates: Path = TEMPLATES, organization=None) -> PersonalLinks:
    inner = JinjaRenderer(make_environment(templates, organization))
    return PersonalLinks(inner, PORTAL, KEY, 30, FixedClock(NOW))


def audiences(name: str) -> list[Person]:
    audience = NOTIFICATIONS[name].audience
    return {"advisor": [ADVISOR], "staff": [STAFF], "any": [ADVISOR, STAFF]}[audience]


def render(name: str, language: str, recipient: Person, links_with=None, **context):
    """The e-mail as it is sent (``links_with`` gets the context with its signed links)."""
    r = links_with or renderer()
    values = {**NOTIFICATIONS[name].sample, **context}
    if name == "survey_request":
        values.setdefault("survey_token", "Zk3pQ8-survey_token")
    people = {**sample_people(), recipient.code: recipient}
    signed = r.with_links(template_context(values, recipient, language, people))
    return r.inner.render(name, language, signed), signed


EVERY_MAIL = [(n, lang, p) for n in NOTIFICATIONS for lang in ("fr", "en") for p in audiences(n)]


def mail_id(case) -> str:
    name, language, person = case
    return f"{name}-{language}-{person.kind}"


# ------------------------------------------------------------- links, as copied


@pytest.mark.parametrize("case", EVERY_MAIL, ids=mail_id)
def test_every_link_of_the_text_part_opens_as_a_person_copies_it(case):
    """A person selects a link as the run of characters between spaces (a double click,
    or a mail client's own link detection). Each must be exactly the signed link: alone
    on its line, no full stop or colon glued to it, and accepted by the link check."""
    name, language, person = case
    mail, signed = render(name, language, person)
    expected = {signed[k] for k in ("withdrawal_url", "survey_url") if k in signed}
    copied = [token for token in mail.text.split() if "://" in token]
    assert len(copied) >= len(expected)
    for token in copied:
        [line] = [line for line in mail.text.splitlines() if token in line.split()]
        assert line.strip() == token, f"the link shares its line: {line!r}"
        address = urlsplit(token)
        bare = token.split("?", 1)[0]
        assert bare in expected, f"{token!r} is none of the signed links {expected}"
        assert address.query in ("", "lang=fr", "lang=en")
        kind, segment = address.path.rsplit("/", 2)[-2:]
        opened = links.verify(KEY, kind, segment, NOW)  # raises LinkError if damaged
        assert opened.subject in (person.code, signed.get("survey_token"))
    hrefs = set(re.findall(r'href="([^"]+)"', mail.html))
    assert {h.replace("&amp;", "&").split("?", 1)[0] for h in hrefs} == expected


def test_the_survey_request_offers_the_questionnaire_in_the_other_language():
    for language, other, label in (("fr", "en", "Answer in English"), ("en", "fr", "Répondre")):
        mail, signed = render("survey_request", language, ADVISOR)
        assert f"{signed['survey_url']}?lang={other}" in mail.text.split()
        assert f'href="{signed["survey_url"]}?lang={other}"' in mail.html
        assert label in mail.text and f'lang="{other}"' in mail.html


# ------------------------------------------------------------- organization


def test_every_mail_names_the_sending_organization_at_its_head_in_both_parts():
    named = renderer(organization={"fr": "CHU de Québec", "en": "CHU de Québec"})
    for name, language, person in EVERY_MAIL:
        mail, _ = render(name, language, person, links_with=named)
        assert mail.text.splitlines()[0] == "CHU de Québec", (name, language)
        head = mail.html.split("Bonjour" if language == "fr" else "Hello", 1)[0]
        assert "CHU de Québec" in head, (name, language)


def test_the_organization_comes_from_the_settings_with_an_english_name_if_given(
    tmp_path, monkeypatch
):
    from ppflow.bootstrap import bootstrap

    monkeypatch.setenv("PPFLOW_ORGANIZATION_NAME", "Centre hospitalier de l'Université")
    monkeypatch.setenv("PPFLOW_ORGANIZATION_NAME_EN", "University Hospital Centre")
    app = bootstrap(Settings(data_dir=tmp_path))
    for language, expected in (
        ("fr", "Centre hospitalier de l'Université"),
        ("en", "University Hospital Centre"),
    ):
        mail = app.renderer().render(
            "invitation",
            language,
            template_context({"advisor": ADVISOR.code}, ADVISOR, language, {ADVISOR.code: ADVISOR}),
        )
        assert mail.text.startswith(expected + "\n") and expected in mail.html.replace("&#39;", "'")


def test_without_a_setting_the_partnership_office_heads_the_mail():
    for language, office in (
        ("fr", "Bureau du partenariat patient"),
        ("en", "Patient Partnership Office"),
    ):
        mail, _ = render("welcome", language, ADVISOR)
        assert mail.text.startswith(office + "\n")


# ------------------------------------------------------------- wording


def test_dates_money_and_shares_are_written_the_way_each_language_writes_them():
    fr, _ = render("survey_request", "fr", ADVISOR, due_date="2026-12-14")
    en, _ = render("survey_request", "en", ADVISOR, due_date="2026-12-14")
    assert "d'ici le 14 décembre 2026." in fr.text and "by December 14, 2026." in en.text
    budget_fr, _ = render("budget_alert", "fr", STAFF)
    budget_en, _ = render("budget_alert", "en", STAFF)
    assert "8\u00a0012,50\u00a0$" in budget_fr.text and "(80\u00a0%)" in budget_fr.text
    assert "$8,012.50" in budget_en.text and "(80%)" in budget_en.text
    for mail in (fr, en, budget_fr, budget_en):
        assert not re.search(r"\d{4}-\d{2}-\d{2}", mail.subject + mail.text + mail.html)


def test_the_withdrawal_notice_names_the_stage_as_people_read_it():
    for stage, fr_label, en_label in (("recruited", "recruté·e", "recruited"),
                                      ("preparing", "en préparation", "preparing")):  # fmt: skip
        fr, _ = render("advisor_withdrawn", "fr", STAFF, stage=stage)
        en, _ = render("advisor_withdrawn", "en", STAFF, stage=stage)
        assert f"étape au moment du retrait{NBSP}: {fr_label})" in fr.text
        assert f"stage when they withdrew: {en_label})" in en.text
        assert stage not in fr.text and stage not in fr.html


def test_french_guillemets_and_colons_hold_to_their_words():
    team = "Parcours oncologie"
    for name in ("survey_request", "engagement_thank_you", "introduction_advisor"):
        mail, _ = render(name, "fr", ADVISOR, team_name=team)
        for part in (mail.text, mail.html):
            assert f"«{NBSP}{team}{NBSP}»" in part, name
            assert "« " not in part and " »" not in part and " :" not in part, name
    english, _ = render("survey_request", "en", ADVISOR, team_name=team)
    assert NBSP not in english.text


def test_no_subject_carries_an_internal_code():
    code = re.compile(r"\b(PA|ST|EN|QT|SV)-[0-9A-Z]{4,}")
    for name, language, person in EVERY_MAIL:
        mail, _ = render(name, language, person, survey="EN-JYZQH4/1")
        assert not code.search(mail.subject), (name, language, mail.subject)


# ------------------------------------------------------------- templates check


@pytest.fixture
def copy(tmp_path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def problems(directory: Path) -> dict[tuple[str, str, str], tuple[str, ...]]:
    return {
        (c.notification, c.language, c.audience): c.problems
        for c in check_templates(directory)
        if not c.ok
    }


def test_the_check_refuses_a_subject_that_carries_an_internal_code(copy):
    (copy / "email" / "survey_request.subject.txt").write_text(
        '{{ _("Your feedback on the partnership") }} ({{ survey }})\n'
    )
    (copy / "email" / "referral_received.subject.txt").write_text(
        '{{ _("A new referral to process") }}: {{ advisor.code }}\n'
    )
    found = problems(copy)
    assert set(found) == {
        (name, lang, audience)
        for lang in ("fr", "en")
        for name, audience in (
            ("survey_request", "advisor"),
            ("survey_request", "staff"),
            ("referral_received", "staff"),
        )
    }
    assert found["survey_request", "fr", "advisor"] == (
        "the subject carries an internal code (SV-3QJ7TN); name it in the body",
    )
    assert "internal code (PA-7K3M9Q)" in found["referral_received", "en", "staff"][0]


def test_the_check_fails_on_a_digest_text_missing_in_one_language(copy):
    drop_translation(copy, "en", "digest.kinds.training")
    assert problems(copy)["(wording)", "-", "-"] == (
        "missing translation: en text for digest.kinds.training",
    )


def test_the_check_fails_on_a_digest_text_missing_in_every_language(copy):
    for language in ("fr", "en"):
        drop_translation(copy, language, "digest.decisions.integrate")
    assert problems(copy)["(wording)", "-", "-"] == (
        "missing translation: fr text for digest.decisions.integrate",
        "missing translation: en text for digest.decisions.integrate",
    )


def test_the_check_fails_on_a_missing_e_mail_catalogue_or_text(copy):
    drop_translations(copy, "fr", "email.")
    found = problems(copy)
    assert "missing translation: fr text for email.organization" in found["(wording)", "-", "-"]
    assert found["invitation", "fr", "advisor"] == (
        "missing translation: no fr text for 'email.organization'",
    )


def test_templates_check_command_fails_on_a_missing_digest_text(copy, tmp_path):
    import typer
    from typer.testing import CliRunner

    from ppflow.bootstrap import bootstrap
    from ppflow.cli.mail import templates_app

    drop_translation(copy, "fr", "digest.kinds.consent")
    settings = Settings(templates_dir=copy, data_dir=tmp_path)
    cli = typer.Typer(context_settings={"obj": bootstrap(settings)})
    cli.add_typer(templates_app, name="templates")
    result = CliRunner().invoke(cli, ["templates", "check"])
    assert result.exit_code == 1
    assert "missing translation: fr text for digest.kinds.consent" in result.output


def test_the_check_fails_on_a_notification_name_missing_in_every_language(copy):
    for language in ("fr", "en"):
        drop_translation(copy, language, "email.notifications.budget_alert")
    assert problems(copy)["(wording)", "-", "-"] == (
        "missing translation: fr text for email.notifications.budget_alert",
        "missing translation: en text for email.notifications.budget_alert",
    )


def test_the_delivery_notice_names_the_mail_and_its_outcome_in_the_readers_language():
    fr, _ = render("delivery_failed", "fr", STAFF, status="dead")
    en, _ = render("delivery_failed", "en", STAFF, status="dead")
    assert f"«{NBSP}invitation à devenir patient partenaire{NBSP}»" in fr.text
    assert f"(statut{NBSP}: abandonné après plusieurs essais)" in fr.text
    assert '"invitation to become a patient advisor"' in en.text
    assert "(status: given up after several attempts)" in en.text
    # the server's reply is quoted as it came, without French typography
    assert "<code>550 5.1.1 (address): mailbox unavailable</code>" in fr.html


def test_the_links_copied_from_a_sent_survey_request_open_on_the_portal(mail_app, smtp_server):
    """End to end: the survey request as the SMTP server received it; each link copied from
    its text part opens its page on the portal, the other-language one in that language."""
    from tests.integration.portal_helpers import client_for, open_engagement
    from tests.integration.test_notifications import by_template, dispatch

    opened = open_engagement(mail_app, language="fr")
    dispatch(mail_app)
    [mail] = [
        m
        for m in by_template(smtp_server.messages(), "survey_request")
        if m.header("X-Ppflow-Recipient") == opened.advisor
    ]
    copied = [token for token in mail.text.split() if "://" in token]
    assert len(copied) == 3  # the questionnaire, in English, and the withdrawal link
    client = client_for(mail_app)
    languages = []
    for url in copied:
        address = urlsplit(url)
        page = client.get(address.path + (f"?{address.query}" if address.query else ""))
        assert page.status_code == 200, (url, page.status_code)
        languages.append(re.search(r'<html lang="(\w+)"', page.text).group(1))
    assert languages == ["fr", "en", "fr"]
