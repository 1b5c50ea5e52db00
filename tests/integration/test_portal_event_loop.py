"""The portal's database work runs beside its event loop, never on it: while one request
waits for the database, the others are still answered."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx

from ppflow.domain.commands import Meta
from ppflow.services import advisors, links, queries
from tests import factories


def test_a_request_waiting_for_the_database_does_not_hold_up_the_others(sqlite_app, portal_server):
    app = sqlite_app
    code = factories.referral(app, factories.staff(app))
    advisors.invite_advisor(app.uow(), code, Meta("test"), app.clock)
    link = links.withdrawal_link(app.settings, code, app.clock.now())
    path = "/" + link.split("/", 3)[3]

    # another writer holds the database: the withdrawal waits for it (busy timeout)
    holder = sqlite3.connect(app.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answer: dict[str, httpx.Response] = {}
    waiting = threading.Thread(
        target=lambda: answer.update(
            done=httpx.post(portal_server + path, data={"confirm": "yes"}, timeout=60)
        )
    )
    try:
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive(), "the withdrawal should be waiting for the database"
        started = time.monotonic()
        health = httpx.get(portal_server + "/health", timeout=3)
        elapsed = time.monotonic() - started
        assert waiting.is_alive(), "the withdrawal was still waiting while /health answered"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert health.status_code == 200 and elapsed < 0.5, f"/health took {elapsed:.2f} s"
    waiting.join(timeout=30)
    assert answer["done"].status_code == 200
    assert queries.get_advisor(app.uow(), code).advisor.stage == "withdrawn"
