"""``ppflow demo``: the main job on the embedded defaults, from an empty database to an
onboarded cohort and its e-mails in the mail sink."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress
from rich.table import Table

from ppflow.cli.advisor import pool_table
from ppflow.cli.context import current_app, err, out, styled
from ppflow.cli.team import teams_table
from ppflow.services import queries
from ppflow.services.ports import AdvisorFilter

if TYPE_CHECKING:
    from ppflow.bootstrap import App


def demo(
    reset: Annotated[
        bool, typer.Option(help="Empty the database and the mail sink's Maildir first.")
    ] = False,
    seed_only: Annotated[bool, typer.Option(help="Seed without Prefect (quick look).")] = False,
) -> None:
    """The main job on the embedded defaults: seed a program, identify a cohort of
    referrals and onboard each advisor through the Prefect flows, with the coordinator's
    answers scripted; then send the e-mails to the local mail sink."""
    from ppflow.services import demo as demo_service

    application = current_app()
    if reset:
        application.downgrade("base")
        removed = application.clear_mail()
        if removed:
            out.print(f"removed {removed} e-mail(s) of earlier runs from {application.maildir}")
    application.upgrade()
    out.print(f"database: {application.engine.url.render_as_string(hide_password=True)}")
    if seed_only:  # the quick look: the same use case, without Prefect
        seeded = demo_service.run_demo(application.uow(), application.clock).seeded
        out.print(
            "seeded the demonstration program"
            if seeded
            else "demonstration program already there (use --reset to start again)"
        )
    else:
        _with_flows(application)
    out.print(pool_table(queries.list_advisors(application.uow(), AdvisorFilter())))
    out.print(teams_table(queries.list_teams(application.uow(), None)))


def _with_flows(application: App) -> None:
    # Runs, task runs and their logs stay in Prefect's UI; the terminal shows the outcome.
    for handler in ("CONSOLE", "CONSOLE_FLOW_RUNS", "CONSOLE_TASK_RUNS"):
        os.environ.setdefault(f"PREFECT_LOGGING_HANDLERS_{handler}_LEVEL", "WARNING")
    # Prefect's local server logs each "database is locked" of its SQLite file with a full
    # traceback, although its client retries the request and nothing is lost; the demo's
    # terminal is for the coordinator, so only the server's critical errors show there.
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    from ppflow_flows.demo import DemoAlreadyRunError, run_demo

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("onboarding the cohort", total=None)
        try:
            result = run_demo(
                lambda done, total: progress.update(task, completed=done, total=total)
            )
        except DemoAlreadyRunError:
            out.print(
                styled(
                    "the demonstration has already run on this database; "
                    "[bold]ppflow demo --reset[/] runs it again from scratch"
                )
            )
            return
    stages = Table("stage", "advisors", title="Advisors at each stage")
    for stage, count in sorted(result.stages.items(), key=lambda item: -item[1]):
        stages.add_row(stage, str(count))
    out.print(stages)
    if result.server_seconds > 1:
        out.print(f"Prefect's local server started in {result.server_seconds:.0f} s")
    out.print(
        f"onboarded a cohort of {len(result.advisors)} in {result.onboarding_seconds:.1f} s; "
        f"{result.sent} e-mail(s) delivered to the mail sink at {result.maildir}"
    )
    out.print(styled("read them: [bold]ppflow mail list[/] and [bold]ppflow mail show N[/]"))
    out.print(f"see the runs, events and artifacts: {_ui_address(result.api_url)}")


def _ui_address(api_url: str) -> str:
    """Where a person can look at the demo's runs. With PREFECT_API_URL set, its server's
    UI; otherwise the runs are in Prefect's local database, which a server started later
    shows."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    if PREFECT_API_URL.value():
        return api_url.removesuffix("/").removesuffix("/api") + "/runs"
    return (
        f"they are in Prefect's database under {PREFECT_HOME.value()}; "
        "`prefect server start` (or `make serve`), then open "
        "http://127.0.0.1:4200/runs"
    )
