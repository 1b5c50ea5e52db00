"""The e-mail templates: `ppflow templates check` on the real templates, what the check
catches on broken copies, escaping, the withdrawal footer, and the retry schedule."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import ppflow
from ppflow import resources
from ppflow.adapters.email.rendering import JinjaRenderer, check_templates, make_environment
from ppflow.bootstrap import bootstrap
from ppflow.cli.mail import templates_app
from ppflow.services.dispatcher import message_id_for, retry_delay
from ppflow.services.notifications import (
    NOTIFICATIONS,
    DispatchPolicy,
    sample_people,
    template_context,
)
from ppflow.services.ports import OutboxEntry, Person
from ppflow.settings import Settings
from tests.integration.catalogue_helpers import drop_translation

TEMPLATES = Settings().templates_dir
ROOT = Path(__file__).resolve().parents[2]


def test_the_templates_and_deployments_are_read_where_the_code_is_and_nothing_is_missing():
    """From a checkout (the editable install), the top-level templates/ and deployments/;
    from a wheel, their copies in ppflow.templates and ppflow_flows.deployments."""
    here = Path(ppflow.__file__).resolve().parent
    if here == ROOT / "ppflow":
        templates, deployments = ROOT / "templates", ROOT / "deployments"
    else:
        templates, deployments = here / "templates", here.parent / "ppflow_flows" / "deployments"
    assert resources.templates_dir() == TEMPLATES == templates
    assert (TEMPLATES / "email" / "layout.html").is_file()
    assert resources.prefect_file() == deployments / "prefect.yaml"
    assert resources.proxy_file() == deployments / "nginx-portal.conf"
    assert resources.problems() == []


def test_problems_names_a_templates_directory_that_is_missing_or_incomplete(tmp_path, monkeypatch):
    assert resources.problems(tmp_path / "nowhere") == [
        f"templates: no directory at {tmp_path / 'nowhere'}"
    ]
    (tmp_path / "email").mkdir()
    assert resources.problems(tmp_path) == [
        f"templates: no portal/ in {tmp_path}",
        f"templates: no report/ in {tmp_path}",
    ]
    monkeypatch.setattr(resources, "prefect_file", lambda: tmp_path / "prefect.yaml")
    assert resources.problems() == [f"deployments: nothing usable at {tmp_path / 'prefect.yaml'}"]


def test_templates_dir_may_point_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("PPFLOW_TEMPLATES_DIR", str(tmp_path))
    assert Settings().templates_dir == tmp_path


def problems(directory: Path) -> dict[tuple[str, str, str], tuple[str, ...]]:
    return {
        (c.notification, c.language, c.audience): c.problems
        for c in check_templates(directory)
        if not c.ok
    }


@pytest.fixture
def copy(tmp_path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


def render(name: str, language: str, recipient: Person, **context):
    renderer = JinjaRenderer(make_environment(TEMPLATES))
    values = {**NOTIFICATIONS[name].sample, **context}
    people = {**sample_people(), recipient.code: recipient}
    return renderer.render(name, language, template_context(values, recipient, language, people))


def test_every_notification_renders_in_french_and_english():
    results = check_templates(TEMPLATES)
    assert [r for r in results if not r.ok] == []
    covered = {(r.notification, r.language) for r in results}
    assert covered == {(n, lang) for n in NOTIFICATIONS for lang in ("fr", "en")}


def test_the_check_reports_a_missing_template(copy):
    (copy / "email" / "welcome.html").unlink()
    assert problems(copy) == {
        ("welcome", lang, "advisor"): ("missing template: email/welcome.html",)
        for lang in ("fr", "en")
    }


def test_the_check_reports_a_missing_variable(copy):
    path = copy / "email" / "invitation.txt"
    path.write_text(path.read_text() + "{{ meeting_date }}\n")
    found = problems(copy)
    assert sorted(found) == [("invitation", "en", "advisor"), ("invitation", "fr", "advisor")]
    assert "missing variable" in found["invitation", "fr", "advisor"][0]
    assert "meeting_date" in found["invitation", "fr", "advisor"][0]


def test_the_check_refuses_a_subject_that_names_a_person(copy):
    path = copy / "email" / "welcome.subject.txt"
    path.write_text(path.read_text().strip() + " {{ recipient.first_name }}\n")
    assert problems(copy) == {
        ("welcome", lang, "advisor"): (
            "the subject names a person (subjects show in logs and lists)",
        )
        for lang in ("fr", "en")
    }


def test_the_check_requires_the_withdrawal_footer_in_advisor_mail(copy):
    path = copy / "email" / "invitation.txt"
    path.write_text(path.read_text().replace('{% include "email/_footer.txt" %}', ""))
    assert problems(copy) == {
        ("invitation", lang, "advisor"): ("the txt part lacks the withdrawal footer",)
        for lang in ("fr", "en")
    }


def test_the_check_reports_template_files_of_no_notification(copy):
    (copy / "email" / "invitaton.txt").write_text("{{ recipient.code }}\n")
    assert problems(copy) == {
        ("(unknown files)", "-", "-"): ("email/invitaton.txt belongs to no notification",)
    }


def test_names_are_escaped_in_html_and_left_alone_in_text():
    recipient = Person("PA-2B8NQW", "advisor", '<b>Zoé</b> & "Co"', "", "z@ex.org", "fr")
    mail = render("invitation", "fr", recipient)
    assert "Bonjour &lt;b&gt;Zoé&lt;/b&gt; &amp; &#34;Co&#34;," in mail.html
    assert 'Bonjour <b>Zoé</b> & "Co",' in mail.text
    assert mail.subject == "Invitation à devenir patient partenaire"


def test_the_withdrawal_footer_carries_the_link_when_one_is_given():
    recipient = Person("PA-2B8NQW", "advisor", "Jordan", "", "j@ex.org", "en")
    plain = render("welcome", "en", recipient)
    linked = render("welcome", "en", recipient, withdrawal_url="https://pp.example/w/abc?x=1&y=2")
    assert "simply reply to this e-mail" in plain.text and "href" not in plain.html.split("<p")[-1]
    assert "https://pp.example/w/abc?x=1&y=2" in linked.text
    assert 'href="https://pp.example/w/abc?x=1&amp;y=2"' in linked.html


def test_staff_mail_has_no_withdrawal_footer():
    recipient = Person("ST-4HWX2B", "staff", "Nadia Haddad", "", "n@ex.org")
    mail = render("referral_received", "fr", recipient)
    assert "retirer votre participation" not in mail.text + mail.html
    assert "Nadia Haddad" not in mail.subject


def test_templates_check_command_passes_on_the_real_templates_and_fails_on_a_broken_copy(
    copy, tmp_path
):
    def run(templates_dir: Path):
        settings = Settings(templates_dir=templates_dir, data_dir=tmp_path)
        cli = typer.Typer(context_settings={"obj": bootstrap(settings)})
        cli.add_typer(templates_app, name="templates")
        return CliRunner().invoke(cli, ["templates", "check"])

    good = run(TEMPLATES)
    assert good.exit_code == 0, good.output
    assert "checks passed" in good.output
    (copy / "email" / "invitation.txt").unlink()
    bad = run(copy)
    assert bad.exit_code == 1
    assert "missing template: email/invitation.txt" in bad.output


def test_retries_back_off_exponentially_with_jitter_up_to_a_cap():
    policy = DispatchPolicy(retry_base_seconds=10, retry_max_seconds=100, jitter=0.5)
    rng = random.Random(1)
    for attempts, nominal in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        waits = [retry_delay(attempts, policy, rng) for _ in range(200)]
        assert all(nominal / 2 <= w <= nominal for w in waits)
        assert max(waits) - min(waits) > nominal / 4  # really spread, not one value


def test_a_row_always_gets_the_same_message_id():
    entry = OutboxEntry(7, "invitation", "advisor", "PA-7K3M9Q", "fr", {}, "invitation:PA-7K3M9Q",
                        "pending", 0)  # fmt: skip
    other = OutboxEntry(8, "welcome", "advisor", "PA-7K3M9Q", "fr", {}, "welcome:PA-7K3M9Q",
                        "pending", 0)  # fmt: skip
    first = message_id_for(entry, "partenariat@hopital.example")
    assert first == message_id_for(entry, "partenariat@hopital.example")
    assert first.startswith("<") and first.endswith(".7@hopital.example>")
    assert first != message_id_for(other, "partenariat@hopital.example")


def _drop_first_text(templates_dir: Path, language: str, area: str) -> str:
    """Remove the first text of an area from one language's catalogue; return its key."""
    document = yaml.safe_load((templates_dir / "wording" / f"{area}.yaml").read_text("utf-8"))
    node, key = document, [area]
    while isinstance(node, dict):
        first = next(iter(node))
        key.append(str(first))
        node = node[first]
    drop_translation(templates_dir, language, ".".join(key))
    return ".".join(key)


@pytest.mark.parametrize(
    "place",
    [
        "email/invitation.html",
        "portal/form.html",
        "wording/en/digest.yaml",
        "wording/fr/portal.yaml",
        "wording/en/report.yaml",
        "wording/fr/indicators.yaml",
        "wording/en/stages.yaml",
    ],
)
def test_templates_check_fails_on_a_missing_translation_in_every_place_people_read(
    copy, tmp_path, place
):
    """E-mails, the digest, the portal, the report, and the labels of stages and
    indicators: a text gone from one language fails ``ppflow templates check``."""
    path = copy / place
    if path.suffix == ".yaml":  # wording/<lang>/<area>.yaml: that language's text of the area
        what = _drop_first_text(copy, path.parent.name, path.stem)
    else:
        path.unlink()
        what = place
    settings = Settings(templates_dir=copy, data_dir=tmp_path)
    cli = typer.Typer(context_settings={"obj": bootstrap(settings)})
    cli.add_typer(templates_app, name="templates")

    result = CliRunner().invoke(cli, ["templates", "check"], env={"COLUMNS": "400"})

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    problems = [line for line in result.output.splitlines() if "missing" in line]
    assert any(what in line or what.split("/")[-1] in line for line in problems), result.output
