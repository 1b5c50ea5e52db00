"""The README's main command: a cohort onboarded through the flows, mail in the sink."""

from __future__ import annotations

import pytest

from ppflow.adapters.email.maildir import read_maildir

pytestmark = pytest.mark.prefect


def test_the_demo_onboards_a_cohort_and_delivers_its_mail(flow_app, tmp_path, monkeypatch):
    from ppflow_flows import demo

    monkeypatch.setattr(flow_app.settings, "data_dir", tmp_path)
    progress = []
    result = demo.run_demo(progress=lambda done, total: progress.append((done, total)))
    assert result.stages == {"active": 5, "declined": 1, "not_retained": 1, "withdrawn": 1}
    assert progress[-1] == (8, 8)
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
