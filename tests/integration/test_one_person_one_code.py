"""One person, one code: processes registering the same people at the same moment create
one contact each, because the database itself refuses the second (the insert is the check),
and every loser is told the code the person already has."""

from __future__ import annotations

import multiprocessing
import re

import pytest
from sqlalchemy import func, select

from ppflow.adapters.orm import ContactRow
from tests import factories

PEOPLE = 100


def _register_everyone(url: str, schema: str | None, referrer: str, barrier, results) -> None:
    """One coordinator's process: register the same PEOPLE as the others, all at once."""
    from ppflow.bootstrap import bootstrap
    from ppflow.domain.commands import Meta, RegisterReferral
    from ppflow.domain.errors import DuplicateError
    from ppflow.services import advisors
    from ppflow.settings import Settings

    app = bootstrap(Settings(database_url=url, database_schema=schema))
    outcomes = []
    barrier.wait(timeout=60)
    for n in range(PEOPLE):
        referral = RegisterReferral(
            first_name=f"Person{n}",
            last_name="Twice",
            email=f"Person.{n}@Example.org" if n % 2 else f"person.{n}@example.org",
            referred_by=referrer,
            phone=f"514-555-{n:04d}",
            meta=Meta("cli:coordinator"),
        )
        try:
            outcomes.append(
                (n, "new", advisors.register_referral(app.uow(), referral, app.clock).code)
            )
        except DuplicateError as error:
            outcomes.append((n, "told", re.findall(r"PA-\w{6}", str(error))))
    app.dispose()
    results.put(outcomes)


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_registering_the_same_people_at_once_create_one_contact_each(any_app, processes):
    app = any_app
    referrer = factories.staff(app)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    url = app.settings.resolved_database_url
    workers = [
        context.Process(
            target=_register_everyone,
            args=(url, app.settings.database_schema, referrer, barrier, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    with app.session_factory() as session:
        contacts = session.scalar(select(func.count()).select_from(ContactRow))
    assert contacts == PEOPLE
    winners: dict[int, str] = {}
    for n, kind, code in (outcome for process in outcomes for outcome in process):
        if kind == "new":
            assert n not in winners, f"person {n} got two codes"
            winners[n] = code
    assert len(winners) == PEOPLE
    for n, kind, told in (outcome for process in outcomes for outcome in process):
        if kind == "told":  # the loser is given the code the person already has
            assert told == [winners[n]]
