"""The README's main command: a cohort onboarded through the flows, mail in the sink."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ppflow.adapters.email.maildir import read_maildir

pytestmark = pytest.mark.prefect


def test_the_demo_onboards_a_cohort_and_delivers_its_mail(flow_app, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from ppflow import cli
    from ppflow_flows import demo

    monkeypatch.setattr(flow_app.settings, "data_dir", tmp_path)
    before = stage_counts(flow_app)
    # `ppflow demo` as a person runs it, with PREFECT_API_URL set (the test server's)
    api = PREFECT_API_URL.value()
    assert api
    shown = CliRunner().invoke(cli.app, ["demo"], obj=flow_app)
    assert shown.exit_code == 0 and shown.exception is None, shown.output
    assert api.removesuffix("/api") + "/runs" in shown.output
    after = stage_counts(flow_app)
    grew = {stage: after[stage] - before.get(stage, 0) for stage in after}
    assert {s: n for s, n in grew.items() if n} == {
        "active": 5,
        "declined": 1,
        "not_retained": 1,
        "withdrawn": 1,
    }
    sent = int(re.search(r"(\d+) e-mail\(s\) delivered", " ".join(shown.output.split()))[1])
    cohort = cohort_codes(flow_app)
    assert len(cohort) == 8
    result = SimpleNamespace(maildir=flow_app.maildir, sent=sent, advisors=cohort)
    messages = read_maildir(result.maildir)
    assert len(messages) == result.sent
    templates = {m.header("X-Ppflow-Template") for m in messages}
    assert {
        "invitation",
        "welcome",
        "team_briefing",
        "introduction_advisor",
        "introduction_lead",
        "referral_acknowledgement",
    } <= templates
    with flow_app.session_factory() as session:
        from sqlalchemy import select

        from ppflow.adapters.orm import AdvisorRow, NotificationRow

        rows = session.execute(
            select(
                NotificationRow.recipient_code, NotificationRow.status, NotificationRow.last_error
            )
        ).all()
        withdrawn = set(
            session.scalars(
                select(AdvisorRow.code).where(
                    AdvisorRow.stage == "withdrawn", AdvisorRow.code.in_(result.advisors)
                )
            )
        )
    assert {status for who, status, _ in rows if who not in withdrawn} == {"sent"}
    # what was still queued for the person who withdrew was cancelled, not sent
    assert all(
        status == "sent" or "withdrew" in (error or "")
        for who, status, error in rows
        if who in withdrawn
    )
    with pytest.raises(demo.DemoAlreadyRunError, match="already there"):
        demo.run_demo()


def stage_counts(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from ppflow.adapters.orm import AdvisorRow

    with app.session_factory() as session:
        return dict(
            session.execute(select(AdvisorRow.stage, func.count()).group_by(AdvisorRow.stage)).all()
        )


def cohort_codes(app) -> list[str]:
    """The advisors of the demonstration's cohort (their addresses are the demo's own)."""
    from sqlalchemy import select

    from ppflow.adapters.orm import AdvisorRow, ContactRow
    from ppflow.services.demo import COHORT, cohort_email

    addresses = [cohort_email(n, first, last) for n, (first, last, *_) in enumerate(COHORT)]
    with app.session_factory() as session:
        return list(
            session.scalars(
                select(AdvisorRow.code)
                .join(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
                .where(ContactRow.email.in_(addresses))
            )
        )
