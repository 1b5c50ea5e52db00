"""The installed ``ppflow`` command in its own process: an expected error is one line on
stderr and exit code 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("ppflow")


def ppflow(tmp_path, *args: str, module: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ppflow.cli"] if module else [str(SCRIPT)]
    env = {
        **os.environ,
        "PPFLOW_DATA_DIR": str(tmp_path),
        "PPFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="the ppflow console script is not installed")
def test_an_unknown_advisor_is_a_message_and_exit_code_1(tmp_path):
    assert ppflow(tmp_path, "db", "upgrade").returncode == 0
    shown = ppflow(tmp_path, "advisor", "show", "PA-7K3M9Q")
    assert shown.returncode == 1
    assert shown.stderr.strip() == "error: no advisor 'PA-7K3M9Q'"
    assert "Traceback" not in shown.stdout + shown.stderr


def test_a_bad_period_is_a_message_and_exit_code_1_from_python_dash_m(tmp_path):
    report = ppflow(tmp_path, "report", "indicators", "--period", "soon", module=True)
    assert report.returncode == 1
    assert report.stderr.startswith("error: 'soon' is not a period")
    assert "Traceback" not in report.stdout + report.stderr
    assert report.stdout == ""
