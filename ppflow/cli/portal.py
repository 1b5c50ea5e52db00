"""``ppflow portal``, ``ppflow feedback`` and ``ppflow questionnaire``: serve the survey
portal after its checks, enter or import questionnaire responses, and manage
questionnaire files.

Output names people by code only.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from ppflow.cli.context import current_app, err, out
from ppflow.cli.errors import CommandGroup, about, fail
from ppflow.services.csv_files import ACCEPTED

if TYPE_CHECKING:
    from ppflow.bootstrap import App

feedback_app = CommandGroup(help="Questionnaire responses entered by a coordinator.")
questionnaire_app = CommandGroup(help="Questionnaire files: ppflow's own and licensed instruments.")


# -------------------------------------------------------------------------- checks


def signing_key_problems(settings) -> list[str]:
    """Why the keys may not be used outside development (empty list: they may). The rule
    is the one every link path applies (:func:`ppflow.services.links.signing_keys`)."""
    from ppflow.services.links import configured_key_problems

    return configured_key_problems(settings)


def run_checks(application: App) -> bool:
    """Print each check of the portal's configuration with its result; True when the
    portal may start."""
    from ppflow.services.links import KEY_ADVICE, development_key_refusal, strict
    from ppflow.services.questionnaires import QuestionnaireError

    settings = application.settings
    refuse = strict(settings)
    ok = True
    source = (
        f"Prefect Secret block '{settings.portal.signing_key_block}'"
        if settings.portal.signing_key_block
        else "settings (PPFLOW_PORTAL__SIGNING_KEY)"
    )
    previous = len(settings.portal.previous_signing_keys)
    keys = f"signing key from {source}" + (
        f" and {previous} previous key(s) (PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS)"
        if previous
        else ""
    )
    out.print(f"environment: {settings.environment}", highlight=False)
    problems = signing_key_problems(settings)
    refusal = development_key_refusal(settings)
    if refusal:
        ok = False
        err.print(f"[bold red]refused[/] {keys}: {refusal}", highlight=False)
    elif not problems:
        out.print(f"[green]ok[/]    {keys}: made by ppflow keygen", highlight=False)
    elif refuse:
        ok = False
        err.print(
            f"[bold red]refused[/] {keys}: {'; '.join(problems)}. Set "
            "PPFLOW_PORTAL__SIGNING_KEY (or PPFLOW_PORTAL__SIGNING_KEY_BLOCK) to a new "
            f"key: {KEY_ADVICE}.",
            highlight=False,
        )
    else:
        out.print(
            f"[yellow]warn[/]  {keys}: {'; '.join(problems)} (accepted in development only)",
            highlight=False,
        )
    if settings.portal.link_days < 1:
        ok = False
        err.print("[bold red]refused[/] PPFLOW_PORTAL__LINK_DAYS must be at least 1")
    else:
        out.print(f"[green]ok[/]    personal links expire after {settings.portal.link_days} days")
    if refuse and not settings.portal_url.startswith("https://"):
        out.print(
            f"[yellow]warn[/]  PPFLOW_PORTAL_URL is {settings.portal_url}; respondents "
            "should reach the portal over https",
            highlight=False,
        )
    else:
        out.print(f"[green]ok[/]    links point to {settings.portal_url}", highlight=False)
    try:
        found = current_app().questionnaires().all()
        names = ", ".join(f"{q.name} v{q.version}" for q in found)
        out.print(f"[green]ok[/]    questionnaires: {names}", highlight=False)
    except QuestionnaireError as error:
        ok = False
        err.print(f"[bold red]refused[/] {error}", highlight=False)
    return ok


# -------------------------------------------------------------------------- portal


def portal(
    host: Annotated[str | None, typer.Option(help="Default: PPFLOW_PORTAL__HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: PPFLOW_PORTAL__PORT.")] = None,
) -> None:
    """Serve the survey and withdrawal pages (after the same checks as `ppflow check`)."""
    import uvicorn

    application = current_app()
    application.read_secrets()
    if not run_checks(application):
        raise typer.Exit(1)
    settings = application.settings.portal
    config = uvicorn.Config(
        application.portal(),
        host=host or settings.host,
        port=port or settings.port,
        access_log=False,  # request paths are personal links
        log_level="info",
        loop="asyncio",  # the loop whose error handler is set below
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        asyncio.get_running_loop().set_exception_handler(AcceptErrors())
        await server.serve()

    asyncio.run(serve())


class AcceptErrors:
    """The event loop's handler of errors no task catches. When the process has no file
    descriptor left, asyncio reports each refused accept with a traceback, many times a
    second under a flood of connections (megabytes of log a minute). Those become one line
    a minute saying how many there were, and the retries still pending when the server
    stops are dropped; every other error is reported as asyncio does.
    What keeps slow clients from exhausting the portal is the reverse proxy of the
    production recipe (the README's "Serving the portal")."""

    EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self.refused = 0
        self.reported_at: float | None = None

    def __call__(self, loop, context: dict) -> None:
        retried = getattr(getattr(context.get("handle"), "_callback", None), "__name__", "")
        if retried == "_start_serving" and isinstance(context.get("exception"), ValueError):
            return  # a refused accept retried after the server closed its socket (a stop)
        if not str(context.get("message", "")).startswith("socket.accept() out of system"):
            loop.default_exception_handler(context)
            return
        self.refused += 1
        now = time.monotonic()
        if self.reported_at is None or now - self.reported_at >= self.EVERY_SECONDS:
            logging.getLogger("uvicorn.error").warning(
                "refusing connections: %s (%d time(s) since the last report)",
                context.get("exception"),
                self.refused,
            )
            self.refused, self.reported_at = 0, now


# ------------------------------------------------------------------------ feedback


def print_recorded(recorded) -> None:
    themes = ", ".join(f"{k} {v}" for k, v in recorded.scores.by_theme.items())
    if recorded.opened_round is not None:
        out.print(
            f"opened round {recorded.opened_round} of {recorded.engagement}, which was due",
            highlight=False,
        )
    out.print(
        f"recorded {recorded.respondent} on {recorded.engagement}: "
        f"{recorded.questionnaire} v{recorded.version}, score {recorded.scores.overall}"
        + (f" ({themes})" if themes else "")
        + (
            f"; partial: {recorded.missing} of {recorded.items} agreement items missing"
            if recorded.missing
            else ""
        ),
        highlight=False,
    )


@feedback_app.command("record")
def feedback_record(
    engagement: Annotated[str, typer.Argument(help="Engagement code, EN-...")],
    respondent: Annotated[str, typer.Argument(help="Advisor or staff code")],
    answer: Annotated[
        list[str],
        typer.Option("--answer", "-a", help="item_id=value (1-5, or text); repeat"),
    ],
    round: Annotated[int | None, typer.Option(help="Default: the latest round.")] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Accept a form with agreement items left blank.")
    ] = False,
) -> None:
    """Enter one response collected on paper or by phone. With no round open for the
    respondent, the round due for the engagement is opened first."""
    from ppflow.services.portal import record_response

    answers = {}
    for pair in answer:
        item, sep, value = pair.partition("=")
        if not sep or not item.strip():
            fail(f"--answer {pair!r}: write it item_id=value")
        answers[item.strip()] = value
    recorded = record_response(
        current_app().uow(),
        current_app().questionnaires(),
        engagement,
        respondent,
        answers,
        current_app().clock,
        round,
        partial,
    )
    print_recorded(recorded)


@feedback_app.command(
    "import",
    help=(
        "Import responses from CSV: columns engagement, respondent, optionally round, then "
        f"one column per item id. Accepted: {ACCEPTED}.\n\nEvery row is checked first; if "
        "one is bad nothing is imported (unless --skip-invalid). A row with no round open "
        "for its respondent opens the round due; a row with agreement items left blank is "
        "bad unless --partial."
    ),
)
def feedback_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, report the bad.")
    ] = False,
    partial: Annotated[
        bool, typer.Option("--partial", help="Accept rows with agreement items left blank.")
    ] = False,
) -> None:
    from ppflow.services.portal import import_responses, read_responses_csv

    with about(file.name):
        rows = read_responses_csv(file.read_bytes())
        out.print(f"{file.name}: {rows.described}", highlight=False, markup=False)
        report = import_responses(
            current_app().uow(),
            current_app().questionnaires(),
            rows,
            current_app().clock,
            skip_invalid,
            partial,
        )
    for line, message in report.errors:
        err.print(f"{file.name}:{line}: {message}", highlight=False, markup=False)
    if report.errors and not skip_invalid:
        fail(
            f"{len(report.errors)} bad row(s); nothing was imported "
            "(fix them, or use --skip-invalid)"
        )
    partial_rows = [r for r in report.imported if r.missing]
    opened = sorted(
        {
            f"{r.engagement} round {r.opened_round}"
            for r in report.imported
            if r.opened_round is not None
        }
    )
    out.print(
        f"imported {len(report.imported)} response(s) from {file.name}"
        + (f"; skipped {report.skipped} bad row(s)" if report.skipped else "")
        + (
            f"; {len(partial_rows)} partial ({sum(r.missing for r in partial_rows)} "
            "agreement items missing in all)"
            if partial_rows
            else ""
        )
        + (f"; opened {', '.join(opened)}" if opened else ""),
        highlight=False,
    )


# ------------------------------------------------------------------ questionnaires


@questionnaire_app.command("list")
def questionnaire_list() -> None:
    """Every questionnaire version available, shipped or added."""
    from ppflow.services.questionnaires import QuestionnaireError, load_file

    table = Table()
    table.add_column("name", no_wrap=True)  # a name is typed as it is shown
    for column in ("version", "items", "locked", "file"):
        table.add_column(column)
    for path in current_app().questionnaires().files():
        try:
            q = load_file(path)
        except QuestionnaireError as error:
            table.add_row(path.name, "-", "-", "-", Text(str(error), "red"))
            continue
        table.add_row(q.name, str(q.version), str(len(q.items)), str(q.locked), str(path))
    out.print(table)


def _says_locked(path: Path) -> bool:
    """Whether a file is a YAML mapping with ``locked: true``; False for anything else
    (a text that is not YAML, a list, a binary file), which load_file then describes."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(document, dict) and document.get("locked") is True


@questionnaire_app.command("add")
def questionnaire_add(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Add a questionnaire version (e.g. a licensed instrument with `locked: true` and
    its `licence:` text). A locked file is sealed with its content hash, so any later
    edit of its items is refused."""
    import yaml

    from ppflow.services.questionnaires import QuestionnaireError, load_file, seal

    target_dir = Path(current_app().settings.data_dir) / "questionnaires"
    target = target_dir / file.name
    if target.exists() or file.name in {p.name for p in current_app().questionnaires().files()}:
        fail(f"{file.name} exists already; a new wording is a new version (.vN+1.yaml)")
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    try:
        if _says_locked(target):
            seal(target)
        questionnaire = load_file(target)  # says what is wrong with any other file
    except (QuestionnaireError, yaml.YAMLError) as error:
        # A file that is not a questionnaire is not kept.
        target.unlink(missing_ok=True)
        fail(str(error))
    note = " (locked; licence stored, content sealed)" if questionnaire.locked else ""
    out.print(
        f"added {questionnaire.name} v{questionnaire.version}{note} to {target}",
        highlight=False,
    )
