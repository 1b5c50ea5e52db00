"""One configuration for every process: the file PPFLOW_ENV_FILE names is read by every
ppflow command (and by the flow runs of a worker, tests/flows/test_worker_recipe.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ppflow import cli
from ppflow.settings import get_settings

runner = CliRunner()
KEY = "Zq8x-Lm3Rt6Yp1Vb9Nc4Hd7Jf2Gk5Ws0Ea8Uo3Ti"


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    cli.get_app.cache_clear()
    yield
    get_settings.cache_clear()
    cli.get_app.cache_clear()


def test_every_command_reads_the_file_ppflow_env_file_names(tmp_path, monkeypatch, fresh_settings):
    config = tmp_path / "ppflow.env"
    config.write_text(
        "# the organization's configuration\n"
        "PPFLOW_ENVIRONMENT=production\n"
        f"export PPFLOW_PORTAL__SIGNING_KEY={KEY}\n"
        "PPFLOW_PORTAL_URL=https://partenariat.example.org\n"
        f"PPFLOW_DATABASE_URL=sqlite:///{tmp_path}/from-file.db\n"
        f"PPFLOW_DATA_DIR={tmp_path}/data\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PPFLOW_ENV_FILE", str(config))
    monkeypatch.setenv("PPFLOW_SMTP__PORT", "2525")  # the environment wins over the file
    monkeypatch.delenv("PPFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("PPFLOW_ENVIRONMENT", raising=False)

    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "from-file.db").is_file()
    checked = runner.invoke(cli.app, ["check"])
    text = " ".join(checked.output.split())
    assert "environment: production" in text
    assert "links point to https://partenariat.example.org" in text
    settings = get_settings()
    assert (settings.portal.signing_key, settings.smtp.port) == (KEY, 2525)


def test_a_missing_env_file_is_one_line_and_no_traceback(tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("PPFLOW_ENV_FILE", str(tmp_path / "absent.env"))
    result = runner.invoke(cli.app, ["advisor", "list"])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        f"error: PPFLOW_ENV_FILE names {tmp_path / 'absent.env'}, which is not a file this "
        "process can read"
    )
