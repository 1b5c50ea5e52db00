"""The structural indicators, counted by the database.

The transition log is the source of truth for time: where an advisor, a team or an
engagement stood at a moment is the number of times it entered a state before then minus
the number of times it left it. Every query is set-based (one statement per indicator,
grouped by the database), so the cost does not depend on Python loops over advisors; the
covering indexes declared on ``TransitionRow`` let each one read an index instead of the table.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    bindparam,
    case,
    distinct,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased, sessionmaker

from ppflow.adapters.orm import (
    AdvisorRow,
    EngagementRow,
    MeetingAttendanceRow,
    MeetingRow,
    ProgramTargetRow,
    SurveyRequestRow,
    TeamRow,
    TransitionReasonRow,
    TransitionRow,
    UtcDateTime,
)
from ppflow.domain.lifecycle import AdvisorStage, EngagementStage, TeamStage
from ppflow.resources import questionnaires_dir
from ppflow.services.ports import (
    Attendance,
    Compensation,
    Durations,
    ItemScores,
    Retention,
    TargetVersion,
    TeamCounts,
)

LEFT = (AdvisorStage.WITHDRAWN, AdvisorStage.ALUMNI)
T = TransitionRow


def _stamp(value: datetime):
    return literal(value, UtcDateTime())


def _days(dialect: str, earlier, later):
    """Days between two timestamps, fractional, in the database."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400.0


def _active_at(row, entity: str, end: datetime):
    """Ids of the teams or engagements (``row``) that were active just before ``end``:
    those active now that did not become active since ``end``, and those that left
    ``active`` since ``end`` having entered it before. Both lifecycles enter ``active``
    once. Like the funnel, this reads the log after ``end`` only."""
    active = TeamStage.ACTIVE if entity == "team" else EngagementStage.ACTIVE

    def moved(state_column, since: bool):
        t = aliased(TransitionRow)
        when = t.at >= _stamp(end) if since else t.at < _stamp(end)
        return (
            select(t.id)
            .where(t.entity == entity, state_column(t) == active, t.code == row.code, when)
            .exists()
        )

    still = select(row.id).where(row.stage == active, ~moved(lambda t: t.to_state, True))
    since = aliased(TransitionRow)
    was = (
        select(row.id)
        .join(since, since.code == row.code)
        .where(
            since.entity == entity,
            since.from_state == active,
            since.at >= _stamp(end),
            moved(lambda t: t.to_state, False),
        )
    )
    return union_all(still, was)


def _first(state: str):
    return (
        select(T.code, func.min(T.at).label("at"))
        .where(T.entity == "advisor", T.to_state == state)
        .group_by(T.code)
    )


def _percentiles(rows, n: int, wanted: dict[str, float]) -> dict[str, float | None]:
    by_rank = dict(rows)
    result = {}
    for name, p in wanted.items():
        position = p * (n - 1)
        low = int(position)
        value = by_rank[low + 1]
        if low + 2 in by_rank:
            value += (position - low) * (by_rank[low + 2] - value)
        result[name] = round(value, 1)
    return result


# The tables the indicators read, and how much of a table may change before its
# statistics are taken again (autovacuum's default is a tenth, plus 50 rows).
READ = ("transitions", "advisors", "engagements", "qi_teams", "survey_requests")
STALE = 0.2


def keep_statistics(session: Session) -> list[str]:
    """On PostgreSQL, ANALYZE those of READ that have no statistics, or that changed by
    more than STALE since they were taken; returns them. Autovacuum does this on its own
    when it runs, but a server where it is off, or a report run right after a large
    import, would plan on no statistics, and a plan without them can take minutes where
    it takes a second. Costs one query when nothing is stale. SQLite needs none: its plans
    of these queries are right with or without statistics
    (``tests/integration/test_indicator_plans.py``)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    found = session.execute(
        text(
            "SELECT c.relname, c.reltuples, coalesce(s.n_live_tup, 0),"
            " coalesce(s.n_mod_since_analyze, 0)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE n.nspname = current_schema() AND c.relname IN :names"
        ).bindparams(bindparam("names", expanding=True)),
        {"names": list(READ)},
    ).all()
    # reltuples is -1 until a table is first analyzed (or vacuumed)
    stale = [
        name
        for name, estimate, rows, changed in found
        if estimate < 0 or changed > STALE * max(rows, estimate, 1)
    ]
    if stale:
        # ANALYZE writes the planner's statistics, none of ppflow's data: it runs on a
        # connection of its own in autocommit, outside the read's transaction.
        engine = session.get_bind()
        assert isinstance(engine, Engine), "ppflow's sessions are bound to an engine"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in sorted(stale))))
    return sorted(stale)


class SqlIndicators:
    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory
        self._checked = False

    def _session(self) -> Session:
        """A session; the first one also makes sure PostgreSQL has statistics of the
        tables the indicators read (:func:`keep_statistics`)."""
        session = self.session_factory()
        if not self._checked:
            self._checked = True
            keep_statistics(session)
        return session

    def _dialect(self, session: Session) -> str:
        return session.get_bind().dialect.name

    def funnel_at(self, end: datetime) -> dict[str, int]:
        """Advisors at each stage just before ``end``: today's stages, rewound through
        the transitions logged since (each entry undone, each exit given back). The
        advisor row and its transition are written in one transaction, so the two agree;
        rewinding reads only the log after ``end``, which the index on ``at`` bounds."""
        now = select(AdvisorRow.stage.label("state"), func.count().label("n")).group_by(
            AdvisorRow.stage
        )
        # one row per move, grouped outside: the range on ``at`` picks the index
        undo = select(T.to_state.label("state"), literal(-1).label("n")).where(
            T.entity == "advisor", T.at >= _stamp(end)
        )
        give_back = select(T.from_state.label("state"), literal(1).label("n")).where(
            T.entity == "advisor", T.at >= _stamp(end), T.from_state.is_not(None)
        )
        moves = union_all(now, undo, give_back).subquery()
        total = func.sum(moves.c.n)
        query = select(moves.c.state, total).group_by(moves.c.state).having(total > 0)
        with self._session() as session:
            return {state: int(n) for state, n in session.execute(query)}

    def entered(self, stage: str, start: datetime, end: datetime) -> int:
        query = select(func.count(distinct(T.code))).where(
            T.entity == "advisor", T.to_state == stage, T.at >= _stamp(start), T.at < _stamp(end)
        )
        with self._session() as session:
            return session.scalar(query) or 0

    def _counts_over(self, count, edges: Sequence[datetime], *where) -> list[int]:
        """``count`` of the advisors' moves matching ``where`` in each period between
        consecutive ``edges``, in one statement grouped by period."""
        edges = sorted(edges)
        inner = [(T.at < _stamp(e), i) for i, e in enumerate(edges[1:-1])]
        period = case(*inner, else_=len(edges) - 2) if inner else literal(0)
        query = (
            select(period, count)
            .where(T.entity == "advisor", *where)
            .where(T.at >= _stamp(edges[0]), T.at < _stamp(edges[-1]))
            .group_by(period)
        )
        found = [0] * (len(edges) - 1)
        with self._session() as session:
            for i, n in session.execute(query).all():
                found[int(i)] = int(n)
        return found

    def entered_over(self, stage: str, edges: Sequence[datetime]) -> list[int]:
        """:meth:`entered` over each period between consecutive ``edges``."""
        if len(edges) < 2:
            return []
        return self._counts_over(func.count(distinct(T.code)), edges, T.to_state == stage)

    def new_referrals_over(self, edges: Sequence[datetime]) -> list[int]:
        """:meth:`new_referrals` over each period between consecutive ``edges``."""
        if len(edges) < 2:
            return []
        referred = (T.to_state == AdvisorStage.IDENTIFIED, T.from_state.is_(None))
        return self._counts_over(func.count(), edges, *referred)

    def funnel_moves(
        self, steps: Sequence[str], start: datetime, end: datetime
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Who reached each step in the period, and of them who moved on to the next.
        Reaching a step is the move from the step before (any entry for the first step),
        so coming back from hold, or from active to ready, is not reaching it again;
        moving on is a move from the step to the next one, no earlier than the first
        arrival and before ``end``. Both kinds of move fall in the period, so one pass
        over the period's moves (the range on ``at`` of one index), grouped by advisor,
        gives each advisor's first arrival at and last departure from every step, and a
        second grouping counts them. No join, so no plan can make it quadratic."""
        firsts, lasts = [], []
        for i, step in enumerate(steps):
            entry = T.to_state == step
            if i:
                entry = entry & (T.from_state == steps[i - 1])
            firsts.append(func.min(case((entry, T.at))).label(f"reached_{i}"))
            if i + 1 < len(steps):
                onward = (T.from_state == step) & (T.to_state == steps[i + 1])
                lasts.append(func.max(case((onward, T.at))).label(f"left_{i}"))
        per_advisor = (
            select(*firsts, *lasts)
            .where(T.entity == "advisor", T.at >= _stamp(start), T.at < _stamp(end))
            .group_by(T.code)
            .subquery()
        )
        columns: list[ColumnElement[Any]] = []
        for i in range(len(steps)):
            reached = per_advisor.c[f"reached_{i}"]
            columns.append(func.count(reached))
            if i + 1 < len(steps):
                on = per_advisor.c[f"left_{i}"] >= reached  # NULL (not counted) if either is
                columns.append(func.coalesce(func.sum(case((on, 1), else_=0)), 0))
        with self._session() as session:
            counts = iter(int(n) for n in session.execute(select(*columns)).one())
        first, second = {}, {}
        for i, step in enumerate(steps):  # steps nobody reached or left are left out
            if n := next(counts):
                first[step] = n
            if i + 1 < len(steps) and (n := next(counts)):
                second[step] = n
        return first, second

    def new_referrals(self, start: datetime, end: datetime) -> int:
        query = select(func.count()).where(
            T.entity == "advisor",
            T.to_state == AdvisorStage.IDENTIFIED,
            T.from_state.is_(None),
            T.at >= _stamp(start),
            T.at < _stamp(end),
        )
        with self._session() as session:
            return session.scalar(query) or 0

    def teams_at(self, end: datetime) -> TeamCounts:
        teams = _active_at(TeamRow, "team", end).subquery()
        engagements = _active_at(EngagementRow, "engagement", end).subquery()
        per_team = (
            select(
                EngagementRow.team_id.label("team_id"),
                func.count(distinct(EngagementRow.advisor_id)).label("n"),
            )
            .join(engagements, engagements.c.id == EngagementRow.id)
            .group_by(EngagementRow.team_id)
            .subquery()
        )
        n = func.coalesce(per_team.c.n, 0)
        query = select(
            func.count(),
            func.coalesce(func.sum(case((n >= 1, 1), else_=0)), 0),
            func.coalesce(func.sum(case((n >= 2, 1), else_=0)), 0),
            func.coalesce(func.sum(n), 0),
        ).select_from(teams.outerjoin(per_team, per_team.c.team_id == teams.c.id))
        with self._session() as session:
            total, one, two, advisors = session.execute(query).one()
        return TeamCounts(int(total), int(one), int(two), int(advisors))

    def teams_over(self, ends: Sequence[datetime]) -> list[TeamCounts]:
        """:meth:`teams_at` for each of ``ends`` (the quarters of a trend), from one reading
        of the teams, the engagements and their moves into and out of ``active``, folded
        here by the same rules as :func:`_active_at`: one count for being active now and
        not entered since an end, and one for each exit since an end when it had entered
        before it. Each move comes with the number of ends at or before it, worked out by
        the database, so no timestamp is read into Python."""
        if not ends:
            return []
        order = sorted(ends)
        # how many of the ends are at or before a move (bisect_right of its time)
        rank = case(*[(T.at < _stamp(e), i) for i, e in enumerate(order)], else_=len(order))
        actives = {"team": TeamStage.ACTIVE, "engagement": EngagementStage.ACTIVE}

        def moves(state_column, since_first: bool):
            kinds = or_(
                *[(T.entity == kind) & (state_column == state) for kind, state in actives.items()]
            )
            query = select(T.entity, T.code, rank).where(kinds)
            return query.where(T.at >= _stamp(order[0])) if since_first else query

        with self._session() as session:
            connection = session.connection()
            teams = connection.execute(select(TeamRow.id, TeamRow.code, TeamRow.stage)).all()
            engagements = connection.execute(
                select(
                    EngagementRow.code,
                    EngagementRow.stage,
                    EngagementRow.team_id,
                    EngagementRow.advisor_id,
                )
            ).all()
            # each read from its covering index, (entity, to_state|from_state, code, at)
            entered_rows = connection.execute(moves(T.to_state, False)).all()
            left_rows = connection.execute(moves(T.from_state, True)).all()
        # (entity, code) -> ranks of its first and last entries into active, of its exits
        entered: dict[tuple[str, str], tuple[int, int]] = {}
        for entity, code, r in entered_rows:
            low, high = entered.get((entity, code), (r, r))
            entered[entity, code] = (min(low, r), max(high, r))
        left: dict[tuple[str, str], list[int]] = {}
        for entity, code, r in left_rows:
            left.setdefault((entity, code), []).append(r)

        def counted(entity: str, code: str, stage: str, i: int) -> int:
            """How many times it is counted at the end ``order[i]``."""
            into = entered.get((entity, code))
            still = stage == actives[entity] and (into is None or i >= into[1])
            was = 0
            if into is not None and i >= into[0]:
                was = sum(1 for r in left.get((entity, code), ()) if r > i)
            return int(still) + was

        def mask(entity: str, code: str, stage: str) -> int:
            """The ends (bits, in ``order``) at which it counts at least once."""
            into = entered.get((entity, code))
            bits = 0
            if stage == actives[entity]:
                since = 0 if into is None else into[1]
                bits |= (1 << len(order)) - (1 << since)
            if into is not None:
                for r in left.get((entity, code), ()):
                    if r > into[0]:
                        bits |= (1 << r) - (1 << into[0])
            return bits

        # per team and advisor, the ends at which the advisor has an active engagement there
        pairs: dict[tuple[Any, Any], int] = {}
        for code, stage, team, advisor in engagements:
            if advisor is None:
                continue
            bits = mask("engagement", code, stage)
            if bits:
                pairs[team, advisor] = pairs.get((team, advisor), 0) | bits
        masks: defaultdict[Any, Counter[int]] = defaultdict(Counter)
        for (team, _), bits in pairs.items():
            masks[team][bits] += 1
        found = []
        for end in ends:
            i = order.index(end)
            total = one = two = people = 0
            for team, code, stage in teams:
                k = counted("team", code, stage, i)
                if not k:
                    continue
                n = sum(c for bits, c in masks[team].items() if bits >> i & 1)
                total += k
                one += k * (n >= 1)
                two += k * (n >= 2)
                people += k * n
            found.append(TeamCounts(total, one, two, people))
        return found

    def days_to_integration(self, start: datetime, end: datetime) -> Durations:
        """For advisors first integrated in the period: days from their first
        identification to their first activation, ranked by the database; the median and
        the 90th percentile interpolate between neighbouring ranks (as percentile_cont).
        The activations are grouped once (they were twice), each checked for an earlier
        one and given its first identification by a lookup keyed on the advisor."""
        earlier = aliased(TransitionRow)
        before = (
            select(earlier.id)
            .where(
                earlier.entity == "advisor",
                earlier.to_state == AdvisorStage.ACTIVE,
                earlier.code == T.code,
                earlier.at < _stamp(start),
            )
            .exists()
        )
        active = (
            select(T.code, func.min(T.at).label("at"))
            .where(
                T.entity == "advisor",
                T.to_state == AdvisorStage.ACTIVE,
                T.at >= _stamp(start),
                T.at < _stamp(end),
                ~before,
            )
            .group_by(T.code)
            .subquery()
        )
        first = aliased(TransitionRow)
        identified_at = (
            select(func.min(first.at))
            .where(
                first.entity == "advisor",
                first.to_state == AdvisorStage.IDENTIFIED,
                first.code == active.c.code,
            )
            .scalar_subquery()
        )
        pairs = select(active.c.at.label("active"), identified_at.label("identified")).subquery()
        with self._session() as session:
            dialect = self._dialect(session)
            days = _days(dialect, pairs.c.identified, pairs.c.active).label("d")
            durations = select(days).where(pairs.c.identified.is_not(None)).subquery()
            ranked = select(
                durations.c.d,
                func.row_number().over(order_by=durations.c.d).label("rn"),
                func.count().over().label("n"),
            ).subquery()
            n = type_coerce(ranked.c.n, Integer)  # so that // divides integers
            # rank of floor(p * (n - 1)) + 1 and the next one, in integer arithmetic
            lows = [(n - 1) // 2 + 1, (9 * (n - 1)) // 10 + 1]
            wanted = or_(*[ranked.c.rn.in_([low, low + 1]) for low in lows])
            rows = session.execute(select(ranked.c.rn, ranked.c.d, n).where(wanted)).all()
        if not rows:
            return Durations(0, None, None)
        count = int(rows[0][2])
        found = _percentiles([(int(r), float(d)) for r, d, _ in rows], count, {"m": 0.5, "p": 0.9})
        return Durations(count, found["m"], found["p"])

    def days_to_integration_over(self, edges: Sequence[datetime]) -> list[Durations]:
        """:meth:`days_to_integration` for each period between consecutive ``edges`` (the
        quarters of a trend), in one statement: each advisor's first activation, ranked by
        the database against the edges, with its days from the first identification; the
        median and the 90th percentile of each period are interpolated here, as there."""
        if len(edges) < 2:
            return []
        edges = sorted(edges)
        first_active = (
            select(T.code, func.min(T.at).label("at"))
            .where(T.entity == "advisor", T.to_state == AdvisorStage.ACTIVE)
            .group_by(T.code)
            .having(func.min(T.at) >= _stamp(edges[0]), func.min(T.at) < _stamp(edges[-1]))
            .subquery()
        )
        first = aliased(TransitionRow)
        identified_at = (
            select(func.min(first.at))
            .where(
                first.entity == "advisor",
                first.to_state == AdvisorStage.IDENTIFIED,
                first.code == first_active.c.code,
            )
            .scalar_subquery()
        )
        pairs = select(
            first_active.c.at.label("active"), identified_at.label("identified")
        ).subquery()
        inner = [(pairs.c.active < _stamp(e), i) for i, e in enumerate(edges[1:-1])]
        period = case(*inner, else_=len(edges) - 2) if inner else literal(0)
        with self._session() as session:
            days = _days(self._dialect(session), pairs.c.identified, pairs.c.active)
            rows = session.execute(
                select(period, days).where(pairs.c.identified.is_not(None))
            ).all()
        per_period: list[list[float]] = [[] for _ in edges[1:]]
        for i, d in rows:
            per_period[int(i)].append(float(d))
        found = []
        for values in per_period:
            if not values:
                found.append(Durations(0, None, None))
                continue
            ranked = list(enumerate(sorted(values), start=1))
            shown = _percentiles(ranked, len(values), {"m": 0.5, "p": 0.9})
            found.append(Durations(len(values), shown["m"], shown["p"]))
        return found

    def retention(self, end: datetime, days: int) -> Retention:
        """Advisors first active at least ``days`` before ``end``, and of them those who
        had not left (withdrawn or alumni, both final) ``days`` after becoming active."""
        active = _first(AdvisorStage.ACTIVE).having(
            func.min(T.at) <= _stamp(end - timedelta(days=days))
        )
        active = active.subquery()
        left = union_all(*[_first(state) for state in LEFT]).subquery()
        with self._session() as session:
            dialect = self._dialect(session)
            stayed = or_(left.c.at.is_(None), _days(dialect, active.c.at, left.c.at) >= days)
            query = select(
                func.count(), func.coalesce(func.sum(case((stayed, 1), else_=0)), 0)
            ).select_from(active.outerjoin(left, left.c.code == active.c.code))
            cohort, retained = session.execute(query).one()
        return Retention(int(cohort), int(retained))

    def reasons_for_leaving(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
        reason = func.coalesce(TransitionReasonRow.reason, "")
        query = (
            select(T.to_state, reason, func.count())
            .outerjoin(TransitionReasonRow, TransitionReasonRow.transition_id == T.id)
            .where(
                T.entity == "advisor",
                T.to_state.in_(LEFT),
                T.at >= _stamp(start),
                T.at < _stamp(end),
            )
            .group_by(T.to_state, reason)
            .order_by(func.count().desc(), T.to_state, reason)
        )
        with self._session() as session:
            return [
                (state, why or "no reason given", n) for state, why, n in session.execute(query)
            ]

    def compensation(self, start: datetime, end: datetime) -> Compensation | None:
        """Hours logged and pay owed for activities dated in the period (payment an advisor
        declined is left out; expenses are kept apart), from the compensation tables;
        None where this installation has none."""
        try:
            from ppflow.adapters.orm_compensation import ActivityLogRow, ExpenseRow
        except ImportError:
            return None
        first, after = start.astimezone(UTC).date(), end.astimezone(UTC).date()
        A, E = ActivityLogRow, ExpenseRow
        logged = select(
            func.coalesce(func.sum(A.centihours), 0),
            func.coalesce(func.sum(case((A.declined.is_(False), A.amount_cents), else_=0)), 0),
        ).where(A.activity_date >= first, A.activity_date < after)
        expenses = select(func.coalesce(func.sum(E.amount_cents), 0)).where(
            E.expense_date >= first, E.expense_date < after
        )
        with self._session() as session:
            if not inspect(session.get_bind()).has_table(A.__tablename__):
                return None
            centihours, cents = session.execute(logged).one()
            expense_cents = session.execute(expenses).scalar_one()  # an aggregate: one row
        return Compensation(int(centihours) / 100, int(cents) / 100, int(expense_cents) / 100)

    def feedback_mean(self, start: datetime, end: datetime) -> tuple[float | None, int]:
        S = SurveyRequestRow
        query = select(func.avg(S.score), func.count(S.score)).where(
            S.score.is_not(None), S.answered_at >= _stamp(start), S.answered_at < _stamp(end)
        )
        with self._session() as session:
            mean, n = session.execute(query).one()
        return (round(float(mean), 2) if mean is not None else None), int(n)

    def attendance(self, start: date, end: date) -> list[Attendance]:
        M, R = MeetingRow, MeetingAttendanceRow
        query = (
            select(
                TeamRow.code,
                func.count(),
                func.sum(case((R.present.is_(True), 1), else_=0)),
            )
            .select_from(R)
            .join(M, M.id == R.meeting_id)
            .join(TeamRow, TeamRow.id == M.team_id)
            .where(M.held_on >= start, M.held_on < end)
            .group_by(TeamRow.code)
            .order_by(TeamRow.code)
        )
        with self._session() as session:
            rows = session.execute(query).all()
        return [Attendance(team, int(held), int(attended or 0)) for team, held, attended in rows]

    def item_scores(self, start: datetime, end: datetime) -> list[ItemScores]:
        """Mean of each scale item per quarter, the JSON answers unnested by the database."""
        with self._session() as session:
            if self._dialect(session) == "sqlite":
                # the quarter once per questionnaire (not per answer), from the stored
                # UTC text 'YYYY-MM-DD HH:MM:SS'
                sql = """
                    WITH s AS MATERIALIZED (
                        SELECT substr(answered_at, 1, 4) || 'Q' ||
                               ((CAST(substr(answered_at, 6, 2) AS INTEGER) + 2) / 3) AS quarter,
                               answers
                        FROM survey_requests
                        WHERE answered_at >= :start AND answered_at < :end
                          AND answers IS NOT NULL)
                    SELECT s.quarter, j.key, AVG(j.value), COUNT(*)
                    FROM s, json_each(s.answers) AS j
                    WHERE j.type = 'integer'
                    GROUP BY 1, 2"""
            else:
                sql = """
                    SELECT to_char(s.answered_at AT TIME ZONE 'UTC', 'YYYY"Q"Q') AS quarter,
                           j.key, AVG((j.value::text)::numeric), COUNT(*)
                    FROM survey_requests AS s
                    CROSS JOIN LATERAL json_each(s.answers) AS j
                    WHERE s.answered_at >= :start AND s.answered_at < :end
                      AND s.answers IS NOT NULL AND json_typeof(j.value) = 'number'
                    GROUP BY 1, 2"""
            query = text(sql).bindparams(
                bindparam("start", start, type_=UtcDateTime()),
                bindparam("end", end, type_=UtcDateTime()),
            )
            rows = session.execute(query).all()
        return [ItemScores(q, item, float(mean), int(n)) for q, item, mean, n in rows]

    def item_themes(self) -> tuple[dict[str, str], dict[str, str]] | None:
        """Item -> theme, and theme -> English title, from the shipped questionnaires."""
        import yaml  # only here: the CLI's start-up stays short

        items: dict[str, str] = {}
        titles: dict[str, str] = {}
        for path in sorted(questionnaires_dir().glob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            for theme in data.get("themes") or []:
                if isinstance(theme, dict) and "id" in theme:
                    title = theme.get("title")
                    # YAML gives any value; the shipped questionnaires' titles are text.
                    titles[theme["id"]] = cast(
                        str,
                        title.get("en", theme["id"]) if isinstance(title, dict) else theme["id"],
                    )
            for item in data.get("items") or []:
                if isinstance(item, dict) and item.get("id") and item.get("theme"):
                    items[str(item["id"])] = str(item["theme"])
        return (items, titles) if items else None

    def target_versions(self) -> list[TargetVersion]:
        """Every version of each target, oldest first, each with the value of the version
        before it; the report picks the one in force during its period. Targets are a
        handful of rows, read whole."""
        P = ProgramTargetRow
        query = select(P.indicator, P.target, P.period, P.version, P.created_at).order_by(
            P.indicator, P.version, P.id
        )
        with self._session() as session:
            rows = session.execute(query).all()
        latest: dict[str, TargetVersion] = {}
        versions = []
        for indicator, target, period, version, changed in rows:
            before = latest.get(indicator)
            latest[indicator] = TargetVersion(
                indicator,
                float(target),
                period,
                int(version),
                changed,
                before.target if before else None,
            )
            versions.append(latest[indicator])
        return versions
