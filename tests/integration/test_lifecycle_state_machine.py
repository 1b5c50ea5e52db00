"""Random sequences of commands against a real SQLite database; after every step the
invariants hold: stages are ones the table allows, the log replays to the current state,
no lifecycle notification exists without the transition that caused it, counts agree."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from ppflow.adapters.orm import AdvisorRow, ContactRow, NotificationRow, TransitionRow
from ppflow.bootstrap import bootstrap
from ppflow.domain.commands import ChangeAdvisorStage, Meta
from ppflow.domain.errors import PPFlowError
from ppflow.domain.lifecycle import ADVISOR
from ppflow.services import advisors, integration
from ppflow.services.ports import FixedClock
from ppflow.settings import Settings
from tests import factories
from tests.conftest import sqlite_template

CAUSED_BY_A_TRANSITION = {
    "invitation",
    "welcome",
    "referral_acknowledgement",
    "referral_received",
    "introduction_advisor",
    "introduction_lead",
    "advisor_withdrawn",
    "engagement_thank_you",
    "team_briefing",
}
names = itertools.count()


class AdvisorLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.scratch = tempfile.TemporaryDirectory()
        path = Path(self.scratch.name)
        shutil.copyfile(sqlite_template(), path / "sm.db")  # migrated: the session's template
        self.app = bootstrap(
            Settings(database_url=f"sqlite:///{path / 'sm.db'}", data_dir=path),
            clock=FixedClock(datetime(2026, 1, 5, 9, tzinfo=UTC)),
        )
        factories.modules(self.app, "PP-101")
        factories.staff(self.app, role="coordinator")
        self.referrer = factories.staff(self.app)
        lead = factories.staff(self.app, role="front_line_manager")
        self.team = factories.team(self.app, lead, seats=50)
        integration.brief_team(self.app.uow(), self.team, Meta("sm"), self.app.clock)
        self.codes: list[str] = []
        self.engagements: list[str] = []

    def teardown(self):
        self.app.dispose()
        self.scratch.cleanup()

    def attempt(self, call, *args, **kwargs):
        self.app.clock.moment += timedelta(hours=1)
        try:
            return call(*args, **kwargs)
        except PPFlowError:
            return None  # refusals are fine; what matters is that nothing half-happened

    @rule()
    def refer(self):
        n = next(names)
        self.codes.append(factories.referral(self.app, self.referrer, email=f"sm{n}@example.org"))

    advisor = st.integers(min_value=0, max_value=10**6)
    meta = Meta("sm", "a reason")

    def pick(self, index: int) -> str:
        return self.codes[index % len(self.codes)]

    @precondition(lambda self: self.codes)
    @rule(index=advisor)
    def invite(self, index):
        self.attempt(
            advisors.invite_advisor, self.app.uow(), self.pick(index), self.meta, self.app.clock
        )

    @precondition(lambda self: self.codes)
    @rule(index=advisor, outcome=st.sampled_from(["retained", "not_retained", "declined"]))
    def screen(self, index, outcome):
        self.attempt(
            advisors.apply_screening_outcome,
            self.app.uow(),
            self.pick(index),
            outcome,
            self.meta,
            "v1",
            clock=self.app.clock,
        )

    @precondition(lambda self: self.codes)
    @rule(index=advisor)
    def prepare(self, index):
        code = self.pick(index)
        self.attempt(
            advisors.enrol_required_modules, self.app.uow(), code, self.meta, self.app.clock
        )
        self.attempt(
            advisors.complete_module, self.app.uow(), code, "PP-101", self.meta, self.app.clock
        )

    @precondition(lambda self: self.codes)
    @rule(index=advisor)
    def place(self, index):
        result = self.attempt(
            integration.confirm_match,
            self.app.uow(),
            self.team,
            self.pick(index),
            self.meta,
            "member",
            None,
            None,
            clock=self.app.clock,
        )
        if result:
            self.engagements.append(result.engagement)

    @precondition(lambda self: self.engagements)
    @rule(index=advisor, early=st.booleans())
    def end(self, index, early):
        engagement = self.engagements[index % len(self.engagements)]
        self.attempt(
            integration.end_engagement,
            self.app.uow(),
            engagement,
            self.meta,
            early,
            clock=self.app.clock,
        )

    @precondition(lambda self: self.codes)
    @rule(index=advisor)
    def hold_or_resume(self, index):
        code = self.pick(index)
        self.attempt(advisors.put_on_hold, self.app.uow(), code, self.meta, self.app.clock)
        self.attempt(advisors.resume, self.app.uow(), code, self.meta, self.app.clock)

    @precondition(lambda self: self.codes)
    @rule(index=advisor)
    def withdraw(self, index):
        self.attempt(
            advisors.withdraw_advisor, self.app.uow(), self.pick(index), self.meta, self.app.clock
        )

    @precondition(lambda self: self.codes)
    @rule(
        index=advisor,
        stage=st.sampled_from(ADVISOR.states),
        request=st.sampled_from([None, "r1", "r2"]),
    )
    def any_move(self, index, stage, request):
        cmd = ChangeAdvisorStage(
            self.pick(index),
            stage,
            said_yes=True,
            available=True,
            leaving=True,
            meta=Meta("sm", "random", request),
        )
        self.attempt(advisors.change_advisor_stage, self.app.uow(), cmd, self.app.clock)

    @invariant()
    def stages_are_allowed_and_the_log_replays(self):
        with self.app.session_factory() as session:
            stages = dict(session.execute(select(AdvisorRow.code, AdvisorRow.stage)).all())
            log = session.execute(
                select(TransitionRow.code, TransitionRow.from_state, TransitionRow.to_state)
                .where(TransitionRow.entity == "advisor")
                .order_by(TransitionRow.id)
            ).all()
        replayed: dict[str, str] = {}
        for code, before, after in log:
            assert before == replayed.get(code), (code, before, replayed.get(code))
            assert before is None or ADVISOR.find(before, after), (before, after)
            replayed[code] = after
        assert replayed == stages
        assert set(stages.values()) <= set(ADVISOR.states)

    @invariant()
    def lifecycle_mail_has_its_transition_and_counts_agree(self):
        with self.app.session_factory() as session:
            orphans = session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(
                    NotificationRow.template.in_(CAUSED_BY_A_TRANSITION),
                    NotificationRow.transition_id.is_(None),
                )
            )
            advisors_n = session.scalar(select(func.count()).select_from(AdvisorRow))
            contacts_n = session.scalar(select(func.count()).select_from(ContactRow))
            born = session.scalar(
                select(func.count())
                .select_from(TransitionRow)
                .where(TransitionRow.entity == "advisor", TransitionRow.from_state.is_(None))
            )
            invitations = session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.template == "invitation")
            )
            invited = session.scalar(
                select(func.count(func.distinct(TransitionRow.code))).where(
                    TransitionRow.to_state == "invited"
                )
            )
        assert orphans == 0
        assert advisors_n == contacts_n == born == len(self.codes)
        assert invitations == invited  # one invitation per invited advisor, never two


AdvisorLifecycle.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_command_sequences_keep_the_invariants = AdvisorLifecycle.TestCase
