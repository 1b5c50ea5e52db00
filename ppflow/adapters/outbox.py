"""SQL for the notification outbox: claiming due rows under a lease, recording what became
of them, listing and re-queuing; and the directory that looks up recipients at send time.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``:
- on PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED``, so dispatchers running
  at once each get different rows without waiting for one another;
- on SQLite, which has one writer at a time, the single statement opens the write
  transaction itself, so the rows it picks cannot be picked by anybody else before they
  are marked ``sending`` (SQLAlchemy leaves FOR UPDATE out there).

Each claim carries a token; a row's outcome is written only while the row is still held
under that token, so a dispatcher whose lease ran out cannot overwrite a newer claim. A
running pass renews the leases it holds (:meth:`SqlOutbox.renew`), so leases can be short
and the rows of a dispatcher that died come back soon.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ppflow.adapters.db import rows_changed, table_of
from ppflow.adapters.orm import AdvisorRow, ContactRow, NotificationRow, StaffRow
from ppflow.adapters.repositories import SqlNotifications
from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.domain.model import StaffRole
from ppflow.services.notifications import STATUSES
from ppflow.services.ports import NewNotification, OutboxEntry, Outcome, Person

log = logging.getLogger(__name__)
T = table_of(NotificationRow)
ENDED = ("failed", "dead")
RETRYABLE = (*ENDED, "sending")  # sending: only once the lease is over


# The outcome writes, built once: each row is written only while still held under the token.
_HELD = and_(
    T.c.id == bindparam("b_id"),
    T.c.claimed_by == bindparam("b_token"),
    T.c.status == "sending",
)
_RELEASED = {"lease_until": None, "claimed_by": None}
_SENT = (
    update(T)
    .where(_HELD)
    .values(
        status="sent", sent_at=bindparam("b_now"), message_id=bindparam("b_message_id"), **_RELEASED
    )
)
_RETRY = (
    update(T)
    .where(_HELD)
    .values(
        status="pending",
        next_attempt_at=bindparam("b_next"),
        last_error=bindparam("b_error"),
        **_RELEASED,
    )
)
_ENDED = (
    update(T)
    .where(_HELD)
    .values(status=bindparam("b_status"), last_error=bindparam("b_error"), **_RELEASED)
)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives timestamps back without a zone; ppflow writes them all in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _driver(connection: Connection) -> Any:
    """The DBAPI connection under an open ``connection``. SQLAlchemy types it as optional
    because a pooled connection that was invalidated has none; an open one always has."""
    driver = connection.connection.driver_connection
    assert driver is not None, "an open connection holds its driver's connection"
    return driver


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        template=row.template,
        recipient_kind=row.recipient_kind,
        recipient_code=row.recipient_code,
        language=row.language,
        context=dict(row.context or {}),
        idempotency_key=row.idempotency_key,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=_aware(row.next_attempt_at),
        last_error=row.last_error,
        message_id=row.message_id,
        sent_at=_aware(row.sent_at),
        created_at=_aware(row.created_at),
        transition_id=row.transition_id,
    )


class SqlOutbox:
    """The outbox on SQL. It opens its own short transactions, outside any unit of work:
    a claim, a lease renewal and each write of outcomes commit on their own, at once,
    because at-most-once delivery needs a claim to be seen by every other dispatcher
    before anything is sent, and each answer of the server to be recorded before its
    connection sends another message. (Queueing a notification is not one of them: it
    goes through the unit of work, with the change that causes it.)"""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory
        self._synchronous: int | None = None  # SQLite's setting, put back after each write

    # ---------------------------------------------------------------- dispatching

    def claim(
        self, now: datetime, limit: int, lease_until: datetime, token: str
    ) -> list[OutboxEntry]:
        """Take up to ``limit`` rows that are due (pending and their time has come, or
        ``sending`` under a lease that has run out), mark them ``sending`` under
        ``token`` until ``lease_until``, and count the attempt."""
        due = or_(
            and_(T.c.status == "pending", T.c.next_attempt_at <= now),
            and_(T.c.status == "sending", T.c.lease_until < now),
        )
        picked = (
            select(T.c.id)
            .where(due)
            .order_by(T.c.next_attempt_at, T.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(T)
            .where(T.c.id.in_(picked.scalar_subquery()))
            .values(
                status="sending",
                lease_until=lease_until,
                claimed_by=token,
                attempts=T.c.attempts + 1,
            )
            .returning(*T.c)
        )
        with self.session_factory() as session, session.begin():
            rows = session.execute(claim).all()
        entries = [_entry(r) for r in rows]
        entries.sort(key=lambda e: (e.next_attempt_at, e.id))
        return entries

    def renew(self, token: str, lease_until: datetime) -> int:
        """Hold every row still claimed under ``token`` until ``lease_until`` (never
        shortening a lease). Returns how many rows are held."""
        query = (
            update(T)
            .where(T.c.claimed_by == token, T.c.status == "sending", T.c.lease_until < lease_until)
            .values(lease_until=lease_until)
        )
        with self.session_factory() as session, session.begin():
            return rows_changed(session.execute(query))

    def settle(
        self,
        token: str,
        now: datetime,
        outcomes: Sequence[Outcome],
        notices: Sequence[NewNotification] = (),
    ) -> int:
        """Record the outcomes of rows claimed under ``token`` and queue the notices they
        cause, in one transaction. Returns how many notices were queued.

        The rows are updated in the order of their ids, so that two dispatchers writing
        at once take their locks in the same order and never wait on each other in a
        circle. The statements are Core, on a connection of their own (no ORM session is
        built for a write that runs after every few answers). On SQLite the write is
        committed with ``synchronous=NORMAL`` (WAL): it survives the dispatcher's process
        being killed, which is what at-most-once is about; only a power cut or a crash of
        the machine can lose the last few writes, and then the messages they recorded
        are sent again."""
        ordered = sorted(outcomes, key=lambda o: o.id)
        # One dict of bound parameters a row; the token and the time are added below.
        sent: builtins.list[dict[str, Any]] = [
            {"b_id": o.id, "b_message_id": o.message_id} for o in ordered if o.status == "sent"
        ]
        retry: builtins.list[dict[str, Any]] = [
            {"b_id": o.id, "b_error": o.error, "b_next": o.next_attempt_at}
            for o in ordered
            if o.status == "pending"
        ]
        ended: builtins.list[dict[str, Any]] = [
            {"b_id": o.id, "b_status": o.status, "b_error": o.error}
            for o in ordered
            if o.status in ENDED
        ]
        written = queued = 0
        with self.engine.connect() as connection:
            relaxed = self._relax(connection)
            try:
                with connection.begin():
                    for statement, rows in (
                        (_SENT, sent),
                        (_RETRY, retry),
                        (_ENDED, ended),
                    ):
                        if rows:
                            for row in rows:
                                row["b_token"] = token
                                row["b_now"] = now
                            written += connection.execute(statement, rows).rowcount
                    if notices:
                        queued = self._queue_notices(connection, now, notices)
            finally:
                if relaxed is not None:
                    _driver(connection).execute(f"PRAGMA synchronous={relaxed}")
        expected = len(sent) + len(retry) + len(ended)
        if 0 <= written < expected:
            log.warning(
                "%d of %d outcomes were not recorded: their lease ran out and another "
                "dispatcher holds them now",
                expected - written,
                expected,
            )
        return queued

    @property
    def engine(self) -> Engine:
        return self.session_factory.kw["bind"]

    def _relax(self, connection: Connection) -> int | None:
        """On SQLite, commit without waiting for the disk (see :meth:`settle`); returns
        the connection's setting to put back, None elsewhere. The pragmas go to the
        driver's connection directly: no transaction is open yet, and they begin none."""
        if connection.dialect.name != "sqlite":
            return None
        driver = _driver(connection)
        if self._synchronous is None:
            self._synchronous = int(driver.execute("PRAGMA synchronous").fetchone()[0])
        driver.execute("PRAGMA synchronous=NORMAL")
        return self._synchronous

    @staticmethod
    def _queue_notices(
        connection: Connection, now: datetime, notices: Sequence[NewNotification]
    ) -> int:
        """Queue the notices in the connection's open transaction."""
        with Session(bind=connection, join_transaction_mode="rollback_only") as session:
            repository = SqlNotifications(session)
            queued = sum(
                repository.queue(
                    template=notice.template,
                    recipient_kind=notice.recipient_kind,
                    recipient_code=notice.recipient_code,
                    language=notice.language,
                    context=dict(notice.context),
                    idempotency_key=notice.idempotency_key,
                    at=now,
                    transition_id=None,
                )
                for notice in notices
            )
            session.commit()  # flushes into the connection's transaction, which commits it
        return queued

    # ---------------------------------------------------------------- coordinators

    def list(self, status: str | None = None, limit: int = 100) -> builtins.list[OutboxEntry]:
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status '{status}' is not one of {', '.join(STATUSES)}")
        query = select(T).order_by(T.c.id.desc()).limit(limit)
        if status:
            query = query.where(T.c.status == status)
        with self.session_factory() as session:
            return [_entry(r) for r in session.execute(query)]

    def get(self, notification_id: int) -> OutboxEntry:
        with self.session_factory() as session:
            row = session.execute(select(T).where(T.c.id == notification_id)).first()
        if row is None:
            raise NotFoundError("notification", str(notification_id))
        return _entry(row)

    def counts(self) -> dict[str, int]:
        with self.session_factory() as session:
            query = select(T.c.status, func.count()).group_by(T.c.status)
            found = {status: count for status, count in session.execute(query)}
        return {status: found.get(status, 0) for status in STATUSES}

    def oldest_unsent(self) -> datetime | None:
        """When the oldest message still to send (pending, or sending under a lease) was
        queued; None when every message has gone out or ended."""
        query = select(func.min(T.c.created_at)).where(T.c.status.in_(("pending", "sending")))
        with self.session_factory() as session:
            return _aware(session.scalar(query))

    def retry(
        self, now: datetime, ids: Iterable[int] = (), status: str | None = None
    ) -> builtins.list[int]:
        """Put failed or dead rows back in the queue, due now, with a fresh count of
        attempts; and rows left ``sending`` by a dispatcher whose lease is over (it died,
        or lost its connection to the database). Rows in any other state, and rows a
        dispatcher still holds, are left alone. Returns the ids re-queued."""
        ids = sorted(set(ids))
        if not ids and status is None:
            raise InvalidInputError("name the notifications to retry, or a status")
        if status is not None and status not in RETRYABLE:
            raise InvalidInputError(
                f"only {', '.join(RETRYABLE[:-1])} and {RETRYABLE[-1]} notifications can be "
                "retried (sending ones once their lease is over)"
            )
        ended = T.c.status.in_([s for s in ENDED if status in (None, s)])
        abandoned = and_(T.c.status == "sending", T.c.lease_until < now)
        query = update(T).where(or_(ended, abandoned) if status in (None, "sending") else ended)
        if ids:
            query = query.where(T.c.id.in_(ids))
        query = query.values(
            status="pending", next_attempt_at=now, attempts=0, lease_until=None, claimed_by=None
        ).returning(T.c.id)
        with self.session_factory() as session, session.begin():
            return sorted(session.scalars(query))


class SqlDirectory:
    """Recipients and the people a message mentions, read from staff and contacts when a
    message is rendered (never stored in the outbox)."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def people(self, advisors: Iterable[str], staff: Iterable[str]) -> dict[str, Person]:
        advisors, staff = set(advisors), set(staff)
        found: dict[str, Person] = {}
        with self.session_factory() as session:
            if advisors:
                query = (
                    select(AdvisorRow.code, ContactRow)
                    .join(ContactRow, ContactRow.advisor_id == AdvisorRow.id)
                    .where(AdvisorRow.code.in_(advisors))
                )
                for code, contact in session.execute(query):
                    erased = contact.erased_at is not None
                    found[code] = Person(
                        code=code,
                        kind="advisor",
                        first_name="" if erased else contact.first_name,
                        last_name="" if erased else contact.last_name,
                        email="" if erased else contact.email,
                        language=contact.language,
                        erased=erased,
                    )
            if staff:
                for row in session.scalars(select(StaffRow).where(StaffRow.code.in_(staff))):
                    found[row.code] = Person(row.code, "staff", row.name, "", row.email)
        return found

    def coordinators(self) -> list[Person]:
        with self.session_factory() as session:
            rows = session.scalars(
                select(StaffRow)
                .where(StaffRow.role == str(StaffRole.COORDINATOR))
                .order_by(StaffRow.id)
            )
            return [Person(r.code, "staff", r.name, "", r.email) for r in rows]
