"""A command starts with what it uses: the CLI imports a command's module when that command
runs, and Prefect only where a Prefect server can be reached. Each command runs here as a
process of its own, which then lists the modules it imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Runs the CLI as the console script does, then prints the modules the process imported.
PROBE = """
import sys
from ppflow import cli
try:
    cli.app(sys.argv[1:], prog_name="ppflow")
except SystemExit as ended:
    print("exit code:", ended.code)
print("imported:", " ".join(sorted(sys.modules)))
"""

# What `report indicators` has no use for: Prefect, the e-mails' and pages' templates and
# mail, the portal, migrations, and the other commands' modules and adapters.
NOT_FOR_THE_REPORT = {
    "prefect",
    "jinja2",
    "aiosmtplib",
    "starlette",
    "alembic",
    "ppflow_flows",
    "ppflow.adapters.privacy",
    "ppflow.adapters.bulk",
    "ppflow.adapters.unit_of_work",
    "ppflow.services.portal",
    "ppflow.cli.advisor",
    "ppflow.cli.portal",
    "ppflow.cli.compensation",
    "rich.progress",
}


@pytest.fixture
def run(sqlite_app, tmp_path):
    """``run(*args) -> (exit code, output, modules imported)``: ppflow ARGS in a process
    of its own on ``sqlite_app``'s database, with no Prefect setting in its environment
    and an empty PREFECT_HOME; ``env`` adds variables."""
    sqlite_app.dispose()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base.update(
        PPFLOW_DATABASE_URL=sqlite_app.settings.resolved_database_url,
        PPFLOW_DATA_DIR=str(tmp_path),
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="100",
    )

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, set[str]]:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *args],
            env={**base, **(env or {})},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        said, _, modules = done.stdout.rpartition("imported:")
        assert modules, done.stdout + done.stderr
        code = int(said.rpartition("exit code:")[2].split()[0])
        return code, said + done.stderr, set(modules.split())

    return run


def test_waiting_and_the_help_never_import_prefect_without_a_server(run):
    for args in (["--help"], ["waiting", "--help"], ["waiting"]):
        code, said, modules = run(*args)
        assert code == 0, said
        assert not {m for m in modules if m.split(".")[0] in ("prefect", "ppflow_flows")}, args
    assert "no Prefect server at PREFECT_API_URL" in said


def test_waiting_asks_prefect_when_a_profile_names_a_server(run, tmp_path):
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "profiles.toml").write_text(
        'active = "office"\n[profiles.office]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
    )
    code, said, modules = run("waiting")
    assert "prefect" in modules
    assert code == 3 and "Prefect server" in said, said  # nothing listens on port 9


def test_the_report_starts_with_what_it_uses(run):
    code, said, modules = run("report", "indicators", "--period", "2026Q1")
    assert code == 0, said
    assert "Indicators 2026Q1" in said
    assert modules & NOT_FOR_THE_REPORT == set()
    assert {"ppflow.cli.report", "ppflow.adapters.indicators"} <= modules


def test_the_help_imports_neither_sqlalchemy_nor_the_bootstrap(run):
    """Listing the commands builds no application: no database layer, no settings."""
    code, said, modules = run("--help")
    assert code == 0, said
    loaded = {m for m in modules if m.split(".")[0] == "sqlalchemy"}
    loaded |= {"ppflow.bootstrap", "ppflow.settings", "pydantic_settings"} & modules
    assert not loaded, sorted(loaded)[:10]
