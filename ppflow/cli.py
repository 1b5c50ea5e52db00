"""The ``ppflow`` command line: Typer commands over the service layer."""

from __future__ import annotations

import getpass
import json
import os
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from ppflow import cli_compensation, cli_mail, cli_portal, cli_report
from ppflow.bootstrap import App, bootstrap
from ppflow.domain.commands import AddProgram, AddStaff, AddTeam, Meta, RegisterReferral, TargetSpec
from ppflow.domain.errors import PPFlowError
from ppflow.domain.model import ParticipationRules, StaffRole
from ppflow.services import advisors as advisor_service
from ppflow.services import organization, queries
from ppflow.services.ports import AdvisorFilter
from ppflow.services.referral_import import CsvFormatError, import_referrals

app = typer.Typer(
    help="ppflow: bring patient advisors into quality-improvement teams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
advisor_app = typer.Typer(help="Potential and active patient advisors.", no_args_is_help=True)
team_app = typer.Typer(help="Quality-improvement teams.", no_args_is_help=True)
staff_app = typer.Typer(help="Coordinators, managers and providers.", no_args_is_help=True)
program_app = typer.Typer(
    help="The partnership program, its owners and targets.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(advisor_app, name="advisor")
app.add_typer(team_app, name="team")
app.add_typer(staff_app, name="staff")
app.add_typer(program_app, name="program")
incident_app = typer.Typer(
    help="The register of confidentiality incidents (kept 5 years).", no_args_is_help=True
)
app.add_typer(incident_app, name="incident")
engagement_app = typer.Typer(help="Advisors placed in QI teams.", no_args_is_help=True)
app.add_typer(engagement_app, name="engagement")
answer_app = typer.Typer(
    help="Answer a question a flow waits on (same as the form in the Prefect UI).",
    no_args_is_help=True,
)
app.add_typer(answer_app, name="answer")

# Piped output (files, CI logs) gets a wide page instead of Rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@cache
def get_app() -> App:
    return bootstrap()


def actor() -> str:
    configured = get_app().settings.actor
    return configured or f"cli:{getpass.getuser()}"


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def run(call, *args, **kwargs):
    """Call a service and turn ppflow's own errors into a clear message and exit code 1."""
    try:
        return call(*args, **kwargs)
    except PPFlowError as error:
        fail(str(error))


def _csv(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or []:
        out += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(out)


# ----------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads", help="Target revision.")) -> None:
    """Create or migrate the schema up to REVISION."""
    application = get_app()
    application.upgrade(revision)
    from ppflow.adapters import db

    console.print(f"database at revision [bold]{db.current_revision(application.engine)}[/]")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Migrate the schema down to REVISION ('base' drops every table)."""
    from ppflow.adapters import db

    application = get_app()
    db.downgrade(application.engine, revision)
    console.print(f"database at revision [bold]{db.current_revision(application.engine)}[/]")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision and where the database is."""
    from ppflow.adapters import db

    application = get_app()
    console.print(f"{application.engine.url.render_as_string(hide_password=True)}")
    console.print(f"revision: {db.current_revision(application.engine) or 'empty'}")


# -------------------------------------------------------------------------- staff


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="Work e-mail.")],
    role: Annotated[StaffRole, typer.Option(help="Role in the program.")],
    department: Annotated[str, typer.Option(help="Department.")] = "",
) -> None:
    """Add a coordinator, manager or provider."""
    member = run(
        organization.add_staff, get_app().uow(), AddStaff(name, email, role.value, department)
    )
    console.print(f"added staff member [bold]{member.code}[/] ({member.role})")


@staff_app.command("list")
def staff_list(role: Annotated[StaffRole | None, typer.Option(help="Only this role.")] = None):
    """List staff members."""
    members = run(queries.list_staff, get_app().uow(), role.value if role else None)
    table = Table("code", "name", "e-mail", "role", "department", title="Staff")
    for m in members:
        table.add_row(m.code, m.name, m.email, str(m.role), m.department)
    console.print(table)


# ------------------------------------------------------------------------ program


def _target(text: str) -> TargetSpec:
    try:
        indicator, rest = text.split("=", 1)
        value, period = rest.split(":", 1)
        return TargetSpec(indicator.strip(), float(value), period.strip())
    except ValueError:
        raise typer.BadParameter(
            f"'{text}': write a target as indicator=value:period, e.g. teams_with_advisors=10:2027"
        ) from None


@program_app.command("add")
def program_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. PP-CHUM.")],
    name: Annotated[str, typer.Option(help="Program name.")],
    department: Annotated[str, typer.Option(help="Department that owns the program.")],
    manager: Annotated[
        list[str] | None, typer.Option(help="Responsible manager (staff code).")
    ] = None,
    target: Annotated[list[str] | None, typer.Option(help="indicator=value:period")] = None,
) -> None:
    """Record the program, the department in charge and its responsible managers."""
    targets = tuple(_target(t) for t in target or [])
    program = run(
        organization.add_program,
        get_app().uow(),
        AddProgram(code, name, department, _csv(manager), targets),
    )
    console.print(f"added program [bold]{program.code}[/]")


@program_app.command("show")
def program_show(code: str) -> None:
    """Show a program with its managers and targets."""
    program = run(queries.get_program, get_app().uow(), code)
    console.print(f"[bold]{program.code}[/] {program.name}")
    console.print(f"owner department: {program.owner_department}")
    console.print(f"responsible managers: {', '.join(program.responsible_managers) or '-'}")
    table = Table("indicator", "target", "period", "version", title="Targets")
    for t in program.targets:
        table.add_row(t.indicator, f"{t.target:g}", t.period, str(t.version))
    console.print(table)


# --------------------------------------------------------------------------- team


@team_app.command("add")
def team_add(
    name: Annotated[str, typer.Option(help="Team name.")],
    lead: Annotated[str | None, typer.Option(help="Front-line manager (staff code).")] = None,
    program: Annotated[str | None, typer.Option(help="Program code.")] = None,
    seats: Annotated[int, typer.Option(help="Advisor seats.")] = 2,
    min_advisors: Annotated[int, typer.Option(help="Rule: fewest advisors on the team.")] = 2,
    language: Annotated[list[str] | None, typer.Option(help="Working language(s).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Focus areas.")] = None,
    meeting_times: Annotated[str, typer.Option(help="Rule: when meetings are held.")] = "",
    meeting_format: Annotated[str, typer.Option(help="Rule: in person, video...")] = "",
) -> None:
    """Add a QI team with its participation rules."""
    rules = ParticipationRules(min_advisors, True, meeting_times, meeting_format)
    cmd = AddTeam(name, program, lead, seats, rules, _csv(language), _csv(tag), Meta(actor=actor()))
    team = run(organization.add_team, get_app().uow(), cmd, get_app().clock)
    console.print(f"added QI team [bold]{team.code}[/] ({team.stage})")


@team_app.command("list")
def team_list(stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None):
    """List QI teams."""
    console.print(teams_table(run(queries.list_teams, get_app().uow(), stage)))


def teams_table(teams) -> Table:
    table = Table(
        "code", "name", "stage", "lead", "seats", "advisors", "languages", "focus", title="QI teams"
    )
    for summary in teams:
        t = summary.team
        table.add_row(
            t.code,
            t.name,
            t.stage,
            t.lead or "-",
            str(t.advisor_seats),
            str(summary.active_advisors),
            ",".join(t.languages),
            ",".join(t.focus_tags),
        )
    return table


@team_app.command("show")
def team_show(code: str) -> None:
    """Show a QI team, its rules and its engagements."""
    summary = run(queries.get_team, get_app().uow(), code)
    t = summary.team
    console.print(f"[bold]{t.code}[/] {t.name} — {t.stage}")
    console.print(f"program: {t.program or '-'}   lead: {t.lead or '-'}   seats: {t.advisor_seats}")
    r = t.rules
    console.print(
        f"rules: at least {r.min_advisors} advisors; advisor joins before objectives: "
        f"{'yes' if r.advisor_joins_before_objectives else 'no'}; "
        f"meetings: {r.meeting_times or '-'} ({r.meeting_format or '-'})"
    )
    table = Table("engagement", "advisor", "stage", "role", "start", title="Engagements")
    for e in summary.engagements:
        table.add_row(e.code, e.advisor, e.stage, e.role, str(e.start_date or "-"))
    console.print(table)


@team_app.command("objectives")
def team_objectives(code: str) -> None:
    """Record that the team set its QI objectives today, and show which advisors took part."""
    from ppflow.services import integration

    present = run(
        integration.record_objectives, get_app().uow(), code, Meta(actor=actor()), get_app().clock
    )
    console.print(
        f"objectives of {code} recorded; advisors on the team: "
        f"{', '.join(present) if present else 'none (a tokenism risk)'}"
    )


@engagement_app.command("end")
def engagement_end(
    code: str,
    early: Annotated[bool, typer.Option(help="Ended before its term.")] = False,
    reason: Annotated[str, typer.Option(help="Why (required when early).")] = "",
) -> None:
    """Complete an engagement (or end it early); the advisor is thanked and is ready again."""
    from ppflow.services import integration

    change = run(
        integration.end_engagement,
        get_app().uow(),
        code,
        Meta(actor=actor(), reason=reason or None),
        early,
        get_app().clock,
    )
    console.print(f"engagement {code}: {change.from_state} -> {change.to_state}")


@incident_app.command("add")
def incident_add(
    occurred: Annotated[str, typer.Option(help="Date, YYYY-MM-DD.")],
    circumstances: Annotated[str, typer.Option(help="What happened.")],
    data: Annotated[str, typer.Option(help="What personal data was concerned.")],
    people: Annotated[int, typer.Option(help="How many people are affected.")],
    severity: Annotated[str, typer.Option(help="low, moderate or serious.")],
    measures: Annotated[str, typer.Option(help="Measures taken.")],
) -> None:
    """Record a confidentiality incident."""
    from datetime import date as date_type

    from ppflow.services.privacy import RecordIncident, record_incident

    try:
        occurred_on = date_type.fromisoformat(occurred)
    except ValueError:
        fail(f"'{occurred}' is not a date; write YYYY-MM-DD")
    number = run(
        record_incident,
        get_app().privacy(),
        RecordIncident(occurred_on, circumstances, data, people, severity, measures, actor()),
        get_app().clock,
    )
    console.print(f"recorded incident {number}")


@incident_app.command("list")
def incident_list() -> None:
    """The register of confidentiality incidents."""
    table = Table(
        "#",
        "occurred",
        "severity",
        "people",
        "data concerned",
        "circumstances",
        "measures",
        "recorded by",
        "kept until",
        title="Confidentiality incidents",
    )
    for i in get_app().privacy().incidents():
        table.add_row(
            str(i["id"]),
            i["occurred_on"],
            i["severity"],
            str(i["people_affected"]),
            i["data_concerned"],
            i["circumstances"],
            i["measures"],
            i["recorded_by"],
            i["keep_until"],
        )
    console.print(table)


# ------------------------------------------------------------------------ advisor


@advisor_app.command("add")
def advisor_add(
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
    cmd = RegisterReferral(
        first_name,
        last_name,
        email,
        referred_by,
        phone,
        language,
        _csv(speaks),
        _csv(tag),
        _csv(skill),
        availability,
        program,
        context,
        "cli",
        Meta(actor=actor(), request_id=request_id),
    )
    change = run(advisor_service.register_referral, get_app().uow(), cmd, get_app().clock)
    note = " (already registered with this request id)" if change.replayed else ""
    console.print(f"registered [bold]{change.code}[/] as {change.to_state}{note}")


@advisor_app.command("import")
def advisor_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="UTF-8 CSV file.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import the good rows anyway.")] = False,
) -> None:
    """Import referrals from a CSV file with a header. Every row is checked first; if any
    row is bad nothing is imported, unless --skip-invalid is given."""
    data = path.read_bytes()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("importing", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = run(
                import_referrals,
                get_app().uow(),
                data,
                Meta(actor=actor()),
                skip_invalid=skip_invalid,
                clock=get_app().clock,
                progress=advance,
            )
        except CsvFormatError as error:
            fail(f"{path.name}: {error}")
    if report.problems:
        table = Table("line", "problem", title=f"{len(report.problems)} bad row(s) in {path.name}")
        for problem in report.problems:
            table.add_row(str(problem.line), problem.reason)
        errors.print(table)
    if report.problems and not skip_invalid:
        fail(
            f"nothing imported: fix the rows above, or use --skip-invalid "
            f"to import the {report.rows - len(report.bad_lines)} good row(s)"
        )
    console.print(f"imported {len(report.imported)} referral(s) of {report.rows} row(s)")


@advisor_app.command("list")
def advisor_list(
    stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None,
    language: Annotated[str | None, typer.Option(help="Speaks this language.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Has every one of these tags.")] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = None,
) -> None:
    """The pool: advisors by stage, language and lived-experience tags."""
    criteria = AdvisorFilter(stage, language, tuple(t.lower() for t in _csv(tag)), limit)
    console.print(pool_table(run(queries.list_advisors, get_app().uow(), criteria)))


def pool_table(entries) -> Table:
    table = Table(
        "code",
        "stage",
        "languages",
        "tags",
        "skills",
        "h/month",
        "load",
        title=f"Advisor pool ({len(entries)})",
    )
    for entry in entries:
        a = entry.advisor
        table.add_row(
            a.code,
            a.stage,
            ",".join(a.languages),
            ",".join(a.tags),
            ",".join(a.skills),
            str(a.availability_hours),
            str(entry.active_engagements),
        )
    return table


@advisor_app.command("show")
def advisor_show(
    code: str,
    contact: Annotated[bool, typer.Option(help="Also show personal contact data.")] = False,
) -> None:
    """Show one advisor: stage, consents, training and engagements."""
    detail = run(queries.get_advisor, get_app().uow(), code, with_contact=contact)
    a = detail.advisor
    console.print(
        f"[bold]{a.code}[/] — {a.stage}" + (f" (held from {a.held_from})" if a.held_from else "")
    )
    console.print(
        f"program: {a.program or '-'}   languages: {','.join(a.languages)}   "
        f"tags: {','.join(a.tags) or '-'}   referred by: {detail.referrer or '-'}"
    )
    if detail.contact:
        c = detail.contact
        console.print(f"contact: {c.first_name} {c.last_name} <{c.email}> {c.phone} [{c.language}]")
    consents = Table("purpose", "wording", "given", "expires", "withdrawn", title="Consents")
    for c in detail.consents:
        consents.add_row(
            c.purpose,
            c.wording_version,
            _when(c.given_at),
            _when(c.expires_at),
            _when(c.withdrawn_at),
        )
    console.print(consents)
    training = Table("module", "enrolled", "completed", title="Training")
    for r in detail.training:
        training.add_row(r.module, _when(r.enrolled_at), _when(r.completed_at))
    console.print(training)
    engagements = Table("engagement", "team", "stage", "role", "start", title="Engagements")
    for e in detail.engagements:
        engagements.add_row(e.code, e.team, e.stage, e.role, str(e.start_date or "-"))
    console.print(engagements)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@advisor_app.command("withdraw")
def advisor_withdraw(
    code: str,
    reason: Annotated[str, typer.Option(help="What the person said (kept in the log).")] = "",
) -> None:
    """The advisor withdraws consent: open engagements end, unsent mail is cancelled, and
    the coordinators are told."""
    change = run(
        advisor_service.withdraw_advisor,
        get_app().uow(),
        code,
        Meta(actor=actor(), reason=reason or "withdrew consent"),
        get_app().clock,
    )
    console.print(f"{code}: {change.from_state} -> {change.to_state}")


@advisor_app.command("export")
def advisor_export(
    code: str,
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout).")] = None,
) -> None:
    """Everything ppflow holds about one advisor, as JSON (the right to portability)."""
    from ppflow.services.privacy import export_advisor

    data = run(export_advisor, get_app().privacy(), code, get_app().clock)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {out}")


@advisor_app.command("erase")
def advisor_erase(
    code: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Erase an advisor's personal data on request. The code, the stages and the
    aggregates stay, so the indicators stay right."""
    from ppflow.services.privacy import erase_advisor

    if not yes:
        fail(f"erasing {code}'s personal data cannot be undone; add --yes to confirm")
    cancelled = run(erase_advisor, get_app().privacy(), code, get_app().clock)
    console.print(f"erased the personal data of {code}; {cancelled} unsent e-mail(s) cancelled")


@advisor_app.command("history")
def advisor_history(code: str) -> None:
    """The full, ordered transition log of one advisor."""
    transitions = run(advisor_service.advisor_history, get_app().uow(), code)
    table = Table(
        "#",
        "at (UTC)",
        "from",
        "to",
        "actor",
        "reason",
        "request id",
        "flow run",
        title=f"History of {code}",
    )
    for number, t in enumerate(transitions, start=1):
        table.add_row(
            str(number),
            t.at.strftime("%Y-%m-%d %H:%M:%S"),
            t.from_state or "-",
            t.to_state,
            t.actor,
            t.reason or "",
            t.request_id or "",
            t.flow_run_id or "",
        )
    console.print(table)


# ------------------------------------------------------------------------- answer


def _answer(question: str, subject: str, values: dict) -> None:
    from ppflow_flows.answers import answer

    run_id = run(answer, question, subject, values, actor())
    console.print(f"answered the {question} question for {subject}; resumed flow run {run_id}")


class Outcome(StrEnum):
    retained = "retained"
    not_retained = "not_retained"
    declined = "declined"


@answer_app.command("screening")
def answer_screening(
    advisor: Annotated[str, typer.Argument(help="Advisor code.")],
    outcome: Annotated[Outcome, typer.Option(help="Decision after screening.")],
    reason: Annotated[str, typer.Option(help="Required when not retained.")] = "",
    wording: Annotated[str, typer.Option(help="Consent wording version.")] = "v1",
) -> None:
    """Give the screening outcome that recruit-advisor waits on."""
    _answer(
        "screening",
        advisor,
        {"outcome": outcome.value, "reason": reason, "consent_wording_version": wording},
    )


@answer_app.command("training")
def answer_training(
    advisor: Annotated[str, typer.Argument(help="Advisor code.")],
    module: Annotated[list[str], typer.Option(help="Completed module code (repeatable).")],
) -> None:
    """Report completed training modules to prepare-advisor."""
    _answer("training", advisor, {"modules": list(_csv(module))})


@answer_app.command("match")
def answer_match(
    team: Annotated[str, typer.Argument(help="QI team code.")],
    advisor: Annotated[str, typer.Option(help="Advisor to place.")] = "",
    reject: Annotated[bool, typer.Option(help="Turn every proposal down.")] = False,
    role: Annotated[str, typer.Option(help="Role in the team.")] = "member",
    rate: Annotated[
        float, typer.Option(help="Hourly rate in dollars; 0 pays by the program's rate tiers.")
    ] = 0,
) -> None:
    """Confirm (or turn down) the match that integrate-advisor proposed."""
    if not advisor and not reject:
        fail("name the --advisor to place, or --reject the proposals")
    values = {"decision": "turn_down"} if reject else {"decision": "place", "advisor": advisor}
    _answer("match", team, {**values, "role": role, "hourly_rate": rate})


# ------------------------------------------------------------------ deployments


@app.command("serve")
def serve_command(
    limit: Annotated[int | None, typer.Option(help="Most runs at once.")] = None,
) -> None:
    """Serve every deployment of deployments/prefect.yaml from this process, schedules
    included (single machine; a Prefect server must be reachable at PREFECT_API_URL)."""
    from ppflow_flows.serving import serve_all

    serve_all(get_app().settings.timezone, limit)


@app.command("run")
def run_command(
    stage: Annotated[str, typer.Argument(help="recruit, prepare, onboard, integrate, ...")],
    code: Annotated[str | None, typer.Argument(help="Advisor, team or engagement code.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("-p", help="Extra parameter key=value.")
    ] = None,
) -> None:
    """Trigger a deployment by its short name, e.g. `ppflow run recruit PA-7K3M9Q`."""
    from ppflow_flows.serving import SHORT_NAMES, trigger

    if stage not in SHORT_NAMES:
        fail(f"no deployment '{stage}'; choose one of {', '.join(SHORT_NAMES)}")
    extra = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"'{item}': write a parameter as key=value")
        extra[key] = value
    try:
        run_id, name = trigger(stage, code, extra)
    except ValueError as error:
        fail(str(error))
    console.print(f"started {name} (flow run {run_id})")


@app.command("lifecycle")
def lifecycle_diagram(
    name: Annotated[str, typer.Argument(help="advisor, engagement or team")] = "advisor",
) -> None:
    """Print a lifecycle as a Mermaid state diagram, generated from its transition table."""
    from ppflow.domain.lifecycle import LIFECYCLES

    if name not in LIFECYCLES:
        fail(f"no lifecycle '{name}'; choose one of {', '.join(LIFECYCLES)}")
    print(LIFECYCLES[name][0].mermaid())


# ----------------------------------------------------------------------- demo


@app.command("demo")
def demo(
    reset: Annotated[bool, typer.Option(help="Empty the database first.")] = False,
    seed_only: Annotated[bool, typer.Option(help="Seed without Prefect (quick look).")] = False,
) -> None:
    """The main job on the embedded defaults: seed a program, identify a cohort of
    referrals and onboard each advisor through the Prefect flows, with the coordinator's
    answers scripted; then send the e-mails to the local mail sink."""
    from ppflow.adapters import db
    from ppflow.services import demo as demo_service

    application = get_app()
    if reset:
        db.downgrade(application.engine, "base")
    application.upgrade()
    console.print(f"database: {application.engine.url.render_as_string(hide_password=True)}")
    if seed_only:
        seeded = run(demo_service.seed, application.uow(), application.clock)
        console.print(
            "seeded the demonstration program"
            if seeded
            else "demonstration program already there (use --reset to start again)"
        )
    else:
        _demo_with_flows(application)
    console.print(pool_table(queries.list_advisors(application.uow(), AdvisorFilter())))
    console.print(teams_table(queries.list_teams(application.uow(), None)))


def _demo_with_flows(application: App) -> None:
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
        console=errors,
        transient=True,
    ) as progress:
        task = progress.add_task("onboarding the cohort", total=None)
        try:
            result = run_demo(
                lambda done, total: progress.update(task, completed=done, total=total)
            )
        except DemoAlreadyRunError:
            console.print(
                "the demonstration has already run on this database; "
                "[bold]ppflow demo --reset[/] runs it again from scratch"
            )
            return
    stages = Table("stage", "advisors", title="Advisors at each stage")
    for stage, count in sorted(result.stages.items(), key=lambda item: -item[1]):
        stages.add_row(stage, str(count))
    console.print(stages)
    if result.server_seconds > 1:
        console.print(f"Prefect's local server started in {result.server_seconds:.0f} s")
    console.print(
        f"onboarded a cohort of {len(result.advisors)} in {result.onboarding_seconds:.1f} s; "
        f"{result.sent} e-mail(s) delivered to the mail sink at {result.maildir}"
    )
    console.print("read them: [bold]ppflow mail list[/] and [bold]ppflow mail show N[/]")
    console.print(f"see the runs, events and artifacts: {_ui_address(result.api_url)}")


def _ui_address(api_url: str) -> str:
    """Where a person can look at the demo's runs. With PREFECT_API_URL set, its server's
    UI; otherwise the runs are in Prefect's local database, which a server started later
    shows."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    if PREFECT_API_URL.value():
        return api_url.removesuffix("/").removesuffix("/api") + "/runs"
    return (
        f"they are in Prefect's database under {PREFECT_HOME.value()}; "
        "[bold]prefect server start[/] (or [bold]make serve[/]), then open "
        "http://127.0.0.1:4200/runs"
    )


cli_mail.register(app, get_app)
cli_portal.register(app, get_app)
cli_compensation.register(app, get_app)
cli_report.register(app, get_app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m ppflow.cli`
    main()
