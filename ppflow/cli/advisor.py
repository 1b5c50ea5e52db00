"""``ppflow advisor``: referrals, the pool, one advisor's file, and their rights
(withdrawal, export, erasure)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ppflow.cli.context import (
    CorrectionReason,
    actor,
    current_app,
    err,
    meta,
    out,
    piped,
    say,
    split_values,
    stage_label,
    styled,
    when,
    write_rows,
)
from ppflow.cli.errors import CommandGroup, about, fail, show_bad_rows
from ppflow.cli.typed import read_choice
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.services import queries
from ppflow.services.csv_files import ACCEPTED, CsvFormatError
from ppflow.services.ports import AdvisorFilter

advisor_app = CommandGroup(help="Potential and active patient advisors.")


def advisor_service():
    """The advisors' use cases, imported when a command uses them (the pool's list and
    the search do not)."""
    from ppflow.services import advisors

    return advisors


@advisor_app.command("add")
def add(
    first_name: Annotated[str, typer.Option(help="Given name.")],
    last_name: Annotated[str, typer.Option(help="Family name.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    referred_by: Annotated[str, typer.Option(help="Referrer: staff code or e-mail.")],
    language: Annotated[str, typer.Option(help="Preferred language: fr or en.")] = "fr",
    phone: Annotated[str, typer.Option(help="Phone number.")] = "",
    speaks: Annotated[list[str] | None, typer.Option(help="Spoken languages.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Lived-experience areas.")] = None,
    skill: Annotated[list[str] | None, typer.Option(help="Skills.")] = None,
    availability: Annotated[int, typer.Option(help="Hours a month offered.")] = 0,
    program: Annotated[str | None, typer.Option(help="Program code.")] = None,
    context: Annotated[str, typer.Option(help="Why they were referred (kept private).")] = "",
    request_id: Annotated[str | None, typer.Option(help="Idempotence key.")] = None,
) -> None:
    """Register one referral: the person enters the pool as 'identified'."""
    from ppflow.domain.commands import RegisterReferral

    cmd = RegisterReferral(
        first_name,
        last_name,
        email,
        referred_by,
        phone,
        language,
        split_values(speaks),
        split_values(tag),
        split_values(skill),
        availability,
        program,
        context,
        "cli",
        meta(request_id=request_id),
    )
    application = current_app()
    change = advisor_service().register_referral(application.uow(), cmd, application.clock)
    note = " (already registered with this request id)" if change.replayed else ""
    out.print(
        styled(
            "registered [bold]{code}[/] as {stage}{note}",
            code=change.code,
            stage=change.to_state,
            note=note,
        )
    )


IMPORT_HELP = (
    "Import referrals from a CSV file.\n\n"
    "Columns: first_name, last_name, email, language, referred_by, and optionally phone, "
    f"languages, tags, skills, availability_hours, program, context. Accepted: {ACCEPTED}."
    "\n\nEvery row is checked first, reading only, and every problem of a row is shown at "
    "the line where it starts; if any row is bad nothing is imported, unless --skip-invalid "
    "is given. The good rows then go in at once, in one short transaction."
)


@advisor_app.command("import", help=IMPORT_HELP)
def import_csv(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows anyway.")] = False,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ppflow.services.referral_import import import_referrals

    data = path.read_bytes()
    application = current_app()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        checking = progress.add_task("checking", total=None)
        writing = progress.add_task("importing", total=None, visible=False)

        def checked(done: int, total: int) -> None:
            progress.update(checking, completed=done, total=total)

        def advance(done: int, total: int) -> None:
            progress.update(writing, completed=done, total=total, visible=True)

        with about(path.name, (CsvFormatError,)):
            report = import_referrals(
                application.uow(),
                data,
                meta(),
                skip_invalid=skip_invalid,
                clock=application.clock,
                progress=advance,
                checked=checked,
            )
    out.print(f"{path.name}: {report.described}", highlight=False, markup=False)
    if report.problems:
        show_bad_rows(report.problems, path.name)
    if report.problems and not skip_invalid:
        fail(
            f"nothing imported: fix the rows above, or use --skip-invalid "
            f"to import the {report.rows - len(report.bad_lines)} good row(s)"
        )
    out.print(f"imported {len(report.imported)} referral(s) of {report.rows} row(s)")


# Choice options are enums, so that Typer refuses an unknown value with the valid ones.
# Spoken lists LANGUAGES, in their order (tests/integration/test_cli_find_and_engagements.py).
class Spoken(StrEnum):
    fr = "fr"
    en = "en"


PAGE = 100  # the advisors `advisor list` shows unless given --limit or --all


@advisor_app.command("list")
def list_advisors(
    stage: Annotated[
        str | None,
        typer.Option(
            help=f"Only this stage (its code or its name). One of: {', '.join(AdvisorStage)}.",
            callback=read_choice("advisor"),
        ),
    ] = None,
    language: Annotated[Spoken | None, typer.Option(help="Speaks this language.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Has every one of these tags.")] = None,
    skill: Annotated[list[str] | None, typer.Option(help="Has every one of these skills.")] = None,
    available_hours: Annotated[
        int | None, typer.Option(min=0, help="Offers at least this many hours a month.")
    ] = None,
    max_load: Annotated[
        int | None, typer.Option(min=0, help="Has at most this many active engagements.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help=f"Show at most this many (default {PAGE}).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Show every advisor that matches.")] = False,
) -> None:
    """The pool: advisors by stage, language, lived-experience tags, skills, availability
    and load, in registration order, the first 100 unless told otherwise (--limit, --all).

    On a terminal, a table; written to a file or another program, plain rows, one an
    advisor, with tab-separated fields: code, stage, languages, lived experience, skills
    (each list comma-separated), hours a month, active engagements."""
    if every and limit is not None:
        fail("give --limit or --all, not both", code=2)
    criteria = AdvisorFilter(
        stage,
        language and language.value,
        tuple(t.lower() for t in split_values(tag)),
        None if every else limit or PAGE,
        skills=tuple(s.lower() for s in split_values(skill)),
        available_hours=available_hours,
        max_load=max_load,
    )
    page = queries.pool_page(current_app().uow(), criteria)
    if not page.entries:
        out.print("no advisor matches", highlight=False)
        return
    if piped():
        write_rows(pool_rows(page.entries))
    else:
        out.print(pool_table(page.entries, page.total))
    if page.more:  # on the standard error when piped, so that the rows stay rows
        (err if piped() else out).print(
            f"{page.more:,} more match: use --limit N to see more, or --all", highlight=False
        )


def pool_rows(entries):
    """The plain rows of :func:`list_advisors`."""
    for entry in entries:
        a = entry.advisor
        yield (
            a.code,
            a.stage,
            ",".join(a.languages),
            ",".join(a.tags),
            ",".join(a.skills),
            a.availability_hours,
            entry.active_engagements,
        )


@advisor_app.command("find")
def find(
    text: Annotated[str, typer.Argument(help="Words of a first name, last name or e-mail.")],
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = queries.FIND_LIMIT,
) -> None:
    """Find advisors by name or e-mail, whatever the case and accents. The names and
    addresses are printed here only, never sent to Prefect; erased people are not found."""
    found = queries.find_advisors(current_app().uow(), text, limit)
    if not found:
        out.print("no advisor matches", highlight=False)
        return
    table = Table("code", "stage", "name", "e-mail", title=f"Found ({len(found)})")
    for m in found:
        table.add_row(m.code, m.stage, f"{m.first_name} {m.last_name}", m.email)
    out.print(table)
    if len(found) == limit:
        out.print(f"showing the first {limit}; add words to narrow the search", highlight=False)


def pool_table(entries, total: int | None = None) -> Table:
    # lived experience and skills share a column, their items separated by ", " so that
    # they wrap between items on an 80-column page
    shown = len(entries)
    count = f"{shown:,}" if total in (None, shown) else f"{shown:,} of {total:,}"
    table = Table(
        "code",
        "stage",
        "speaks",
        "lived experience; skills",
        "h/month",
        "load",
        title=f"Advisor pool ({count})",
    )
    for entry in entries:
        a = entry.advisor
        table.add_row(
            a.code,
            a.stage,
            ",".join(a.languages),
            "; ".join(part for part in (", ".join(a.tags), ", ".join(a.skills)) if part),
            str(a.availability_hours),
            str(entry.active_engagements),
        )
    return table


@advisor_app.command("show")
def show(
    code: str,
    contact: Annotated[bool, typer.Option(help="Also show personal contact data.")] = False,
) -> None:
    """Show one advisor: stage, consents, training and engagements."""
    detail = queries.get_advisor(current_app().uow(), code, with_contact=contact)
    a = detail.advisor
    held = f" (held from {a.held_from})" if a.held_from else ""
    out.print(styled("[bold]{code}[/] — {stage}{held}", code=a.code, stage=a.stage, held=held))
    out.print(
        f"program: {a.program or '-'}   languages: {','.join(a.languages)}   "
        f"tags: {','.join(a.tags) or '-'}   referred by: {detail.referrer or '-'}"
    )
    if detail.contact:
        c = detail.contact
        out.print(f"contact: {c.first_name} {c.last_name} <{c.email}> {c.phone} [{c.language}]")
    consents = Table("purpose", "wording", "given", "expires", "withdrawn", title="Consents")
    for g in detail.consents:
        consents.add_row(
            g.purpose, g.wording_version, when(g.given_at), when(g.expires_at), when(g.withdrawn_at)
        )
    out.print(consents)
    training = Table("module", "enrolled", "completed", title="Training")
    for r in detail.training:
        training.add_row(r.module, when(r.enrolled_at), when(r.completed_at))
    out.print(training)
    engagements = Table("engagement", "team", "stage", "role", "start", title="Engagements")
    for e in detail.engagements:
        engagements.add_row(e.code, e.team, e.stage, e.role, str(e.start_date or "-"))
    out.print(engagements)


@advisor_app.command("withdraw")
def withdraw(
    code: str,
    reason: Annotated[str, typer.Option(help="What the person said (kept in the log).")] = "",
) -> None:
    """The advisor withdraws consent: open engagements end, unsent mail is cancelled, the
    coordinators are told, and the runs waiting on them end (at once when PREFECT_API_URL
    answers; otherwise at the next dispatch-notifications run)."""
    application = current_app()
    change = advisor_service().withdraw_advisor(
        application.uow(), code, meta(reason=reason or "withdrew consent"), application.clock
    )
    out.print(f"{code}: {change.from_state} -> {change.to_state}")
    end_waiting_runs(code)


ReasonOption = Annotated[str, typer.Option(help="Why (kept in the log, erased with the person).")]


@advisor_app.command("edit")
def edit(
    code: str,
    first_name: Annotated[str | None, typer.Option(help="First name.")] = None,
    last_name: Annotated[str | None, typer.Option(help="Last name.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    language: Annotated[str | None, typer.Option(help="Language for e-mail: fr or en.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Lived experience (repeatable).")] = None,
    skill: Annotated[list[str] | None, typer.Option(help="Skill (repeatable).")] = None,
    availability: Annotated[int | None, typer.Option(help="Hours a month offered.")] = None,
    reason: CorrectionReason = "",
) -> None:
    """Correct an advisor's contact (the contacts table only) or profile; the correction
    is logged with who made it, why and which fields (never the values)."""
    from ppflow.domain.commands import EditAdvisor
    from ppflow.services import corrections

    cmd = EditAdvisor(
        code,
        first_name,
        last_name,
        email,
        phone,
        language,
        tuple(split_values(tag)) if tag is not None else None,
        tuple(split_values(skill)) if skill is not None else None,
        availability,
        meta(reason=reason),
    )
    changed = corrections.edit_advisor(current_app().uow(), cmd, current_app().clock)
    out.print(f"corrected {cmd.advisor}: {', '.join(changed)}")


@advisor_app.command("hold")
def hold(code: str, reason: ReasonOption) -> None:
    """Put an advisor on hold (illness, a move, a pause they asked for); `resume` takes
    them back to the stage they were at."""
    application = current_app()
    change = advisor_service().put_on_hold(
        application.uow(), code, meta(reason=reason), application.clock
    )
    out.print(f"{code}: {change.from_state} -> {change.to_state}")


@advisor_app.command("resume")
def resume(code: str) -> None:
    """Take an advisor on hold back to the stage they held before."""
    application = current_app()
    change = advisor_service().resume(application.uow(), code, meta(), application.clock)
    out.print(f"{code}: {change.from_state} -> {change.to_state}")


@advisor_app.command("leave")
def leave(code: str, reason: ReasonOption) -> None:
    """The advisor leaves the program: their active engagements are completed, they are
    thanked, they become alumni, and the alumni retention period starts."""
    application = current_app()
    change = advisor_service().leave_program(
        application.uow(), code, meta(reason=reason), application.clock
    )
    out.print(f"{code}: {change.from_state} -> {change.to_state}")


@advisor_app.command("reopen")
def reopen(code: str, reason: ReasonOption) -> None:
    """Reopen a declined or not-retained advisor's file (referred again, or a decision
    to correct): back to identified, while their data is still held."""
    application = current_app()
    change = advisor_service().reopen_advisor(
        application.uow(), code, meta(reason=reason), application.clock
    )
    out.print(f"{code}: {change.from_state} -> {change.to_state}")


def end_waiting_runs(code: str) -> None:
    """Cancel the Prefect runs that wait on ``code``, when a Prefect server is configured
    and answers. Never starts one, and a server that does not answer is only a note: the
    withdrawal is recorded, and the dispatch-notifications sweep ends those runs later."""
    from ppflow.cli.orchestration import prefect_api_url

    if not prefect_api_url():
        return
    import httpx

    from ppflow_flows.runtime import end_waits_of_withdrawn

    try:
        ended = end_waits_of_withdrawn(code)
    except (httpx.HTTPError, OSError, RuntimeError):
        err.print(
            "note: the Prefect server did not answer; runs waiting on "
            f"{code} end at the next dispatch-notifications run",
            highlight=False,
        )
        return
    if ended:
        out.print(f"ended {len(ended)} flow run(s) waiting on {code}", highlight=False)


@advisor_app.command("export")
def export(
    code: str,
    to: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Everything ppflow holds about one advisor, as JSON (the right to portability)."""
    from ppflow.services.privacy import export_advisor

    application = current_app()
    data = export_advisor(application.uow(), code, application.clock)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if to is None:
        print(text)
    else:
        to.write_text(text + "\n", encoding="utf-8")
        out.print(f"wrote {to}")


@advisor_app.command("erase")
def erase(
    code: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Erase an advisor's personal data on request. The code, the stages and the
    aggregates stay, so the indicators stay right."""
    from ppflow.services.privacy import erase_advisor

    if not yes:
        fail(f"erasing {code}'s personal data cannot be undone; add --yes to confirm")
    application = current_app()
    cancelled = erase_advisor(application.uow(), code, application.clock, actor())
    out.print(f"erased the personal data of {code}; {cancelled} unsent e-mail(s) cancelled")


@advisor_app.command("history")
def history(
    code: str,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also the request id and flow run of each move.")
    ] = False,
) -> None:
    """The full, ordered transition log of one advisor: when, from which stage to which,
    by whom and why."""
    transitions = advisor_service().advisor_history(current_app().uow(), code)
    # On 80 columns: the date, both stages and the actor whole, on one line each; the
    # reason wraps under the actor. The number of a move is its row.
    table = Table(title=say("history.title", code=code))
    table.add_column(say("history.at"), no_wrap=True)
    table.add_column(say("history.from"), no_wrap=True)
    table.add_column(say("history.to"), no_wrap=True)
    table.add_column(say("history.by"), overflow="fold")
    for t in transitions:
        table.add_row(
            t.at.strftime("%Y-%m-%d %H:%M"),
            stage_label("advisor", t.from_state),
            stage_label("advisor", t.to_state),
            t.actor + (f"\n{t.reason}" if t.reason else ""),
        )
    out.print(table)
    if verbose:  # one line a move: identifiers are copied whole, never wrapped
        out.print(say("history.identifiers"), highlight=False)
        for t in transitions:
            out.print(
                f"{t.at:%Y-%m-%d %H:%M} {stage_label('advisor', t.to_state)}  "
                f"{say('history.request_id')}: {t.request_id or '-'}  "
                f"{say('history.flow_run')}: {t.flow_run_id or '-'}",
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
