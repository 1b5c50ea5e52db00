"""The installed ``ppflow`` command in its own process: an expected error is one line on
stderr and exit code 1, never a traceback. A database or a Prefect server that fails the
command is one line too, with exit code 3, and never shows the SQL statement or its
parameters (they hold names and addresses)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from ppflow.adapters.db import make_engine
from ppflow.bootstrap import bootstrap
from ppflow.settings import Settings
from tests import factories
from tests.conftest import sqlite_template

SCRIPT = Path(sys.executable).with_name("ppflow")
OUTAGE = 3  # ppflow.cli.errors.OUTAGE_EXIT_CODE


def ppflow(
    tmp_path, *args: str, module: bool = False, database: str | None = None, preexec=None, **env
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ppflow.cli"] if module else [str(SCRIPT)]
    env = {
        **os.environ,
        "PPFLOW_DATA_DIR": str(tmp_path),
        "PPFLOW_DATABASE_URL": database or f"sqlite:///{tmp_path}/cli.db",
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [*command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=preexec,
    )


def migrated(tmp_path) -> None:
    """The database ``ppflow`` uses in ``tmp_path``, migrated: a copy of the session's
    template (``ppflow db upgrade`` in a process of its own costs 2 s)."""
    shutil.copyfile(sqlite_template(), tmp_path / "cli.db")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_line_error(result: subprocess.CompletedProcess, code: int, *absent: str) -> str:
    """The command ended with ``code`` and said why on one line of stderr, with no
    traceback and none of ``absent`` anywhere in its output."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, output
    leaked = [value for value in absent if value.lower() in output.lower()]
    assert leaked == [], f"the output shows {leaked}"
    return result.stderr.strip()


@pytest.mark.skipif(not SCRIPT.exists(), reason="the ppflow console script is not installed")
def test_an_unknown_advisor_is_a_message_and_exit_code_1(tmp_path):
    migrated(tmp_path)
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


def test_an_amount_out_of_range_is_a_message_naming_it_and_the_range(tmp_path):
    migrated(tmp_path)
    added = ppflow(
        tmp_path, "pay", "tier", "add", "meeting", "--kind", "hourly", "--amount", "999999999999",
        "--from", "2026-01-01",
    )  # fmt: skip
    assert one_line_error(added, 1) == (
        "error: amount '999999999999' is out of range: give 0 to 100000000.00 dollars"
    )


# ----------------------------------------------------------------- a failing database

# A referral whose name and address must appear nowhere in what the command prints.
PERSON = {"first_name": "Zéphyrine", "last_name": "Quonsettaway", "email": "zq.7731@example.org"}


@pytest.fixture(scope="module")
def staffed_database(tmp_path_factory) -> Path:
    """A migrated SQLite file with one coordinator, copied by each test that needs it."""
    path = tmp_path_factory.mktemp("template") / "ppflow.db"
    shutil.copyfile(sqlite_template(), path)
    app = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    factories.staff(app, role="coordinator", email="coordinator@example.org")
    with app.engine.connect() as connection:  # one file, nothing left in the WAL
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    app.dispose()
    return path


def add_the_person(tmp_path, database: str, preexec=None) -> subprocess.CompletedProcess:
    return ppflow(
        tmp_path, "advisor", "add", "--first-name", PERSON["first_name"],
        "--last-name", PERSON["last_name"], "--email", PERSON["email"],
        "--referred-by", "coordinator@example.org", database=database, preexec=preexec,
    )  # fmt: skip


def test_a_file_that_is_not_a_database_is_a_message(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(os.urandom(8192))
    shown = ppflow(tmp_path, "advisor", "show", "PA-7K3M9Q", database=f"sqlite:///{corrupt}")
    assert one_line_error(shown, OUTAGE, "SELECT", "PA-7K3M9Q") == (
        f"error: the database at sqlite:///{corrupt} cannot be read: file is not a database"
    )
    assert one_line_error(
        add_the_person(tmp_path, f"sqlite:///{corrupt}"), OUTAGE, *PERSON.values()
    )


def test_an_empty_database_file_says_to_run_db_upgrade(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    shown = ppflow(tmp_path, "advisor", "show", "PA-7K3M9Q", database=f"sqlite:///{empty}")
    message = one_line_error(shown, OUTAGE, "SELECT", "PA-7K3M9Q")
    assert message == (
        f"error: the database at sqlite:///{empty} has no ppflow schema, or an older one: "
        "no such table: advisors; run `ppflow db upgrade`"
    )
    assert one_line_error(add_the_person(tmp_path, f"sqlite:///{empty}"), OUTAGE, *PERSON.values())


@contextmanager
def mounted_tmpfs(where: Path, size_kb: int):
    """A tmpfs of ``size_kb`` at ``where``, when this process may mount one (root)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def test_a_read_only_database_is_a_message_without_the_person(tmp_path, staffed_database):
    if can_mount():  # root writes through file modes: a file system mounted read-only
        with mounted_tmpfs(tmp_path / "ro", 4096) as mounted:
            if not mounted:
                pytest.skip("cannot mount a tmpfs here")
            database = tmp_path / "ro" / "ppflow.db"
            shutil.copy(staffed_database, database)
            subprocess.run(["mount", "-o", "remount,ro", str(database.parent)], check=True)
            added = add_the_person(tmp_path, f"sqlite:///{database}")
    else:
        database = tmp_path / "ro" / "ppflow.db"
        database.parent.mkdir()
        shutil.copy(staffed_database, database)
        database.chmod(0o444)
        database.parent.chmod(0o555)
        try:
            added = add_the_person(tmp_path, f"sqlite:///{database}")
        finally:
            database.parent.chmod(0o755)
    message = one_line_error(added, OUTAGE, *PERSON.values(), "INSERT", "parameters")
    assert message.startswith(f"error: the database at sqlite:///{database} cannot be ")
    assert message.endswith(
        ("unable to open database file", "attempt to write a readonly database")
    ), message


def test_a_full_disk_is_a_message_without_the_person(tmp_path, staffed_database):
    size = staffed_database.stat().st_size
    if can_mount():  # a real full file system: the copy and a filler take all of it
        with mounted_tmpfs(tmp_path / "full", size // 1024 + 64) as mounted:
            if not mounted:
                pytest.skip("cannot mount a tmpfs here")
            database = tmp_path / "full" / "ppflow.db"
            shutil.copy(staffed_database, database)
            filler = os.open(database.parent / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(filler, b"\0" * 4096):
                    pass
            except OSError:  # no space left on the device
                pass
            finally:
                os.close(filler)
            added = add_the_person(tmp_path, f"sqlite:///{database}")
    else:  # no mount: the kernel refuses to let the process's files grow (RLIMIT_FSIZE)
        database = tmp_path / "ppflow.db"
        shutil.copy(staffed_database, database)

        def small_files() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

        added = add_the_person(tmp_path, f"sqlite:///{database}", preexec=small_files)
    message = one_line_error(added, OUTAGE, *PERSON.values(), "INSERT", "parameters")
    assert message.startswith(f"error: the database at sqlite:///{database} cannot be written: ")
    assert message.endswith(("disk I/O error", "database or disk is full")), message


def test_an_unreachable_postgresql_is_a_message_without_its_password(tmp_path):
    url = f"postgresql://ppflow:s3cr3t-pw@127.0.0.1:{free_port()}/ppflow"
    added = add_the_person(tmp_path, url)
    message = one_line_error(added, OUTAGE, *PERSON.values(), "s3cr3t-pw")
    assert message.startswith(
        f"error: the database at postgresql://ppflow:***@127.0.0.1:{url.rsplit(':', 1)[1]} "
        "cannot be reached: connection failed:"
    ), message


def test_a_database_error_never_carries_the_statement_parameters(tmp_path):
    """Whatever prints or logs a database error (a traceback, a flow run's log on the
    Prefect server) sees the statement, never the values in it."""
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (email TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES (:email)"), {"email": PERSON["email"]})
    with pytest.raises(Exception) as failed, engine.begin() as connection:
        connection.execute(text("INSERT INTO people VALUES (:email)"), {"email": PERSON["email"]})
    engine.dispose()
    assert "UNIQUE constraint failed" in str(failed.value)
    assert PERSON["email"] not in str(failed.value)


# ------------------------------------------------------------ a Prefect server that is down


def test_answer_and_run_while_the_prefect_server_is_down_are_a_message(tmp_path):
    migrated(tmp_path)
    down = f"http://127.0.0.1:{free_port()}"
    env = {"PREFECT_API_URL": f"{down}/api", "PREFECT_HOME": str(tmp_path / "prefect")}
    expected = (
        f"error: cannot reach the Prefect server at {down}: [Errno 111] Connection refused. "
        "Start it (make serve), or set PREFECT_API_URL to where it runs"
    )
    answered = ppflow(tmp_path, "answer", "screening", "PA-7K3M9Q", "--outcome", "retained", **env)
    assert one_line_error(answered, OUTAGE) == expected
    started = ppflow(tmp_path, "run", "recruit", "PA-7K3M9Q", **env)
    assert one_line_error(started, OUTAGE) == expected
