"""The unit of work is the one transaction boundary, on SQLite and PostgreSQL: a refused
write inside it undoes that write alone (a savepoint), a savepoint never commits on its
own, and what waits for the commit (an erasure's compaction) runs only after one."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from ppflow.adapters.orm import AdvisorRow, ContactRow, StaffRow
from ppflow.domain.errors import AlreadyRegisteredError
from ppflow.domain.model import StaffMember
from ppflow.services.privacy import erase_advisor
from tests import factories


def test_a_refused_contact_names_its_owner_and_leaves_the_rest_of_the_transaction(any_app):
    """The advisors' repository reads whose address it was inside the unit of work's
    transaction: the write before it in the same unit of work is still there, and commits
    if the use case chooses to go on."""
    app = any_app
    referrer = factories.staff(app)
    first = factories.referral(app, referrer, email="one@example.org")
    second = factories.referral(app, referrer, email="two@example.org")
    with app.uow() as uow:
        uow.staff.add(StaffMember("ST-KEPT01", "Kept", "kept@example.org", "provider", "QI"))
        taken = replace(uow.advisors.contact(second), email="one@example.org")
        with pytest.raises(AlreadyRegisteredError, match=first):
            uow.advisors.save_contact(second, taken)
        uow.commit()
    with app.session_factory() as session:
        assert session.scalar(select(StaffRow.code).where(StaffRow.code == "ST-KEPT01"))
        emails = session.scalars(
            select(ContactRow.email).join(AdvisorRow).where(AdvisorRow.code == second)
        ).all()
    assert emails == ["two@example.org"]


def test_a_savepoint_commits_nothing_on_its_own(any_app):
    """On SQLite the driver begins a transaction only at the first write; a SAVEPOINT
    taken after reads only must still be rolled back with the unit of work."""
    app = any_app
    code = factories.referral(app, factories.staff(app))
    with app.uow() as uow:
        contact = uow.advisors.contact(code)  # reads only, so far
        with uow.savepoint():
            uow.advisors.save_contact(code, replace(contact, first_name="Changed"))
        # left without commit()
    with app.uow() as uow:
        assert uow.advisors.contact(code).first_name == "Ada"


def test_an_erasure_compacts_only_after_its_commit(any_app, monkeypatch):
    app = any_app
    code = factories.referral(app, factories.staff(app))
    compacted = []
    monkeypatch.setattr("ppflow.adapters.privacy.compact", compacted.append)

    with app.uow() as uow:
        uow.privacy.erase(code, app.clock.now(), "test")
        # left without commit(): nothing erased, nothing compacted
    assert compacted == []
    with app.uow() as uow:
        assert not uow.advisors.contact(code).erased

    erase_advisor(app.uow(), code, app.clock)
    assert len(compacted) == 1
    with app.uow() as uow:
        assert uow.advisors.contact(code).erased
