"""Answering the served office's runs the way a coordinator does: from ``ppflow answer``
and from the form of the Prefect UI, in headless Chromium at 1280×900. The office is the
one of ``test_production.py``: a Prefect server, the mail sink and ``ppflow serve``, each a
process of its own, so every wait is a suspension and every answer starts the run again
from the top.

Each form is saved as a PNG under the office's temporary folder (``screenshots/``, named
in the test's output), and in ``$PPFLOW_SCREENSHOTS`` too when that is set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from ppflow.domain.commands import Meta
from ppflow.services import advisors, queries
from ppflow.services.decisions import NOBODY
from tests import factories
from tests.browser import CHROMIUM, NO_CHROMIUM
from tests.browser import screenshot as keep_screenshot
from tests.flows.test_production import Office, until

pytestmark = pytest.mark.prefect
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH, HEIGHT = 1280, 900


@pytest.fixture(autouse=True, scope="module")
def chromium_installed():
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="module")
def browser(office):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


class Form:
    """The resume form of one waiting run, opened in the Prefect UI the way a coordinator
    opens it: the run's page (the link ``ppflow waiting`` prints), then *Resume*."""

    def __init__(self, office: Office, browser, run, name: str):
        self.office, self.run, self.name = office, run, name
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        self.page = self.context.new_page()
        self.page.goto(f"http://127.0.0.1:{office.port}/runs/flow-run/{run.id}")
        self.page.get_by_role("button", name="Resume").first.click()
        self.dialog = self.page.get_by_role("dialog")
        self.dialog.get_by_role("button", name="Submit").wait_for()
        self.page.wait_for_timeout(500)  # the form's fields render after its frame
        self.shot = self.save(name)

    def save(self, name: str) -> Path:
        folder = self.office.root / "screenshots"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path))  # the viewport: what is seen without scrolling
        keep_screenshot(self.page, f"prefect-form-{name}")
        print(f"screenshot: {path}")
        return path

    def seen(self, locator) -> bool:
        """Whether ``locator`` is on screen without scrolling: inside the 1280×900
        viewport, and the topmost thing at its centre (not under the dialog's fold)."""
        box = locator.bounding_box()
        if box is None or box["y"] < 0 or box["y"] + box["height"] > HEIGHT:
            return False
        if box["x"] < 0 or box["x"] + box["width"] > WIDTH:
            return False
        return locator.evaluate(
            "(e, [x, y]) => e.contains(document.elementFromPoint(x, y))",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )

    def choices(self, name: str, *words: str) -> None:
        """Open the form's first list of choices: each of ``words`` is offered, in view."""
        self.dialog.locator(".p-select-button__control").first.focus()
        self.page.keyboard.press("Space")  # opens the list, as a click does
        for word in words:
            option = self.page.get_by_role("option", name=word, exact=True)
            assert self.seen(option), f"{word!r} is not offered in view"
        self.save(name)
        self.page.keyboard.press("Escape")

    def label(self, text: str):
        return self.dialog.get_by_text(text, exact=False).first

    def text(self) -> str:
        return self.dialog.inner_text()

    def close(self) -> None:
        self.context.close()


def the_form(office: Office, run) -> dict:
    """The schema of the form the run shows (stored by Prefect with the wait)."""
    keyset = run.state.state_details.run_input_keyset
    with office.client() as client:
        return json.loads(client.read_flow_run_input(run.id, keyset["schema"]))


def logs(office: Office, run) -> str:
    with office.client() as client:
        entries = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    return "\n".join(e.message for e in entries)


def assert_answerable_without_scrolling(form: Form, *labels: str) -> None:
    for text in labels:
        assert form.seen(form.label(text)), f"{text!r} is not in view in {form.shot}"
    submit = form.dialog.get_by_role("button", name="Submit")
    assert form.seen(submit), f"Submit is not in view in {form.shot}"
    shown = form.text()
    assert "(required when" not in shown, shown
    for code in ("not_retained", "turn_down"):
        assert code not in shown, f"the form shows the code {code}: {form.shot}"


def test_the_screening_form_reads_as_words_and_fits_the_screen(office, browser):
    code = factories.referral(office.app, factories.staff(office.app))
    assert office.ppflow("run", "recruit", code).returncode == 0
    waiting = office.suspended("recruit-advisor", f"recruit/{code}", "screening")
    assert the_form(office, waiting)["properties"]["outcome"]["enum"] == [
        "Retained",
        "Not retained",
        "Declined",
    ]
    form = Form(office, browser, waiting, "screening")
    try:
        assert_answerable_without_scrolling(
            form, "Codes only here", "Outcome", "Reason for not retaining", "Answered by"
        )
        form.choices("screening-outcomes", "Retained", "Not retained", "Declined")
    finally:
        form.close()
    given = office.ppflow("answer", "screening", code, "--outcome", "not_retained", "--reason", "x")
    assert given.returncode == 0, given.stderr
    assert f"{code} is not retained" in given.stdout
    office.completed("recruit-advisor", f"recruit/{code}")
    assert office.stage(code) == "not_retained"


def test_an_onboarding_completes_training_one_module_at_a_time_then_asks_about_its_advisor(
    office, browser
):
    app = office.app
    lead = factories.staff(app, role="front_line_manager")
    team = factories.team(app, lead, tags=("cancer",), languages=("fr",))
    # the advisor this onboarding is for matches the team less well than another one
    best = factories.ready_advisor(app, factories.staff(app), tags=("cancer",), language="fr")
    code = factories.referral(app, factories.staff(app), tags=("diabetes",), language="en")
    meta = Meta("cli:coordinator")
    advisors.invite_advisor(app.uow(), code, meta, app.clock)
    advisors.record_invitation_answer(app.uow(), code, True, meta, app.clock)
    advisors.apply_screening_outcome(app.uow(), code, "retained", meta, clock=app.clock)

    started = office.ppflow("run", "onboard", code, "-p", f"team={team}")
    assert started.returncode == 0, started.stderr

    # training, one module at a time, each answer from the CLI after a suspension
    first = office.suspended("prepare-advisor", f"prepare/{code}", "training-1")
    offered = the_form(office, first)["properties"]["modules"]["items"]["enum"]
    assert sorted(offered) == ["CONF-1", "PP-101"]
    given = office.ppflow("answer", "training", code, "--module", "PP-101")
    assert given.returncode == 0, given.stderr
    second = office.suspended("prepare-advisor", f"prepare/{code}", "training-2")
    assert second.id == first.id
    assert the_form(office, second)["properties"]["modules"]["items"]["enum"] == ["CONF-1"]
    form = Form(office, browser, second, "training")
    try:
        assert_answerable_without_scrolling(
            form, "ready once all are done", "Modules completed", "Answered by"
        )
        assert "PP-101 (" not in form.text()  # done: no longer offered
    finally:
        form.close()
    # the module named twice counts once
    given = office.ppflow("answer", "training", code, "--module", "CONF-1", "--module", "CONF-1")
    assert given.returncode == 0, given.stderr
    assert f"{code} completed CONF-1: answered" in given.stdout
    # the run goes on, or refuses an answer and waits again: the log says which
    ended = until(
        "prepare-advisor completed, or waiting again",
        lambda: next(
            (
                r
                for r in office.runs_named("prepare-advisor", f"prepare/{code}")
                if r.state.is_completed()
                or (r.state.name == "Suspended" and r.state.state_details.pause_key != "training-2")
            ),
            None,
        ),
        150,
    )
    assert ended.state.is_completed(), logs(office, ended)
    until("the advisor is ready", lambda: office.stage(code) in ("ready", "active"), 60)
    # a run's log reaches the server in batches, shortly after the run ends
    last = "1 module(s) completed (CONF-1), still to complete: none"
    said = until("the run's log", lambda: last in (text := logs(office, second)) and text, 30)
    assert "was refused" not in said, said
    assert "1 module(s) completed (PP-101), still to complete: CONF-1" in said
    history = advisors.advisor_history(app.uow(), code)
    [ready] = [t for t in history if t.to_state == "ready"]
    assert ready.actor.startswith("cli:")

    # the match: the run started for this advisor asks about this advisor
    match = office.suspended("integrate-advisor", f"integrate/{team}", "match")
    schema = the_form(office, match)["properties"]["advisor"]
    assert schema["default"] == code and schema["enum"][0] == code
    assert best in schema["enum"] and NOBODY in schema["enum"]  # offered, not chosen
    both = office.ppflow("answer", "match", team, "--advisor", best, "--reject")
    assert both.returncode == 1 and "give one of them" in both.stderr
    assert "Traceback" not in both.stderr
    form = Form(office, browser, match, "match")
    try:
        assert_answerable_without_scrolling(
            form, "explains each score", "Advisor to place", "Role in the team", "Answered by"
        )
        chosen = form.dialog.locator(".p-select").first
        assert code in chosen.inner_text() and best not in chosen.inner_text()
        form.choices("match-advisors", code, best, NOBODY)
        # the coordinator presses Submit on the form as it opened
        form.dialog.get_by_role("button", name="Submit").click()
        office.completed("integrate-advisor", f"integrate/{team}")
    finally:
        form.close()
    [engagement] = queries.get_team(app.uow(), team).engagements
    assert engagement.advisor == code
    assert office.stage(code) == "active" and office.stage(best) == "ready"
