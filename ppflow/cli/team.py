"""``ppflow team`` and ``ppflow engagement``: QI teams, their rules, and the advisors
placed in them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ppflow.cli.context import (
    Absent,
    CorrectionReason,
    Present,
    current_app,
    meta,
    out,
    split_values,
    styled,
    when,
)
from ppflow.cli.errors import CommandGroup
from ppflow.cli.typed import read_choice
from ppflow.domain.commands import AddTeam, EditTeam
from ppflow.domain.compensation import hours, money
from ppflow.domain.lifecycle import EngagementStage, TeamStage
from ppflow.domain.model import ParticipationRules
from ppflow.services import corrections, integration, organization, queries

team_app = CommandGroup(help="Quality-improvement teams.")
engagement_app = CommandGroup(help="Advisors placed in QI teams.")


@team_app.command("add")
def add(
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
    cmd = AddTeam(
        name, program, lead, seats, rules, split_values(language), split_values(tag), meta()
    )
    application = current_app()
    team = organization.add_team(application.uow(), cmd, application.clock)
    out.print(styled("added QI team [bold]{code}[/] ({stage})", code=team.code, stage=team.stage))


@team_app.command("edit")
def edit(
    code: str,
    lead: Annotated[str | None, typer.Option(help="Staff code of the team lead.")] = None,
    seats: Annotated[int | None, typer.Option(help="Advisor seats.")] = None,
    name: Annotated[str | None, typer.Option(help="Team name.")] = None,
    language: Annotated[
        list[str] | None, typer.Option(help="Working language (fr, en; repeatable).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Focus area (repeatable).")] = None,
    reason: CorrectionReason = "",
) -> None:
    """Correct a QI team: its lead (a team made without one can then be briefed), its
    seats, name, languages or focus; logged with who made it and why."""
    cmd = EditTeam(
        code,
        lead,
        seats,
        name,
        tuple(split_values(language)) if language is not None else None,
        tuple(split_values(tag)) if tag is not None else None,
        meta(reason=reason),
    )
    changed = corrections.edit_team(current_app().uow(), cmd, current_app().clock)
    out.print(
        styled("corrected team [bold]{code}[/]: {fields}", code=cmd.team, fields=", ".join(changed))
    )


@team_app.command("list")
def list_teams(
    stage: Annotated[
        str | None,
        typer.Option(
            help=f"Only this stage (its code or its name). One of: {', '.join(TeamStage)}.",
            callback=read_choice("team"),
        ),
    ] = None,
):
    """List QI teams."""
    out.print(teams_table(queries.list_teams(current_app().uow(), stage)))


def teams_table(teams) -> Table:
    # six columns, so that a name and the focus areas have room on an 80-column page
    table = Table("code", "name", "stage", "lead", "advisors", "languages, focus", title="QI teams")
    for summary in teams:
        t = summary.team
        table.add_row(
            t.code,
            t.name,
            t.stage,
            t.lead or "-",
            f"{summary.active_advisors}/{t.advisor_seats}",
            ", ".join([",".join(t.languages), *t.focus_tags]),
        )
    return table


@team_app.command("show")
def show(code: str) -> None:
    """Show a QI team: its rules, its engagements, its tokenism warnings now, and the last
    advisors proposed for it with the reasons of each score."""
    summary = queries.get_team(current_app().uow(), code)
    t = summary.team
    out.print(styled("[bold]{code}[/] {name} — {stage}", code=t.code, name=t.name, stage=t.stage))
    out.print(f"program: {t.program or '-'}   lead: {t.lead or '-'}   seats: {t.advisor_seats}")
    r = t.rules
    out.print(
        f"rules: at least {r.min_advisors} advisors; advisor joins before objectives: "
        f"{'yes' if r.advisor_joins_before_objectives else 'no'}; "
        f"meetings: {r.meeting_times or '-'} ({r.meeting_format or '-'})"
    )
    table = Table("engagement", "advisor", "stage", "role", "start", title="Engagements")
    for e in summary.engagements:
        table.add_row(e.code, e.advisor, e.stage, e.role, str(e.start_date or "-"))
    out.print(table)
    out.print(Text("Tokenism warnings", "bold"))
    for warning in summary.warnings:
        out.print(styled("  [yellow]![/] {warning}", warning=warning), highlight=False)
    if not summary.warnings:
        out.print("  none")
    if not summary.proposals:
        out.print(
            styled("[bold]Last match proposals[/]\n  none (the integrate-advisor flow proposes)")
        )
        return
    out.print(styled("[bold]Last match proposals[/] ({at:%Y-%m-%d %H:%M})", at=summary.proposed_at))
    for number, match in enumerate(summary.proposals, 1):
        out.print(f"  {number}. {match.advisor}  score {match.score}/100", highlight=False)
        for reason in match.reasons:
            out.print(f"       {reason}", highlight=False, markup=False)


@team_app.command("objectives")
def objectives(
    code: str,
    present: Present = None,
    absent: Absent = None,
) -> None:
    """Record that the team set its QI objectives today, as a meeting with its roll call
    (without --present or --absent, every advisor on the team was there)."""
    application = current_app()
    called = present is not None or absent is not None
    here = integration.record_objectives(
        application.uow(),
        code,
        meta(),
        application.clock,
        split_values(present) if called else None,
        split_values(absent) if called else None,
    )
    out.print(
        f"objectives of {code} recorded; advisors present: "
        f"{', '.join(here) if here else 'none (a tokenism risk)'}"
    )


@engagement_app.command("end")
def end_engagement(
    code: str,
    early: Annotated[bool, typer.Option(help="Ended before its term.")] = False,
    reason: Annotated[str, typer.Option(help="Why (required when early).")] = "",
) -> None:
    """Complete an engagement (or end it early); the advisor is thanked and is ready again."""
    application = current_app()
    change = integration.end_engagement(
        application.uow(), code, meta(reason=reason or None), early, clock=application.clock
    )
    out.print(f"engagement {code}: {change.from_state} -> {change.to_state}")


@engagement_app.command("list")
def list_engagements(
    team: Annotated[str | None, typer.Option(help="Only this team's (QT-...).")] = None,
    advisor: Annotated[str | None, typer.Option(help="Only this advisor's (PA-...).")] = None,
    state: Annotated[
        str | None,
        typer.Option(
            help="Only in this state (its code or its name). "
            f"One of: {', '.join(EngagementStage)}.",
            callback=read_choice("engagement"),
        ),
    ] = None,
) -> None:
    """Engagements, by team, advisor and state: the codes that `ppflow run feedback` and
    `engagement show` take."""
    found = queries.list_engagements(current_app().uow(), team, advisor, state)
    if not found:
        out.print("no engagement matches", highlight=False)
        return
    table = Table(
        "engagement", "advisor", "team", "state", "role", "start", "end", title="Engagements"
    )
    for e in found:
        table.add_row(
            e.code,
            e.advisor,
            e.team,
            e.stage,
            e.role,
            str(e.start_date or "-"),
            str(e.end_date or "-"),
        )
    out.print(table)


@engagement_app.command("show")
def show_engagement(code: str) -> None:
    """One engagement: advisor, team, state, dates, rate and reason; its evaluation and
    criteria; its feedback rounds; its hours and pay."""
    detail = queries.get_engagement(current_app().uow(), code)
    e = detail.engagement
    rate = f"{e.hourly_rate:.2f}/h" if e.hourly_rate is not None else "the rate tiers"
    out.print(styled("[bold]{code}[/] — {stage}", code=e.code, stage=e.stage), highlight=False)
    out.print(
        f"advisor: {e.advisor}   team: {e.team}   role: {e.role}   joined: {when(e.joined_at)}   "
        f"start: {e.start_date or '-'}   end: {e.end_date or '-'}",
        highlight=False,
    )
    out.print(f"rate: {rate}   reason: {e.reason or '-'}", highlight=False, markup=False)
    evaluation = detail.evaluation
    if evaluation is None:
        out.print("evaluation: not yet", highlight=False)
    else:
        score = "not measured" if evaluation.score is None else f"{evaluation.score:.2f}"
        out.print(
            f"evaluation: {score}, on {when(evaluation.at)} by {evaluation.actor}"
            + (f" — {evaluation.notes}" if evaluation.notes else ""),
            highlight=False,
            markup=False,
        )
        criteria = Table("criterion", "score", "explanation", title="Criteria")
        for c in evaluation.criteria:
            measured = "not measured" if c.get("score") is None else f"{c['score']:.2f}"
            criteria.add_row(c.get("name", "?"), measured, c.get("explanation", ""))
        out.print(criteria)
    rounds = Table("round", "respondent", "opened", "answered", "score", title="Feedback rounds")
    for r in detail.surveys:
        rounds.add_row(
            str(r.round),
            f"{r.respondent_kind} {r.respondent}",
            when(r.opened_at),
            when(r.answered_at) if r.answered_at else "not yet",
            "-" if r.score is None else f"{r.score:.2f}",
        )
    out.print(rounds if detail.surveys else "feedback rounds: none opened", highlight=False)
    pay = detail.pay
    out.print(
        f"hours: {hours(pay.centihours)} in {pay.entries} entr{'y' if pay.entries == 1 else 'ies'}"
        f"   owed: {money(pay.owed_cents)}{' (declined)' if pay.declined else ''}"
        f"   expenses: {money(pay.expenses_cents)}",
        highlight=False,
    )
