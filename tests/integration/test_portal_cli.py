"""The coordinator's side of the portal: `feedback record`, `feedback import` (with bad
rows), `questionnaire add` for a licensed instrument, and `check` for the signing key and
for mail waiting in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from ppflow.cli import app as ppflow_cli
from ppflow.services.ports import FixedClock
from ppflow.settings import PortalSettings
from tests import factories
from tests.integration.portal_helpers import open_engagement, response_row

runner = CliRunner()


def invoke(app, *args):
    return runner.invoke(ppflow_cli, list(args), obj=app, catch_exceptions=False)


@pytest.fixture
def opened(sqlite_app):
    return open_engagement(sqlite_app)


def test_a_coordinator_records_a_paper_response(sqlite_app, opened):
    result = invoke(
        sqlite_app,
        "feedback", "record", opened.engagement, opened.advisor,
        "--answer", "com_role=4", "-a", "respect_equal=2", "-a", "open_improve=Plus de temps",
        "--partial",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "partnership-experience-advisor v1, score 3.0" in result.output
    assert "partial: 12 of 14 agreement items missing" in result.output
    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {"com_role": 4, "respect_equal": 2, "open_improve": "Plus de temps"}
    assert (row.questionnaire_version, row.theme_scores) == (1, {"communication": 4, "respect": 2})
    again = invoke(
        sqlite_app, "feedback", "record", opened.engagement, opened.advisor, "-a", "com_role=1"
    )
    assert again.exit_code == 1
    assert "already answered" in again.output
    assert response_row(sqlite_app, opened.advisor).answers["com_role"] == 4


def test_a_wrong_answer_from_the_cli_is_refused_with_its_reason(sqlite_app, opened):
    result = invoke(
        sqlite_app, "feedback", "record", opened.engagement, opened.advisor,
        "-a", "com_role=7", "-a", "nope=3",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "com_role: agreement answers go from 1 to 5" in result.output
    assert "no item 'nope'" in result.output
    assert response_row(sqlite_app, opened.advisor).answered_at is None


def write_csv(tmp_path, text: str):
    path = tmp_path / "responses.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_with_a_bad_row_imports_nothing_and_names_the_lines(sqlite_app, opened, tmp_path):
    path = write_csv(
        tmp_path,
        "engagement,respondent,com_role,respect_equal,views_space,open_improve\n"
        f'{opened.engagement},{opened.advisor},4,5,,"<b>Plus</b>, de temps"\n'
        f"{opened.engagement},{opened.lead},,,6,\n"
        f"{opened.engagement},PA-NOBODY,3,,,\n",
    )
    result = invoke(sqlite_app, "feedback", "import", str(path), "--partial")
    assert result.exit_code == 1
    assert "responses.csv:3: views_space: agreement answers go from 1 to 5" in result.output
    assert "responses.csv:4: no questionnaire for PA-NOBODY" in result.output
    assert "nothing was imported" in result.output
    assert response_row(sqlite_app, opened.advisor).answered_at is None


def test_skip_invalid_imports_the_good_rows_and_reports_the_bad(sqlite_app, opened, tmp_path):
    path = write_csv(
        tmp_path,
        "engagement,respondent,com_role,respect_equal,views_space,open_improve\n"
        f'{opened.engagement},{opened.advisor},4,5,,"<b>Plus</b>, de temps"\n'
        f"{opened.engagement},{opened.lead},,,6,\n",
    )
    result = invoke(sqlite_app, "feedback", "import", str(path), "--skip-invalid", "--partial")
    assert result.exit_code == 0, result.output
    assert "responses.csv:3:" in result.output
    assert "imported 1 response(s) from responses.csv; skipped 1 bad row(s)" in result.output
    assert "1 partial (12 agreement items missing in all)" in result.output
    row = response_row(sqlite_app, opened.advisor)
    assert row.answers == {
        "com_role": 4,
        "respect_equal": 5,
        "open_improve": "<b>Plus</b>, de temps",
    }
    assert row.questionnaire_version == 1
    assert response_row(sqlite_app, opened.lead).answered_at is None


def test_a_csv_that_is_not_utf8_is_refused_whole(sqlite_app, opened, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        f"engagement,respondent,open_improve\n{opened.engagement},{opened.advisor},".encode()
        + b"tr\x81s bien\n"  # 0x81 is neither UTF-8 here nor any Windows-1252 letter
    )
    result = invoke(sqlite_app, "feedback", "import", str(path))
    assert result.exit_code == 1
    assert "neither UTF-8 nor Windows-1252" in result.output
    assert response_row(sqlite_app, opened.advisor).answered_at is None


LICENSED = """\
name: licensed-instrument
version: 1
locked: true
licence: Used under licence no. 42 from its authors; do not modify the items.
title: {fr: Instrument sous licence, en: Licensed instrument}
scale:
  fr: [un, deux, trois, quatre, cinq]
  en: [one, two, three, four, five]
themes:
  - id: respect
    title: {fr: Respect, en: Respect}
items:
  - id: r1
    theme: respect
    type: scale
    text: {fr: Énoncé sous licence., en: Licensed statement.}
"""


def test_a_licensed_instrument_is_sealed_and_an_edit_is_refused(sqlite_app, tmp_path):
    source = tmp_path / "licensed-instrument.v1.yaml"
    source.write_text(LICENSED, encoding="utf-8")
    result = invoke(sqlite_app, "questionnaire", "add", str(source))
    assert result.exit_code == 0, result.output
    assert "locked; licence stored, content sealed" in result.output
    stored = sqlite_app.settings.data_dir / "questionnaires" / source.name
    assert "content_hash: sha256:" in stored.read_text(encoding="utf-8")
    listing = invoke(sqlite_app, "questionnaire", "list")
    assert "licensed-instrument" in listing.output
    stored.write_text(
        stored.read_text(encoding="utf-8").replace("Licensed statement.", "Our own words."),
        encoding="utf-8",
    )
    check = invoke(sqlite_app, "check")
    assert check.exit_code == 1
    assert "modified after it was sealed" in check.output


def with_portal(app, environment: str, **portal):
    app.settings = app.settings.model_copy(
        update={"environment": environment, "portal": PortalSettings(**portal)}
    )
    return app


def test_check_refuses_the_default_key_outside_development(sqlite_app):
    result = invoke(with_portal(sqlite_app, "production"), "check")
    assert result.exit_code == 1
    assert "environment: production" in result.output
    assert "refused" in result.output
    assert "the signing key is the development default" in result.output


def test_check_accepts_a_key_made_by_keygen_in_production(sqlite_app):
    app = with_portal(
        sqlite_app,
        "production",
        signing_key="ppflow_uovjsigtteqewvrpkpn32pke2aculzsdlwx66dxklt7pjklzoh34mvogue",
    )
    result = invoke(app, "check")
    assert result.exit_code == 0, result.output
    assert "signing key from settings" in result.output
    assert "questionnaires: partnership-experience-advisor v1" in result.output
    assert "the portal may start" in result.output


def test_check_only_warns_about_the_default_key_in_development(sqlite_app):
    result = invoke(with_portal(sqlite_app, "development"), "check")
    assert result.exit_code == 0, result.output
    assert "accepted in development only" in result.output


def test_the_portal_command_refuses_to_start_with_the_default_key_in_production(sqlite_app):
    result = invoke(with_portal(sqlite_app, "production"), "portal", "--port", "1")
    assert result.exit_code == 1
    assert "the signing key is the development default" in result.output


def test_check_reports_each_missing_shipped_file_as_a_failed_check(sqlite_app, tmp_path):
    fine = invoke(sqlite_app, "check")
    assert fine.exit_code == 0, fine.output
    assert "shipped files found: templates, deployments" in fine.output
    empty = tmp_path / "no-templates"
    empty.mkdir()
    sqlite_app.settings = sqlite_app.settings.model_copy(update={"templates_dir": empty})
    result = invoke(sqlite_app, "check")
    assert result.exit_code == 1
    for folder in ("email", "portal", "report"):
        assert f"failed templates: no {folder}/ in {empty}" in result.stderr
    assert "the portal may start" not in result.output


def test_check_gives_the_age_of_the_oldest_mail_to_send_and_fails_past_the_limit(sqlite_app):
    empty = invoke(sqlite_app, "check")
    assert empty.exit_code == 0, empty.output
    assert "outbox: no message waits to be sent" in empty.output
    factories.referral(sqlite_app, factories.staff(sqlite_app))  # queues an acknowledgement
    queued = datetime.now(UTC)
    sqlite_app.clock = FixedClock(queued + timedelta(minutes=5))
    recent = invoke(sqlite_app, "check")
    assert recent.exit_code == 0, recent.output
    assert "ok    outbox: the oldest message to send has waited 5 min" in recent.output
    sqlite_app.clock = FixedClock(queued + timedelta(minutes=20))
    late = invoke(sqlite_app, "check")
    assert late.exit_code == 1, late.output
    assert (
        "failed outbox: the oldest message to send has waited 20 min (limit 15 min, "
        "PPFLOW_OUTBOX_AGE_LIMIT_MINUTES)"
    ) in " ".join(late.stderr.split())
    assert "the portal may start" in late.output  # the portal itself may still start
