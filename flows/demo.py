"""The main job on the embedded defaults: SQLite, Prefect's local server and the mail sink.

What the demonstration does is one use case, :func:`ppflow.services.demo.run_demo`; this
module is its part that talks to Prefect. A cohort of referrals is identified by the
``identify-advisors`` flow; each advisor is then onboarded by ``onboard-advisor`` while the
demonstration's scripted coordinator answers the questions the runs wait on, exactly as
``ppflow answer`` would. The outbox is then dispatched to a mail sink."""

from __future__ import annotations

import queue
import socket
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from ppflow.bootstrap import App
from ppflow.services import demo
from ppflow.services.decisions import QuestionClosedError
from ppflow.services.demo import DemoAlreadyRunError, ScriptedCoordinator
from ppflow_flows.answers import answer
from ppflow_flows.decisions import on_wait
from ppflow_flows.identify_advisors import identify_advisors
from ppflow_flows.onboard_advisor import onboard_advisor
from ppflow_flows.runtime import application, client, in_process, in_thread

__all__ = ["DemoAlreadyRunError", "DemoResult", "run_demo"]

PARALLEL = 1  # onboardings at once: Prefect's local SQLite answers "database is locked" to more


@dataclass
class DemoResult:
    advisors: list[str] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    maildir: Path | None = None
    elapsed: float = 0.0
    server_seconds: float = 0.0  # starting Prefect's local server, when none was running
    onboarding_seconds: float = 0.0
    api_url: str = ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Coordinator:
    """Gives the runs of this process the answers they wait on, as ``ppflow answer``
    would: what to answer is the demonstration's script (:class:`ScriptedCoordinator`)."""

    def __init__(self, script: ScriptedCoordinator):
        self.script = script
        self.answered: set[tuple[str, str]] = set()
        # runs of this process that started waiting: told by the runs themselves, so the
        # coordinator does not have to ask Prefect's server over and over
        self.waiting: queue.Queue = queue.Queue()

    def notice(self, run, key: str) -> None:
        self.waiting.put((run, key))

    def answer_waiting(self, wait: float) -> int:
        done = 0
        try:
            found = [self.waiting.get(timeout=wait)]
        except queue.Empty:
            return 0
        while not self.waiting.empty():
            found.append(self.waiting.get_nowait())
        for run, key in found:
            if (str(run.id), key) in self.answered:
                continue
            # the question is the first part of the pause key; its subject a run parameter
            question = key.split("-")[0]
            subject = run.parameters.get("team" if question == "match" else "advisor")
            values = self.script.answer(question, subject, run.parameters.get("advisor"))
            if values is None:
                continue
            # after a withdrawal the answer closes the run without a decision
            with suppress(QuestionClosedError):
                answer(question, subject, values, demo.COORDINATOR, str(run.id))
            self.answered.add((str(run.id), key))
            done += 1
        return done


def run_demo(
    progress: Callable[[int, int], None] | None = None, timeout: float = 600
) -> DemoResult:
    """The demonstration's main job (:func:`ppflow.services.demo.run_demo`), its cohort
    onboarded through the flows in this process and its e-mails delivered to the mail
    sink; with the times it took."""
    started = time.monotonic()
    app = application()
    # The demo's runs wait in this process (paused, not suspended) and are woken by its
    # answers: they need not look at the server often.
    app.settings.decision_poll_seconds = max(app.settings.decision_poll_seconds, 1)
    app.upgrade()
    result = DemoResult()

    def onboard(cohort: bytes, script: ScriptedCoordinator) -> list[str]:
        prefect_started = time.monotonic()
        # starts Prefect's local server when none is set; the client gives an httpx URL
        result.api_url = str(client().api_url)
        result.server_seconds = time.monotonic() - prefect_started
        with in_process():
            onboarding = time.monotonic()
            advisors = _onboard_cohort(cohort, script, progress, timeout)
            result.onboarding_seconds = time.monotonic() - onboarding
        return advisors

    done = demo.run_demo(app.uow(), app.clock, onboard, lambda: _deliver(app))
    result.advisors, result.stages, result.sent = done.advisors, done.stages, done.sent
    result.maildir = app.maildir
    result.elapsed = time.monotonic() - started
    return result


def _deliver(app: App) -> int:
    """Send every queued e-mail to a mail sink started for it; returns how many."""
    port = _free_port()
    smtp = app.settings.smtp.model_copy(update={"host": "127.0.0.1", "port": port})
    mail_app = App(
        app.settings.model_copy(update={"smtp": smtp}), app.engine, app.session_factory, app.clock
    )
    sent = 0
    with mail_app.mail_sink(port=port):
        while True:
            report = mail_app.dispatch_pending()
            sent += report.sent
            if not report.claimed:
                return sent


def _onboard_cohort(
    cohort: bytes, script: ScriptedCoordinator, progress, timeout: float
) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "demo-cohort.csv"
        path.write_bytes(cohort)
        advisors = identify_advisors(str(path), "demo-cohort")
    script.cast(advisors)
    coordinator = Coordinator(script)
    stop_listening = on_wait(coordinator.notice)

    # Each onboarding waits on people several times: run them side by side, as a worker
    # pool would, while the coordinator answers.
    waiting = list(advisors)
    runs: list[Future] = []
    deadline = time.monotonic() + timeout
    while waiting or not all(r.done() for r in runs):
        while waiting and sum(not r.done() for r in runs) < PARALLEL:
            code = waiting.pop(0)
            runs.append(in_thread(onboard_advisor, code, script.team_for(code)))
        if time.monotonic() > deadline:
            raise TimeoutError("the demonstration did not finish in time")
        coordinator.answer_waiting(wait=0.05)
        if progress:
            progress(sum(r.done() for r in runs), len(advisors))
    stop_listening()
    for run in runs:
        run.result()  # surface a failed onboarding
    if progress:
        progress(len(runs), len(runs))
    return advisors
