"""Every CLI command, driven with hostile values on SQLite then PostgreSQL: huge and
negative integers, 100,000-character text, markup, bidirectional controls, NUL, emoji,
SQL-looking text, paths such as /etc/passwd, mixed with the real codes of a small
program so that commands reach the database. Whatever is typed, a command ends with exit
code 0, 1, 2 or 3, never a traceback, never shows an SQL statement, and a refused command
writes nothing.

The commands are read from the Typer app, so a new command is fuzzed without a change
here. Only the long-running servers (and the demo, which starts Prefect) are left out.
The examples are drawn in a fixed order (``derandomize``), so a run is repeatable; each
example is one pass over every command. Every problem is collected, so a run reports
all of them at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

import typer
from httpcore._backends.base import NetworkBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow.adapters.orm import Base
from ppflow.cli import app as cli
from ppflow.domain.commands import AddProgram, Meta
from ppflow.services import integration, organization
from tests import factories

PASSES = 4  # examples; each drives every command once

# Commands that run until stopped (servers) or start Prefect's own server (demo).
LONG_RUNNING = {"serve", "portal", "mail-sink", "demo"}
# Commands that take nothing typed and read nothing of the database: each pass would
# give them the same input, so they run in the first pass only (templates check: 3 s).
SAME_EVERY_PASS = {"templates check", "keygen"}

HUGE = str(2**63)  # one above the largest 64-bit integer
INTEGERS = [HUGE, str(-(2**63) - 1), str(2**31), "99999999999", str(10**40), "-1", "0", "1"]
TEXTS = [
    "x" * 100_000,
    "n" * 300,
    "[/]",
    "[link=http://evil.example]Click here[/link]",
    "[red on red]unseen[/]",
    "Ad\u202eevil",  # right-to-left override
    "Zo\u2066ë\u2069",  # an isolate
    "nul\x00byte",
    "😀 Zoë",
    "Robert'); DROP TABLE advisors;--",
    "%s %(name)s {0}",
    "/etc/passwd",
    "/",
    "../../etc/shadow",
    "",
    " ",
    "nope",
    "-1",
    HUGE,
]
EMAILS = ["a" * 250 + "@example.org", "ok@example.org", "[/]@example.org", "x@" + "d" * 300]
DATES = ["9999-12-31", "0001-01-01", "2026-02-30", "2026-03-01", "-1", "yesterday"]
FLOATS = ["1e308", "nan", "inf", "-0.5", "25", HUGE]
SQL_TEXT = re.compile(r"\[SQL:|INSERT INTO|SELECT \S|\bUPDATE \S+ SET\b|Background on this error")


@dataclass
class Problem:
    command: str
    args: list[str]
    what: str

    def __str__(self) -> str:
        shown = [a if len(a) < 40 else f"{a[:20]}…({len(a)} chars)" for a in self.args]
        return f"{self.command} {shown}: {self.what}"


def commands() -> list:
    """Every command of the CLI, as (path, command), read from the Typer app."""
    found = []

    def walk(command, path):
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif path[0] not in LONG_RUNNING:
            found.append((path, command))

    walk(typer.main.get_command(cli), [])
    return found


class Passes:
    """The commands of one pass: all of them the first time, then all but those of
    SAME_EVERY_PASS. (The pass's own code stays as it was: Hypothesis derives the examples
    it draws, ``derandomize``, from that code.)"""

    def __init__(self, every: list):
        self.every = every
        self.started = 0

    def __iter__(self):
        self.started += 1
        for path, command in self.every:
            if self.started == 1 or " ".join(path) not in SAME_EVERY_PASS:
                yield path, command

    def __len__(self) -> int:
        return len(self.every)


def values_for(param, world: dict[str, list[str]], out_dir) -> list[str]:
    """The hostile values a parameter is given, by its type and name."""
    kind = param.type_descriptor
    annotation = str(kind.annotation)
    if param.name in ("out", "maildir"):  # where a command writes: only ever inside tmp
        return [str(out_dir / ("x" * 300)), str(out_dir / "[red]x[/]"), str(out_dir)]
    if kind.is_choice:
        return [str(getattr(c, "value", c)) for c in kind.choices] + ["nope", "[/]"]
    if "int" in annotation:
        return INTEGERS + ["abc"]
    if "float" in annotation:
        return FLOATS
    if kind.is_path or kind.is_file:
        return ["/etc/passwd", "/", "/dev/null", str(out_dir / "missing.csv"), *world["file"]]
    if "date" in param.name or param.name in ("occurred", "from_", "to", "start"):
        return DATES + TEXTS
    if "email" in param.name or param.name == "referred_by":
        return EMAILS + world["staff"] + TEXTS
    return world["codes"] + TEXTS


def arguments(data, path, command, world, out_dir) -> list[str]:
    """A command line for ``command``: its required parameters always, the others
    sometimes, each with a drawn hostile value."""
    args = list(path)
    positional = []
    for param in command.params:
        if not param.required and not data.draw(st.booleans()):
            continue
        if param.param_type_name == "option":
            if param.is_flag:
                args.append(param.opts[0])
                continue
            value = data.draw(st.sampled_from(values_for(param, world, out_dir)))
            args += [param.opts[0], value]
        else:
            positional.append(data.draw(st.sampled_from(values_for(param, world, out_dir))))
    return [*args, "--", *positional] if positional else args


# the number of rows of every table, read in one statement
ROW_COUNTS = select(
    *(select(func.count()).select_from(t).scalar_subquery() for t in Base.metadata.sorted_tables)
)


def fingerprint(app) -> tuple[int, ...]:
    """The number of rows of every table: a refused command changes none."""
    with app.engine.connect() as connection:
        return tuple(connection.execute(ROW_COUNTS).one())


def a_small_program(app) -> dict[str, list[str]]:
    """Staff, a program, a team, an engaged advisor and one identified: their codes."""
    coordinator = factories.staff(app, role="coordinator")
    factories.modules(app, "PP-101")
    organization.add_program(app.uow(), AddProgram("PP-X", "Partenaires", "Bureau"), app.clock)
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead)
    engaged = factories.ready_advisor(app, coordinator)
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    engagement = integration.confirm_match(
        app.uow(), team, engaged, Meta("t"), hourly_rate=25.0, clock=app.clock
    ).engagement
    identified = factories.referral(app, coordinator)
    return {
        "codes": [engaged, identified, team, engagement, "PP-X", lead, "PA-7K3M9Q"],
        "staff": [coordinator, "coordinator@example.org"],
    }


def test_no_command_ends_in_a_traceback_whatever_is_typed(any_app, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    app = any_app
    world = a_small_program(app)
    hostile_csv = tmp_path / "hostile.csv"
    hostile_csv.write_text("first_name,last_name\n[/],\u202e" + "x" * 5000 + "\n")
    world["file"] = [str(hostile_csv)]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    every = Passes(commands())
    runner = CliRunner()
    problems: list[Problem] = []
    runs = 0

    @settings(
        max_examples=PASSES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def one_pass(data):
        nonlocal runs
        for path, command in every:
            args = arguments(data, path, command, world, out_dir)
            before = fingerprint(app)
            result = runner.invoke(cli, args, obj=app)
            runs += 1
            output = result.output
            name = " ".join(path)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                problems.append(Problem(name, args, f"traceback: {result.exception!r}"[:300]))
            elif result.exit_code not in (0, 1, 2, 3):
                problems.append(Problem(name, args, f"exit code {result.exit_code}"))
            if "Traceback" in output or SQL_TEXT.search(output):
                problems.append(Problem(name, args, f"shows: {output[:300]!r}"))
            if path[0] == "db":
                app.upgrade()  # a downgrade that was allowed; the next command needs a schema
            elif result.exit_code != 0 and fingerprint(app) != before:
                problems.append(Problem(name, args, "refused, but rows were written"))

    # A Prefect server is named but closed: a command that needs it fails at once. Its
    # client tries to connect three times (httpcore's retries); the half second and the
    # second it sleeps between the attempts are skipped (1.5 s a command, 20 s a run).
    monkeypatch.setattr(NetworkBackend, "sleep", lambda self, seconds: None)
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        one_pass()
    print(f"\n{len(every)} commands, {runs} runs, {len(problems)} problems")
    for problem in problems:
        print(f"  {problem}")
    assert problems == [], f"{len(problems)} problems in {runs} runs:\n" + "\n".join(
        map(str, problems[:40])
    )
