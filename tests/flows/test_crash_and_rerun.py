"""A worker killed while its run waits, and the flow run again: no transition and no
e-mail happens twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from sqlalchemy import func, select

from ppflow.adapters.email.maildir import read_maildir
from ppflow.adapters.email.sink import MailSink
from ppflow.adapters.orm import NotificationRow
from ppflow.bootstrap import App
from ppflow.services import advisors
from tests import factories
from tests.flows.conftest import flow_runs, in_thread, wait_until_paused

pytestmark = pytest.mark.prefect


def test_a_killed_run_is_rerun_without_duplicating_anything(flow_app, tmp_path):
    from ppflow_flows.recruit_advisor import recruit_advisor

    code = factories.referral(flow_app, factories.staff(flow_app))
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PPFLOW_DATABASE_URL": str(flow_app.engine.url),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from ppflow_flows.recruit_advisor import recruit_advisor; recruit_advisor({code!r})",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        killed = wait_until_paused(f"recruit/{code}", "screening", timeout=90)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert [t.to_state for t in advisors.advisor_history(flow_app.uow(), code)] == [
        "identified",
        "invited",
    ]

    running = in_thread(recruit_advisor, code)
    rerun = None
    deadline = time.monotonic() + 60
    while rerun is None and time.monotonic() < deadline:
        time.sleep(0.5)
        rerun = next(
            (
                r
                for r in flow_runs(f"recruit/{code}")
                if r.id != killed.id and r.state and r.state.is_paused()
            ),
            None,
        )
    assert rerun is not None, "the re-run never waited for the screening answer"
    resume_flow_run(rerun.id, run_input={"outcome": "Retained"})
    assert running.result(timeout=60) == "recruited"
    history = advisors.advisor_history(flow_app.uow(), code)
    assert [t.to_state for t in history] == ["identified", "invited", "screening", "recruited"]
    with flow_app.session_factory() as session:
        per_template = dict(
            session.execute(
                select(NotificationRow.template, func.count())
                .where(NotificationRow.recipient_code == code)
                .group_by(NotificationRow.template)
            ).all()
        )
    assert per_template == {"invitation": 1, "welcome": 1}
    # what the killed run queued goes out once, when the outbox is dispatched
    port = _free_port()
    smtp = flow_app.settings.smtp.model_copy(update={"host": "127.0.0.1", "port": port})
    mail_app = App(
        flow_app.settings.model_copy(update={"smtp": smtp}),
        flow_app.engine,
        flow_app.session_factory,
        flow_app.clock,
    )
    with MailSink(tmp_path / "maildir", port=port) as sink:
        mail_app.dispatch_pending()
        mail_app.dispatch_pending()
    sent = [m for m in read_maildir(sink.maildir) if m.header("X-Ppflow-Recipient") == code]
    assert sorted(m.header("X-Ppflow-Template") for m in sent) == ["invitation", "welcome"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
