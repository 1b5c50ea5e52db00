"""Bulk reads and writes of a large referral import, with SQLAlchemy Core.

:class:`SqlReferralBatch` writes what :func:`ppflow.services.advisors.add_referral` writes
through the repositories (an advisor, their contact with its unique keys, the referral,
the first transition and its reason, the outbox rows), for any number of referrals at
once. It checks nothing itself: the use case has checked every row before, reading only,
and whatever the database still refuses (a person registered meanwhile) fails the whole
import.

The rows first go, a few thousand at a time with ``executemany``, into two temporary
tables of the transaction's own connection. Those belong to that connection alone, so on
SQLite they take no lock on the database file, however long the file is. Then one
``INSERT ... SELECT`` per table copies them into the real tables, joining on the advisors'
and transitions' codes for the ids, with the import's one moment ``at`` for every
timestamp, and the unit of work commits: the write lock is held
only for those few statements, which run inside the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ppflow.adapters.db import table_of
from ppflow.adapters.orm import (
    AdvisorRow,
    ContactRow,
    NotificationRow,
    ProgramRow,
    ReferralRow,
    StaffRow,
    TransitionReasonRow,
    TransitionRow,
    UtcDateTime,
)
from ppflow.adapters.repositories import contact_keys
from ppflow.services.ports import NewReferral
from ppflow.services.queries import search_text
from ppflow.services.referral_import import RegisteredMeanwhileError

CHUNK = 2000  # referrals per executemany into the staging tables
SQLITE_CACHE_KB = 32768  # the page cache of the copy on SQLite (32 MB at most)

advisors = table_of(AdvisorRow)
contacts = table_of(ContactRow)
referrals_table = table_of(ReferralRow)
transitions = table_of(TransitionRow)
reasons = table_of(TransitionReasonRow)
notifications = table_of(NotificationRow)
programs = table_of(ProgramRow)
staff = table_of(StaffRow)

_staging = MetaData()
stage = Table(
    "ppflow_referral_stage",
    _staging,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("code", Text, nullable=False),
    Column("program", Text),
    Column("languages", JSON),
    Column("tags", JSON),
    Column("skills", JSON),
    Column("availability_hours", Integer),
    Column("version", Integer),
    Column("stage", Text),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("language", Text),
    Column("context", Text),
    Column("email_key", Text),
    Column("phone_key", Text),
    Column("search_text", Text),
    Column("referrer", Text),
    Column("source", Text),
    Column("entity", Text),
    Column("to_state", Text),
    Column("actor", Text),
    Column("reason", Text),
    Column("request_id", Text),
    Column("flow_run_id", Text),
    prefixes=["TEMPORARY"],
)
notice_stage = Table(
    "ppflow_notice_stage",
    _staging,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("code", Text, nullable=False),
    Column("template", Text),
    Column("recipient_kind", Text),
    Column("recipient_code", Text),
    Column("language", Text),
    Column("context", JSON),
    Column("idempotency_key", Text),
    prefixes=["TEMPORARY"],
)


def _chunks(items: Iterable[NewReferral], size: int) -> Iterator[list[NewReferral]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _staged(chunk: list[NewReferral], start: int, notice_start: int) -> tuple[list, list]:
    """The staging rows of a chunk: one per referral, one per notice, numbered in order."""
    rows: list[dict] = []
    notices: list[dict] = []
    for seq, r in enumerate(chunk, start=start):
        a, c, t = r.advisor, r.contact, r.transition
        email_key, phone_key = contact_keys(c.email, c.phone)
        rows.append(
            {
                "seq": seq,
                "code": a.code,
                "program": a.program,
                "languages": a.languages,
                "tags": a.tags,
                "skills": a.skills,
                "availability_hours": a.availability_hours,
                "version": a.version,
                "stage": str(a.stage),
                "first_name": c.first_name,
                "last_name": c.last_name,
                "email": c.email,
                "phone": c.phone,
                "language": c.language,
                "context": c.context,
                "email_key": email_key,
                "phone_key": phone_key,
                "search_text": search_text(c.first_name, c.last_name, c.email),
                "referrer": r.referrer,
                "source": r.source,
                "entity": t.entity,
                "to_state": str(t.to_state),
                "actor": t.actor,
                "reason": t.reason,
                "request_id": t.request_id,
                "flow_run_id": t.flow_run_id,
            }
        )
        for n in r.notices:
            notices.append(
                {
                    "seq": notice_start + len(notices),
                    "code": a.code,
                    "template": n.template,
                    "recipient_kind": n.recipient_kind,
                    "recipient_code": n.recipient_code,
                    "language": n.language,
                    "context": n.context,
                    "idempotency_key": n.idempotency_key,
                }
            )
    return rows, notices


class SqlReferralBatch:
    def __init__(self, session: Session):
        self.session = session

    def replayed(self, request_ids: Sequence[str]) -> dict[str, str]:
        query = select(TransitionRow.request_id, TransitionRow.code).where(
            TransitionRow.request_id.in_(list(request_ids))
        )
        return {key: code for key, code in self.session.execute(query) if key}  # all have one

    def codes_taken(self, codes: Sequence[str]) -> set[str]:
        query = select(AdvisorRow.code).where(AdvisorRow.code.in_(list(codes)))
        return set(self.session.scalars(query))

    def add(self, referrals: Iterable[NewReferral], at: datetime) -> None:
        connection = self.session.connection()
        self._drop_stages(connection)
        _staging.create_all(connection, checkfirst=False)
        try:
            staged = noticed = 0
            for chunk in _chunks(referrals, CHUNK):
                rows, notices = _staged(chunk, staged, noticed)
                connection.execute(insert(stage), rows)
                if notices:
                    connection.execute(insert(notice_stage), notices)
                staged, noticed = staged + len(rows), noticed + len(notices)
            if staged and self._copy_cached(connection, at) != staged:
                # a referrer left the staff list between the check and the write
                raise RegisteredMeanwhileError()
        except IntegrityError:
            raise RegisteredMeanwhileError() from None
        # On a failure the rollback drops them on PostgreSQL; on SQLite (where they were
        # created outside the transaction) the next import on the connection does.
        self._drop_stages(connection)

    @staticmethod
    def _drop_stages(connection) -> None:
        for table in (notice_stage, stage):
            connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))

    def _copy_cached(self, connection, at: datetime) -> int:
        """On SQLite, the copy updates a dozen indexes at random places (the codes are
        random): with SQLite's default 2 MB page cache it would read the same pages again
        and again, so the connection gets a larger cache for these few statements."""
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
            connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        try:
            return self._copy(connection, literal(at, UtcDateTime()))
        finally:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")

    @staticmethod
    def _copy(connection, at) -> int:
        """The real inserts, one statement per table, in the staged order. Returns the
        number of referrals written (each needs its referrer among the staff)."""
        s = stage.c
        connection.execute(
            insert(advisors).from_select(
                [
                    "code",
                    "stage",
                    "held_from",
                    "program_id",
                    "languages",
                    "tags",
                    "skills",
                    "availability_hours",
                    "version",
                    "stage_changed_at",
                ],
                select(
                    s.code,
                    s.stage,
                    null(),
                    programs.c.id,
                    s.languages,
                    s.tags,
                    s.skills,
                    s.availability_hours,
                    s.version,
                    at,
                )
                .select_from(stage.outerjoin(programs, programs.c.code == s.program))
                .order_by(s.seq),
            )
        )
        with_advisor = stage.join(advisors, advisors.c.code == s.code)
        connection.execute(
            insert(contacts).from_select(
                [
                    "advisor_id",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "language",
                    "context",
                    "email_key",
                    "phone_key",
                    "search_text",
                ],
                select(
                    advisors.c.id,
                    s.first_name,
                    s.last_name,
                    s.email,
                    s.phone,
                    s.language,
                    s.context,
                    s.email_key,
                    s.phone_key,
                    s.search_text,
                )
                .select_from(with_advisor)
                .order_by(s.seq),
            )
        )
        written = connection.execute(
            insert(referrals_table).from_select(
                ["advisor_id", "referred_by_id", "referred_at", "source"],
                select(advisors.c.id, staff.c.id, at, s.source)
                .select_from(with_advisor.join(staff, staff.c.code == s.referrer))
                .order_by(s.seq),
            )
        )
        connection.execute(
            insert(transitions).from_select(
                [
                    "entity",
                    "code",
                    "from_state",
                    "to_state",
                    "at",
                    "actor",
                    "request_id",
                    "flow_run_id",
                ],
                select(
                    s.entity,
                    s.code,
                    null(),
                    s.to_state,
                    at,
                    s.actor,
                    s.request_id,
                    s.flow_run_id,
                ).order_by(s.seq),
            )
        )
        # A new advisor's code has one transition, its first. The join is on the code alone
        # (advisor codes are PA-..., no other entity's), so that it uses the code's index.
        first = transitions.c.code == s.code
        connection.execute(
            insert(reasons).from_select(
                ["transition_id", "reason"],
                select(transitions.c.id, s.reason)
                .select_from(stage.join(transitions, first))
                .where(s.reason.is_not(None))
                .order_by(s.seq),
            )
        )
        ns = notice_stage.c
        connection.execute(
            insert(notifications).from_select(
                [
                    "template",
                    "recipient_kind",
                    "recipient_code",
                    "language",
                    "context",
                    "idempotency_key",
                    "transition_id",
                    "status",
                    "attempts",
                    "next_attempt_at",
                ],
                select(
                    ns.template,
                    ns.recipient_kind,
                    ns.recipient_code,
                    ns.language,
                    ns.context,
                    ns.idempotency_key,
                    transitions.c.id,
                    literal("pending"),
                    literal(0),
                    at,
                )
                .select_from(notice_stage.join(transitions, transitions.c.code == ns.code))
                .order_by(ns.seq),
            )
        )
        if written.rowcount >= 0:
            return written.rowcount
        # psycopg gives no count for INSERT ... SELECT: count what was written
        return connection.scalar(
            select(func.count()).select_from(
                with_advisor.join(referrals_table, referrals_table.c.advisor_id == advisors.c.id)
            )
        )
