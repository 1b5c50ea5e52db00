"""A coordinator's working day, as a script of the commands they type, on a real Prefect
server: import referrals, correct an e-mail, reopen a declined file, put someone on hold
and back, answer what waits in `ppflow waiting`, record two meetings, void a pay entry,
revise a target, see an advisor leave, and write the report for the period. Each step is
checked in the database and in the advisors' histories; the coordinator receives one
notice for the whole import."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ppflow import cli
from ppflow.adapters.orm import (
    AdvisorRow,
    ContactRow,
    CorrectionRow,
    EngagementRow,
    MeetingAttendanceRow,
    MeetingRow,
    NotificationRow,
    ProgramRow,
    ProgramTargetRow,
    TeamRow,
)
from ppflow.adapters.orm_compensation import ActivityLogRow
from ppflow.domain.commands import AddTeam, Meta
from ppflow.services import advisors, integration, organization
from tests import factories
from tests.flows.conftest import in_thread, wait_until_paused

pytestmark = pytest.mark.prefect
runner = CliRunner()


def ppflow(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli.app, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def flat(text: str) -> str:
    return " ".join(text.split())


def moves(app, code: str) -> list[tuple[str | None, str]]:
    return [(t.from_state, t.to_state) for t in advisors.advisor_history(app.uow(), code)]


def test_a_coordinators_day_from_the_import_to_the_report(flow_app, tmp_path):
    from ppflow_flows.recruit_advisor import recruit_advisor

    app = flow_app
    today = app.clock.now().date()
    tag = uuid.uuid4().hex[:8]
    coordinator = factories.staff(app, role="coordinator")
    referrer = factories.staff(app)
    program = f"PP-D{tag[:5].upper()}"
    ppflow("program", "add", program, "--name", "Partenariat", "--department", "Qualité")

    # 1. import a CSV of referrals: one notice to each coordinator for the whole file
    sheet = tmp_path / "referrals.csv"
    people = [("Aline", "Roy"), ("Bruno", "Côté"), ("Chloé", "Tremblay")]
    sheet.write_text(
        "first_name;last_name;email;language;referred_by\n"
        + "".join(
            f"{f};{last};{f.lower()}.{tag}@example.org;fr;{referrer}\n" for f, last in people
        ),
        encoding="utf-8",
    )
    assert "imported 3 referral(s)" in ppflow("advisor", "import", str(sheet))
    # the coordinator finds each person's code by name (printed locally, never sent)
    codes = [
        re.search(r"PA-[0-9A-Z]{6}", ppflow("advisor", "find", f"{first} {last} {tag}")).group(0)
        for first, last in people
    ]
    aline, bruno, chloe = codes
    with app.session_factory() as session:
        notices = session.scalars(
            select(NotificationRow.template).where(NotificationRow.recipient_code == coordinator)
        ).all()
    assert notices == ["referrals_imported"]

    # 2. correct a contact's e-mail: the contacts table changes, the correction is logged
    fixed = f"aline.roy.{tag}@example.org"
    ppflow("advisor", "edit", aline.lower(), "--email", fixed, "--reason", "typo in the form")
    with app.session_factory() as session:
        email = session.scalar(
            select(ContactRow.email)
            .join(AdvisorRow, AdvisorRow.id == ContactRow.advisor_id)
            .where(AdvisorRow.code == aline)
        )
        corrections = session.execute(
            select(CorrectionRow.reason, CorrectionRow.fields).where(CorrectionRow.code == aline)
        ).all()
    assert email == fixed
    assert [(reason, list(fields)) for reason, fields in corrections] == [
        ("typo in the form", ["email"])
    ]

    # 3. reopen a declined advisor
    advisors.invite_advisor(app.uow(), bruno, Meta("t"), app.clock)
    advisors.record_invitation_answer(app.uow(), bruno, False, Meta("t"), app.clock)
    ppflow("advisor", "reopen", bruno, "--reason", "called back: now available")
    assert moves(app, bruno)[-2:] == [("invited", "declined"), ("declined", "identified")]

    # 4. put one on hold and resume them
    ppflow("advisor", "hold", chloe, "--reason", "moving house")
    ppflow("advisor", "resume", chloe)
    assert moves(app, chloe)[-2:] == [("identified", "on_hold"), ("on_hold", "identified")]

    # 5. read `ppflow waiting` and answer from it
    running = in_thread(recruit_advisor, aline)
    wait_until_paused(f"recruit/{aline}", "screening")
    waiting = flat(ppflow("waiting"))
    command = re.search(rf"ppflow answer screening {aline} --outcome", waiting)
    assert command, waiting
    ppflow(*command.group(0).split()[1:], "retained")
    assert running.result(timeout=90) == "recruited"
    assert moves(app, aline)[-1] == ("screening", "recruited")

    # a team of the program with two advisors placed a month ago
    lead = factories.staff(app, role="front_line_manager")
    team = organization.add_team(
        app.uow(), AddTeam(f"Parcours {tag}", program=program, lead=lead, meta=Meta("t")), app.clock
    ).code
    integration.brief_team(app.uow(), team, Meta("t"), app.clock)
    month_ago = today - timedelta(days=30)
    placed = [factories.ready_advisor(app, referrer) for _ in range(2)]
    engagements = [
        integration.confirm_match(
            app.uow(), team, a, Meta("t"), start_date=month_ago, hourly_rate=25.0, clock=app.clock
        ).engagement
        for a in placed
    ]
    first, second = placed

    # 6. two meetings with their roll call
    week_ago, yesterday = today - timedelta(days=7), today - timedelta(days=1)
    ppflow("meeting", "add", team, "--date", str(week_ago), "--present", first, "--absent", second)
    ppflow("meeting", "add", team, "--date", str(yesterday), "--present", f"{first},{second}")
    with app.session_factory() as session:
        roll = session.execute(
            select(MeetingRow.held_on, AdvisorRow.code, MeetingAttendanceRow.present)
            .join(MeetingAttendanceRow, MeetingAttendanceRow.meeting_id == MeetingRow.id)
            .join(AdvisorRow, AdvisorRow.id == MeetingAttendanceRow.advisor_id)
            .join(TeamRow, TeamRow.id == MeetingRow.team_id)
            .where(TeamRow.code == team)
        ).all()
    assert sorted(roll) == sorted(
        [(week_ago, first, True), (week_ago, second, False)]
        + [(yesterday, first, True), (yesterday, second, True)]
    )

    # 7. void a pay entry: the reversal nets it to zero
    ppflow(
        "pay", "log", engagements[0], "--activity", "meeting", "--hours", "2",
        "--date", str(week_ago),
    )  # fmt: skip
    listed = ppflow("pay", "entries", engagements[0])
    [entry] = [re.search(r"\d+", line).group(0) for line in listed.splitlines() if
               engagements[0] in line]  # fmt: skip
    ppflow("pay", "void", entry, "--reason", "logged for the wrong meeting")
    assert f"voided by {int(entry) + 1}" in ppflow("pay", "entries", engagements[0])
    with app.session_factory() as session:
        owed = session.scalar(
            select(func.sum(ActivityLogRow.amount_cents))
            .join(EngagementRow, EngagementRow.id == ActivityLogRow.engagement_id)
            .where(EngagementRow.code == engagements[0])
        )
    assert owed == 0

    # 8. revise a target: a new version of the logic model
    ppflow("program", "target", program, "attendance_rate=0.8")
    ppflow("program", "target", program, "attendance_rate=0.7")
    with app.session_factory() as session:
        versions = session.execute(
            select(ProgramTargetRow.version, ProgramTargetRow.target)
            .join(ProgramRow, ProgramRow.id == ProgramTargetRow.program_id)
            .where(ProgramRow.code == program, ProgramTargetRow.indicator == "attendance_rate")
            .order_by(ProgramTargetRow.version)
        ).all()
    assert [tuple(v) for v in versions] == [(1, 0.8), (2, 0.7)]

    # 9. an advisor leaves: their engagement ends, they are thanked, they become alumni
    ppflow("advisor", "leave", second, "--reason", "moving away")
    assert moves(app, second)[-1] == ("active", "alumni")
    with app.session_factory() as session:
        stage = session.scalar(
            select(EngagementRow.stage).where(EngagementRow.code == engagements[1])
        )
        thanked = session.scalars(
            select(NotificationRow.template).where(NotificationRow.recipient_code == second)
        ).all()
    assert stage == "completed" and "program_thank_you" in thanked

    # 10. the report for the period: attendance 3 of 4 against the revised target
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    written = ppflow("report", "html", "--period", quarter, "--out", str(tmp_path))
    assert list(tmp_path.glob("indicators-*.html")) and list(tmp_path.glob("indicators-*.csv"))
    assert "indicators-" in written
    from ppflow.services.indicators import compute_indicators, parse_period

    period = parse_period(quarter)
    result = compute_indicators(app.indicators(), period.start, period.end, period.label)
    assert result.values[f"attendance_rate_{team}"] == 0.75
