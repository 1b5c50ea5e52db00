"""The Prefect-facing commands: ``ppflow serve``, ``ppflow run`` and ``ppflow answer``.

They reach Prefect through ``ppflow_flows`` (imported when a command runs), so the rest of
the CLI starts without Prefect.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ppflow.cli.context import actor, current_app, out, split_values
from ppflow.cli.errors import CommandGroup, fail
from ppflow.cli.typed import read_choice, read_rate
from ppflow.domain.commands import ScreeningOutcome
from ppflow.services.decisions import DEFAULT_ROLE

answer_app = CommandGroup(
    help="Answer a question a flow waits on (same as the form in the Prefect UI)."
)


def serve(
    limit: Annotated[int | None, typer.Option(help="Most runs at once.")] = None,
) -> None:
    """Serve every deployment of the prefect.yaml ppflow ships (deployments/prefect.yaml in
    a checkout, in ppflow_flows/deployments/ once installed; `python -m ppflow.resources
    prefect.yaml` prints its path) from this process, schedules included (single machine;
    a Prefect server must be reachable at PREFECT_API_URL). SIGTERM or Ctrl-C stops it
    within 3 s: a run it was starting or running is handed back (Scheduled again), runs
    waiting for a person stay suspended."""
    from ppflow_flows.serving import serve_all

    serve_all(current_app().settings.timezone, limit)


def run(
    stage: Annotated[
        str,
        typer.Argument(
            help="The stage: recruit, prepare, onboard, integrate, ..., or the deployment's "
            "name as the Prefect UI shows it (recruit-advisor, dispatch-notifications, ...)."
        ),
    ],
    code: Annotated[str | None, typer.Argument(help="Advisor, team or engagement code.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("-p", help="Extra parameter key=value.")
    ] = None,
) -> None:
    """Trigger a deployment by its short name or its name in the Prefect UI, e.g. `ppflow
    run recruit PA-7K3M9Q` or `ppflow run dispatch-notifications`."""
    from ppflow_flows.serving import SHORT_NAMES, short_name, trigger

    short = short_name(stage)
    if short is None:
        names = ", ".join(f"{s} ({full})" for s, (full, _key) in SHORT_NAMES.items())
        fail(f"no deployment '{stage}'; choose one of {names}")
    stage = short
    extra = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"'{item}': write a parameter as key=value")
        extra[key] = value
    from prefect.exceptions import ObjectNotFound

    try:
        run_id, name = trigger(stage, code, extra)
    except ValueError as error:
        fail(str(error))
    except ObjectNotFound:
        deployment = SHORT_NAMES[stage][0]
        fail(
            f"the Prefect server has no deployment {deployment}: serve them with `ppflow "
            "serve` (or `prefect deploy`), and check PREFECT_API_URL"
        )
    out.print(f"started {name} (flow run {run_id})")


# How each question is answered from the command line (the same choices as the UI form).
ANSWER_WITH = {
    "screening": "ppflow answer screening {s} --outcome retained|not_retained|declined",
    "training": "ppflow answer training {s} --module CODE",
    "match": "ppflow answer match {s} --advisor PA-… [--rate N] | --reject",
}


def waiting() -> None:
    """What waits on the coordinators: every decision a run is waiting for (the question,
    the advisor or team, since when, and the command or the Prefect UI page that answers
    it), the runs stuck Pending, Running or Cancelling past PPFLOW_STUCK_RUN_MINUTES (15),
    then the cases stalled past their service level (the reminders' digest, now)."""
    from datetime import timedelta

    from rich.table import Table

    from ppflow.services.sweeps import DEFAULT_SERVICE_LEVELS, find_stalled_cases

    application = current_app()
    now = application.clock.now()
    questions = _open_questions()
    if questions is None:
        out.print("no Prefect server at PREFECT_API_URL: waiting runs are not listed")
    elif not questions:
        out.print("no run waits for a decision")
    else:
        from prefect.settings import PREFECT_UI_URL

        ui = PREFECT_UI_URL.value()
        table = Table("question", "about", "waiting since", "answer with", title="Decisions")
        for q in questions:
            days = (now - q.since).days
            answer_with = ANSWER_WITH[q.question].format(s=q.subject)
            if ui:
                answer_with += f"\nor {ui.rstrip('/')}/runs/flow-run/{q.flow_run_id}"
            table.add_row(q.question, q.subject, f"{q.since:%Y-%m-%d} ({days} d)", answer_with)
        out.print(table)
        if ui and _behind_basic_auth():
            out.print(
                f"the Prefect UI asks for the PREFECT_API_AUTH_STRING (user:password) at {ui} "
                "before it opens a run's page: sign in there first"
            )
    if questions is not None:
        _print_stuck_runs(now, timedelta(minutes=application.settings.stuck_run_minutes))
    levels = {**DEFAULT_SERVICE_LEVELS, **application.settings.service_levels}
    found = find_stalled_cases(application.sweeps(), now, levels)
    stalled = [(kind, case) for kind, f in found.items() for case in f.first]
    if not stalled:
        out.print("no case is stalled past its service level")
        return
    table = Table("kind", "code", "what waits", "days", title="Stalled past their service level")
    for kind, case in stalled:
        table.add_row(str(kind), case.advisor, case.stage, str(case.days))
    out.print(table)


def _print_stuck_runs(now, limit) -> None:
    """The runs stuck Pending, Running or Cancelling longer than ``limit``, by name (codes
    only), state and age; nothing when there is none."""
    from rich.table import Table

    from ppflow_flows.runtime import stuck_runs

    stuck = stuck_runs(now, limit)
    if not stuck:
        return
    minutes = f"{limit.total_seconds() / 60:.0f}"
    table = Table("run", "state", "since", "flow run", title=f"Runs stuck for over {minutes} min")
    for run in stuck:
        age = (now - run.since).total_seconds() / 60
        table.add_row(
            run.name, run.state, f"{run.since:%Y-%m-%d %H:%M} ({age:.0f} min)", run.flow_run_id
        )
    out.print(table)


def _behind_basic_auth() -> bool:
    from prefect.settings import get_current_settings

    secret = get_current_settings().api.auth_string
    return bool(secret and secret.get_secret_value())


def prefect_api_url() -> str | None:
    """PREFECT_API_URL as Prefect reads it, or None. Importing Prefect to read it takes
    about a second, so it is read from the environment, and Prefect is asked only when one
    of the other places it reads settings from could set it (:func:`_may_set_api_url`):
    without a server, ``ppflow waiting`` and ``ppflow advisor withdraw`` never import it.
    Once Prefect is loaded (a flow, a test server of its own), its settings are asked:
    they are what its client would use."""
    if "prefect.settings" not in sys.modules and os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect.settings" not in sys.modules and not _may_set_api_url():
        return None
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def _mentions(path: Path, *words: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(word in text for word in words)


def _may_set_api_url() -> bool:
    """Whether Prefect could find an API URL outside the environment variable: a profile
    or a profiles file named in the environment, or a mention of the setting in a file
    Prefect reads (``.env``, ``prefect.toml``, ``pyproject.toml`` of the current
    directory, and ``profiles.toml`` in PREFECT_HOME, ~/.prefect by default). Errs towards
    yes: a yes only costs the import."""
    named = ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH")
    if any(name in os.environ for name in named):
        return True
    here = Path.cwd()
    if _mentions(here / ".env", "PREFECT_"):
        return True
    if _mentions(here / "prefect.toml", "api", "profiles_path"):
        return True
    if _mentions(here / "pyproject.toml", "tool.prefect"):
        return True
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    return _mentions(home / "profiles.toml", "PREFECT_API_URL")


def _open_questions():
    """The decisions runs wait for, or None when no Prefect server is configured."""
    if not prefect_api_url():
        return None
    from ppflow_flows.answers import open_questions

    return open_questions()


def give_answer(question: str, subject: str, values: dict) -> None:
    """Check the answer and resume the run that waits on it; the CLI's user is the actor."""
    from ppflow.services.decisions import what_it_does
    from ppflow_flows.answers import answer

    run_id = answer(question, subject, values, actor())
    out.print(f"{what_it_does(question, subject, values)}: answered the {question} question")
    out.print(f"resumed flow run {run_id}, which applies it")


@answer_app.command("screening")
def screening(
    advisor: Annotated[str, typer.Argument(help="Advisor code.")],
    outcome: Annotated[
        str,
        typer.Option(
            help="Decision after screening (its code or its name). "
            f"One of: {', '.join(ScreeningOutcome)}.",
            callback=read_choice("outcome"),
        ),
    ],
    reason: Annotated[str, typer.Option(help="Required when not retained.")] = "",
    wording: Annotated[str, typer.Option(help="Consent wording version.")] = "v1",
) -> None:
    """Give the screening outcome that recruit-advisor waits on."""
    give_answer(
        "screening",
        advisor,
        {"outcome": outcome, "reason": reason, "consent_wording_version": wording},
    )


@answer_app.command("training")
def training(
    advisor: Annotated[str, typer.Argument(help="Advisor code.")],
    module: Annotated[list[str], typer.Option(help="Completed module code (repeatable).")],
) -> None:
    """Report completed training modules to prepare-advisor."""
    give_answer("training", advisor, {"modules": list(split_values(module))})


@answer_app.command("match")
def match(
    team: Annotated[str, typer.Argument(help="QI team code.")],
    advisor: Annotated[str, typer.Option(help="Advisor to place.")] = "",
    reject: Annotated[bool, typer.Option(help="Turn every proposal down.")] = False,
    role: Annotated[str, typer.Option(help="Role in the team.")] = DEFAULT_ROLE,
    rate: Annotated[
        str,  # read as a float (read_rate)
        typer.Option(
            help="Hourly rate in dollars (25.50 or 25,50); 0 pays by the program's rate tiers.",
            callback=read_rate,
        ),
    ] = "0",
) -> None:
    """Place one of the advisors integrate-advisor proposed (--advisor), or turn every
    proposal down (--reject)."""
    from ppflow.services.decisions import NOBODY

    if advisor and reject:
        fail(
            f"--advisor {advisor} places that advisor and --reject turns every proposal "
            "down: give one of them"
        )
    if not advisor and not reject:
        fail("name the --advisor to place, or --reject every proposal")
    if reject and (rate or role != DEFAULT_ROLE):
        fail("--role and --rate apply to an advisor placed; --reject places nobody")
    give_answer(
        "match", team, {"advisor": NOBODY if reject else advisor, "role": role, "hourly_rate": rate}
    )
