"""Small builders for test data, going through the real use cases."""

from __future__ import annotations

import itertools

from ppflow.domain.commands import AddStaff, Meta, RegisterReferral
from ppflow.domain.model import TrainingModule
from ppflow.services import advisors, organization

_numbers = itertools.count(1)


def staff(app, role="provider", email=None) -> str:
    n = next(_numbers)
    cmd = AddStaff(f"Staff {n}", email or f"staff{n}@example.org", role, "Quality")
    return organization.add_staff(app.uow(), cmd).code


def referral(app, referrer: str, request_id: str | None = None, **overrides) -> str:
    n = next(_numbers)
    values = dict(
        first_name="Ada",
        last_name=f"Tester{n}",
        email=f"ada{n}@example.org",
        referred_by=referrer,
        language="fr",
        tags=("cancer",),
        meta=Meta(actor="test", request_id=request_id),
    )
    values.update(overrides)
    return advisors.register_referral(app.uow(), RegisterReferral(**values), app.clock).code


def team(app, lead: str, tags=("cancer",), languages=("fr",), seats: int = 2) -> str:
    from ppflow.domain.commands import AddTeam

    cmd = AddTeam(
        f"Team {next(_numbers)}",
        None,
        lead,
        seats,
        languages=languages,
        focus_tags=tags,
        meta=Meta("test"),
    )
    return organization.add_team(app.uow(), cmd, app.clock).code


def modules(app, *codes: str) -> None:
    for code in codes:
        organization.add_training_module(app.uow(), TrainingModule(code, f"Module {code}"))


def ready_advisor(app, referrer: str, **overrides) -> str:
    """An advisor walked through the real use cases up to 'ready'."""
    code = referral(app, referrer, **overrides)
    meta = Meta(actor="test")
    advisors.invite_advisor(app.uow(), code, meta, app.clock)
    advisors.record_invitation_answer(app.uow(), code, True, meta, app.clock)
    advisors.apply_screening_outcome(app.uow(), code, "retained", meta, clock=app.clock)
    advisors.enrol_required_modules(app.uow(), code, meta, app.clock)
    for module in [m.code for m in _required(app)]:
        advisors.complete_module(app.uow(), code, module, meta, app.clock)
    return code


def _required(app):
    with app.uow() as uow:
        return uow.training.list(required_only=True)
