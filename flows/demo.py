"""The main job on the embedded defaults: SQLite, Prefect's local server and the mail sink.

A cohort of referrals is identified by the ``identify-advisors`` flow; each advisor is
then onboarded by ``onboard-advisor`` while this script plays the coordinator, answering
the questions the runs wait on, exactly as ``ppflow answer`` would. Some candidates
decline, one is not retained and one withdraws part-way. The outbox is then dispatched
to the mail sink."""

from __future__ import annotations

import csv
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
from ppflow.domain.commands import Meta
from ppflow.services import advisors, demo, queries
from ppflow.services.decisions import QuestionClosedError
from ppflow.services.ports import AdvisorFilter
from ppflow_flows.answers import answer
from ppflow_flows.decisions import on_wait
from ppflow_flows.identify_advisors import identify_advisors
from ppflow_flows.onboard_advisor import onboard_advisor
from ppflow_flows.runtime import application, client, in_process, in_thread

COORDINATOR = "demo:coordinator"
PARALLEL = 1  # onboardings at once: Prefect's local SQLite answers "database is locked" to more

# Fictional people; example.org addresses deliver nowhere but the local sink.
COHORT = [
    ("Marie", "Lavoie", "fr", "fr", "cancer;caregiver", 8),
    ("Luc", "Morin", "fr", "fr;en", "mental-health", 6),
    ("Aisha", "Khan", "en", "en;fr", "mental-health;youth", 4),
    ("Pierre", "Girard", "fr", "fr", "cancer", 10),
    ("Nadia", "Bélanger", "fr", "fr", "mental-health;youth", 5),
    ("Tom", "Wilson", "en", "en", "cardiac", 3),
    ("Sophie", "Fortin", "fr", "fr", "maternity", 6),
    ("Ken", "Ito", "en", "en;fr", "chronic-pain", 6),
]
# what each person of the cohort does, in order
SCRIPT = ["joins", "joins", "joins", "joins", "joins", "declines", "not_retained", "withdraws"]


class DemoAlreadyRunError(RuntimeError):
    pass


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


def _email(n: int, first: str, last: str) -> str:
    return f"{first.lower()}.{last.lower()}.cohort{n}@example.org".replace("é", "e")


def _write_cohort(directory: Path, referrer: str) -> Path:
    path = directory / "demo-cohort.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "first_name",
                "last_name",
                "email",
                "language",
                "languages",
                "tags",
                "availability_hours",
                "referred_by",
                "program",
            ]
        )
        for n, (first, last, lang, spoken, tags, hours) in enumerate(COHORT):
            email = _email(n, first, last)
            writer.writerow(
                [first, last, email, lang, spoken, tags, hours, referrer, demo.DEMO_PROGRAM]
            )
    return path


class Coordinator:
    """Answers what the runs wait on, following the cohort's script."""

    def __init__(self, app: App, plan: dict[str, str], modules: list[str]):
        self.app, self.plan, self.modules = app, plan, modules
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
            if question == "screening":
                outcome = {"declines": "declined", "not_retained": "not_retained"}.get(
                    self.plan.get(subject, "joins"), "retained"
                )
                reason = "availability too limited" if outcome == "not_retained" else ""
                answer(
                    "screening",
                    subject,
                    {"outcome": outcome, "reason": reason},
                    COORDINATOR,
                    str(run.id),
                )
            elif question == "training":
                if self.plan.get(subject) == "withdraws":
                    advisors.withdraw_advisor(
                        self.app.uow(),
                        subject,
                        Meta(COORDINATOR, "personal reasons"),
                        self.app.clock,
                    )
                # after a withdrawal the answer closes the run without a decision
                with suppress(QuestionClosedError):
                    answer("training", subject, {"modules": self.modules}, COORDINATOR, str(run.id))
            elif question == "match":
                candidate = run.parameters.get("advisor")
                answer(
                    "match",
                    subject,
                    {"advisor": candidate, "hourly_rate": 25.0},
                    COORDINATOR,
                    str(run.id),
                )
            else:
                continue
            self.answered.add((str(run.id), key))
            done += 1
        return done


def run_demo(
    progress: Callable[[int, int], None] | None = None, timeout: float = 600
) -> DemoResult:
    started = time.monotonic()
    app = application()
    # The demo's runs wait in this process (paused, not suspended) and are woken by its
    # answers: they need not look at the server often.
    app.settings.decision_poll_seconds = max(app.settings.decision_poll_seconds, 1)
    app.upgrade()
    structure = demo.seed_structure(app.uow(), app.clock) or demo.existing_structure(app.uow())
    with app.uow() as uow:  # the cohort onboarded once already: start afresh with --reset
        if uow.advisors.find_by_email_or_phone([_email(0, *COHORT[0][:2])], []):
            raise DemoAlreadyRunError("the demonstration cohort is already there; use --reset")
    result = DemoResult()
    prefect_started = time.monotonic()
    # starts Prefect's local server when none is set; the client gives an httpx URL
    result.api_url = str(client().api_url)
    result.server_seconds = time.monotonic() - prefect_started
    with in_process():
        onboarding = time.monotonic()
        _onboard_cohort(app, structure, result, progress, timeout)
        result.onboarding_seconds = time.monotonic() - onboarding

    with app.uow() as uow:
        for code in result.advisors:
            stage = uow.advisors.get(code).stage
            result.stages[stage] = result.stages.get(stage, 0) + 1
    result.maildir = app.maildir
    port = _free_port()
    smtp = app.settings.smtp.model_copy(update={"host": "127.0.0.1", "port": port})
    mail_app = App(
        app.settings.model_copy(update={"smtp": smtp}), app.engine, app.session_factory, app.clock
    )
    with mail_app.mail_sink(port=port):
        while True:
            report = mail_app.dispatch_pending()
            result.sent += report.sent
            if not report.claimed:
                break
    result.elapsed = time.monotonic() - started
    return result


def _onboard_cohort(app: App, structure: dict, result: DemoResult, progress, timeout) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cohort = _write_cohort(Path(scratch), structure["provider"])
        result.advisors = identify_advisors(str(cohort), "demo-cohort")
    plan = dict(zip(result.advisors, SCRIPT, strict=True))
    joining = [code for code, what in plan.items() if what == "joins"]
    teams = {
        code: structure["team1"] if n < 2 else structure["team2"] for n, code in enumerate(joining)
    }
    modules = [m.code for m in demo.MODULES if m.required]
    coordinator = Coordinator(app, plan, modules)
    stop_listening = on_wait(coordinator.notice)

    # Each onboarding waits on people several times: run them side by side, as a worker
    # pool would, while the coordinator answers.
    waiting = list(result.advisors)
    runs: list[Future] = []
    deadline = time.monotonic() + timeout
    while waiting or not all(r.done() for r in runs):
        while waiting and sum(not r.done() for r in runs) < PARALLEL:
            code = waiting.pop(0)
            runs.append(in_thread(onboard_advisor, code, teams.get(code)))
        if time.monotonic() > deadline:
            raise TimeoutError("the demonstration did not finish in time")
        coordinator.answer_waiting(wait=0.05)
        if progress:
            progress(sum(r.done() for r in runs), len(result.advisors))
    stop_listening()
    for run in runs:
        run.result()  # surface a failed onboarding
    if progress:
        progress(len(runs), len(runs))


def pool(app: App):
    return queries.list_advisors(app.uow(), AdvisorFilter())
