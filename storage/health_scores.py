"""Health scores: the scheduler's reads of a plan's customers and milestones, the score history, the bulk updates.

Built for 100,000 customers in one tick: customers are read in chunks by id with their milestones in one query per
chunk (Core rows: nothing here needs identity tracking, and it is several times faster than ORM rows), and scores
are written with executemany straight to the driver (``storage.bulk``). Every function runs in the caller's
session, so the scheduler keeps one transaction per plan with the plan row locked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from steps.health import MilestoneState, ScoreBreakdown
from steps.step3 import Band
from storage.bulk import datetime_value, execute_many, json_value, raw_rows
from storage.models import Customer, CustomerMilestone, HealthScore

SCORE_CHUNK = 5000
BANDS: dict[str | None, Band] = {band.value: band for band in Band}
# Core tables, not ORM entities: executemany straight to the driver (mapped classes type ``__table__`` loosely).
CUSTOMERS = cast(Table, Customer.__table__)
HEALTH_SCORES = cast(Table, HealthScore.__table__)
MILESTONES = cast(Table, CustomerMilestone.__table__)
UTC_DATETIME = HEALTH_SCORES.c.computed_at.type
HISTORY_TYPES = {"computed_at": UTC_DATETIME, "breakdown": HEALTH_SCORES.c.breakdown.type}

# (points_on_time, points_missed) per plan position: a customer's milestone rows only know their position.
MilestonePoints = Sequence[tuple[int | None, int | None]]


@dataclass(frozen=True, slots=True)
class CustomerToScore:
    id: int
    name: str
    owner_id: str | None
    signals: dict[str, Any]
    signal_times: dict[str, Any]  # factor key -> when its latest value was true (ISO 8601)
    reported_score: float | None  # what the team last heard, to tell movers apart
    reported_band: Band | None
    milestones: list[MilestoneState]


def customers_to_score(
    session: Session, plan_id: int, points: MilestonePoints, customer_ids: Iterable[int] | None = None
) -> Iterator[list[CustomerToScore]]:
    """A plan's customers (or the ones named) with their milestones, ``SCORE_CHUNK`` at a time in id order.

    Each chunk is read when the previous one has been consumed, so the caller may write between chunks.
    """
    if customer_ids is None:
        yield from _all_customers(session, plan_id, points)
        return
    pending = sorted(customer_ids)
    for start in range(0, len(pending), SCORE_CHUNK):
        chunk = (
            _customer_rows(plan_id).where(Customer.id.in_(pending[start : start + SCORE_CHUNK])).order_by(Customer.id)
        )
        yield _with_milestones(session, plan_id, points, session.connection().execute(chunk).all())


def _all_customers(session: Session, plan_id: int, points: MilestonePoints) -> Iterator[list[CustomerToScore]]:
    last_id = 0
    while True:
        query = _customer_rows(plan_id).where(Customer.id > last_id).order_by(Customer.id).limit(SCORE_CHUNK)
        rows = session.connection().execute(query).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield _with_milestones(session, plan_id, points, rows)
        if len(rows) < SCORE_CHUNK:
            return


def _customer_rows(plan_id: int) -> Select[Any]:
    return select(
        Customer.id, Customer.name, Customer.owner_id, Customer.signals, Customer.signal_times,
        Customer.reported_score, Customer.reported_band,
    ).where(Customer.plan_id == plan_id)  # fmt: skip


def _with_milestones(
    session: Session, plan_id: int, points: MilestonePoints, customers: Sequence[Any]
) -> list[CustomerToScore]:
    """``customers`` in id order: their milestones are read by id range."""
    if not customers:
        return []
    # One range query instead of an IN list: the (plan_id, customer_id, position) index returns them in order.
    milestone_rows = session.connection().execute(
        select(
            CustomerMilestone.customer_id, CustomerMilestone.position, CustomerMilestone.name,
            CustomerMilestone.due_date, CustomerMilestone.completed_on,
        )
        .where(CustomerMilestone.plan_id == plan_id)
        .where(CustomerMilestone.customer_id.between(customers[0].id, customers[-1].id))
        .order_by(CustomerMilestone.customer_id, CustomerMilestone.position)
    ).all()  # fmt: skip
    states: dict[int, list[MilestoneState]] = defaultdict(list)
    for customer_id, position, name, due, done in milestone_rows:
        # A milestone removed from the plan after it was reached or alerted keeps its row but earns no points.
        on_time, missed = points[position] if position < len(points) else (None, None)
        states[customer_id].append(MilestoneState(position, name, due, done, on_time, missed))
    return [
        CustomerToScore(
            row.id, row.name, row.owner_id, row.signals or {}, row.signal_times or {}, row.reported_score,
            BANDS.get(row.reported_band), states[row.id],
        )
        for row in customers
    ]  # fmt: skip


def record_scores(
    session: Session,
    team_id: str,
    plan_id: int,
    scores: Iterable[tuple[int, ScoreBreakdown]],
    now: datetime,
    *,
    reported: bool,
    absorbed: Collection[int] = (),
) -> None:
    """Keep each (customer id, score) in the history and make it the customer's current score.

    ``reported`` marks the new bands as told to the team (a health update), so only later drops alert. ``absorbed``
    names customers whose new band is no news (staleness alone moved it): it counts as reported, so it never
    alerts, while their reported score stays what the team last heard.
    """
    history: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    # One dict per breakdown object: customers imported together share theirs (bot.imports scores them once per
    # start date). Keyed by id() with the object kept alive, so an id is never reused for another breakdown.
    as_dicts: dict[int, tuple[ScoreBreakdown, dict[str, Any]]] = {}
    for customer_id, breakdown in scores:
        band = breakdown.band.value if breakdown.band else None
        known = as_dicts.get(id(breakdown))
        if known is None:
            known = as_dicts[id(breakdown)] = (breakdown, breakdown.stored())
        history.append({"customer_id": customer_id, "score": breakdown.score, "band": band, "breakdown": known[1]})
        changes.append({"cid": customer_id, "new_score": breakdown.score, "new_band": band})
    shared = {"team_id": team_id, "plan_id": plan_id, "computed_at": now}
    execute_many(session, insert(HEALTH_SCORES), history, types=HISTORY_TYPES, shared=shared)
    execute_many(session, _score_update(reported), changes, types={"at": UTC_DATETIME}, shared={"at": now})
    if absorbed and not reported:
        _hear(session, {change["cid"]: change["new_band"] for change in changes}, absorbed)


def _hear(session: Session, bands: Mapping[int, str | None], absorbed: Collection[int]) -> None:
    """The new bands of ``absorbed`` customers count as heard: staleness alone moved them, which is no news."""
    execute_many(
        session,
        update(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("cid")).values(reported_band=bindparam("heard_band")),
        [{"cid": customer_id, "heard_band": bands[customer_id]} for customer_id in absorbed if customer_id in bands],
        types={},
    )


def _score_update(reported: bool) -> Update:
    table = CUSTOMERS
    values: dict[str, Any] = {
        "score": bindparam("new_score"),
        "band": bindparam("new_band"),
        "scored_at": bindparam("at"),
    }
    if reported:
        values |= {"reported_score": bindparam("new_score"), "reported_band": bindparam("new_band")}
    return update(table).where(table.c.id == bindparam("cid")).values(**values)


def reported_band(session: Session, customer_id: int) -> Band | None:
    """The band the team last heard of for this customer."""
    return BANDS.get(session.scalar(select(Customer.reported_band).where(Customer.id == customer_id)))


def latest_breakdown(session: Session, customer_id: int) -> ScoreBreakdown | None:
    """How the customer's newest score in the history was reached; None before the first one."""
    return latest_breakdowns(session, [customer_id]).get(customer_id)


# --- the lean path: raw driver rows, for the health update over every customer of a plan -------------------------

# (customer id, score, band, ``ScoreBreakdown.stored()``)
LeanScored = tuple[int, float | None, str | None, dict[str, Any]]


def day_value(session: Session, day: date) -> Any:
    """``day`` as ``lean_milestones`` hands back dates, to compare with them: SQLite's driver gives ISO strings."""
    return day.isoformat() if session.connection().dialect.name == "sqlite" else day


FEW = 1000  # up to this many customers, spread over a range this many times wider, are read by id, not by range


def _customers_named(column: ColumnElement[int], customer_ids: Sequence[int]) -> ColumnElement[bool]:
    """``column`` (a customer id) is one of ``customer_ids`` (ascending), or in their range.

    The range reads every customer between the first and the last, skipped in Python: right for the many customers of a
    check or a file, whose ids are dense. A few customers far apart (an API call naming the first and the last of a
    plan of 100,000) are read by id instead: the range read them all, 139 ms (bench/README.md, "History reads")."""
    if len(customer_ids) <= FEW and customer_ids[-1] - customer_ids[0] >= FEW * len(customer_ids):
        return column.in_(customer_ids)
    return column.between(customer_ids[0], customer_ids[-1])


def lean_milestones(session: Session, plan_id: int, customer_ids: Sequence[int]) -> Iterator[
    dict[int, list[tuple[int, str, Any, Any]]]]:  # fmt: skip
    """The milestones of the named customers (ascending ids) as raw values in plan order, ``SCORE_CHUNK`` customers
    at a time: customer id -> rows. One query reads them all from the index alone (it holds every column read,
    migration 0008), by id range (``_customers_named``): no IN list of thousands of ids, and the other customers' rows
    in the range are skipped."""
    if not customer_ids:
        return
    m = MILESTONES.c
    found: dict[int, list[tuple[int, str, Any, Any]]] = {customer_id: [] for customer_id in customer_ids}
    for customer_id, position, name, due, done in raw_rows(
        session,
        select(m.customer_id, m.position, m.name, m.due_date, m.completed_on)
        .where(m.plan_id == plan_id, _customers_named(m.customer_id, customer_ids))
        .order_by(m.customer_id, m.position),
    ):  # fmt: skip
        rows = found.get(customer_id)
        if rows is not None:
            rows.append((position, name, due, done))
    for start in range(0, len(customer_ids), SCORE_CHUNK):
        yield {customer_id: found[customer_id] for customer_id in customer_ids[start : start + SCORE_CHUNK]}


def record_lean_scores(session: Session, team_id: str, plan_id: int, scores: Sequence[LeanScored],
                       now: datetime, *, reported: bool = True, absorbed: Collection[int] = ()) -> None:  # fmt: skip
    """Keep each score in the history and make it the customer's current score; ``reported`` and ``absorbed`` as for
    ``record_scores``. The health update reports every score (``mark_reported`` does the same for the scores it did
    not recompute); an import between updates does not."""
    history = [{"customer_id": cid, "score": score, "band": band, "breakdown": breakdown}
               for cid, score, band, breakdown in scores]  # fmt: skip
    changes = [{"cid": cid, "new_score": score, "new_band": band} for cid, score, band, _ in scores]
    shared = {"team_id": team_id, "plan_id": plan_id, "computed_at": now}
    execute_many(session, insert(HEALTH_SCORES), history, types=HISTORY_TYPES, shared=shared)
    execute_many(session, _score_update(reported), changes, types={"at": UTC_DATETIME}, shared={"at": now})
    if absorbed and not reported:
        _hear(session, {cid: band for cid, _, band, _ in scores}, absorbed)


def scoring_inputs(
    session: Session, plan_id: int, customer_ids: Sequence[int]
) -> dict[int, tuple[dict[str, Any], dict[str, Any], Band | None]]:
    """(signals, their observed times, band last heard) of the named customers (ascending ids, one chunk of them),
    read by id (range) from raw rows."""
    if not customer_ids:
        return {}
    c = CUSTOMERS.c
    named = set(customer_ids)
    rows = raw_rows(
        session,
        select(c.id, c.signals, c.signal_times, c.reported_band).where(
            c.plan_id == plan_id, _customers_named(c.id, customer_ids)
        ),
    )
    return {
        customer_id: (json_value(signals) or {}, json_value(times) or {}, BANDS.get(heard))
        for customer_id, signals, times, heard in rows
        if customer_id in named
    }


def current_scores(session: Session, plan_id: int) -> list[tuple[Any, ...]]:
    """Every customer's stored current score in id order: (id, name, owner_id, score, band, reported_score,
    reported_band, signals, signal_times, scored_at), from raw rows."""
    c = CUSTOMERS.c
    rows = raw_rows(
        session,
        select(c.id, c.name, c.owner_id, c.score, c.band, c.reported_score, c.reported_band, c.signals, c.signal_times,
               c.scored_at)
        .where(c.plan_id == plan_id)
        .order_by(c.id),
    )  # fmt: skip
    decode, at = json_value, datetime_value
    return [
        (customer_id, name, owner, score, band, reported, heard, decode(signals) or {}, decode(times) or {}, at(scored))
        for customer_id, name, owner, score, band, reported, heard, signals, times, scored in rows
    ]


def mark_reported(session: Session, customer_ids: Collection[int]) -> None:
    """Make the named customers' current score and band the ones the team heard (the caller names those that differ,
    so no other row is read or written)."""
    c = CUSTOMERS.c
    execute_many(
        session,
        update(CUSTOMERS).where(c.id == bindparam("cid")).values(reported_score=c.score, reported_band=c.band),
        [{"cid": customer_id} for customer_id in sorted(customer_ids)],
        types={},
    )


def deadlines_passed(session: Session, plan_id: int, first_day: date, today: date) -> set[int]:
    """Customers with a milestone still open whose deadline passed on a day in [first_day, today): their score
    counts it from today on."""
    m = CustomerMilestone
    return set(
        session.scalars(
            select(m.customer_id)
            .where(m.plan_id == plan_id, m.completed_on.is_(None), m.due_date >= first_day, m.due_date < today)
            .distinct()
        )
    )


def latest_breakdowns(session: Session, customer_ids: Collection[int]) -> dict[int, ScoreBreakdown]:
    """How each named customer's newest score in the history was reached (customers never scored are left out)."""
    found: dict[int, ScoreBreakdown] = {}
    pending = sorted(customer_ids)
    h = HEALTH_SCORES.c
    # One index seek per customer for its newest row, and only that row leaves the database: the history grows by a
    # row per customer and update, and reading (and decoding) all of it made this read 13 times slower after a year
    # of weekly updates (bench/README.md, "Issue 12, third round").
    c = CUSTOMERS.c
    newest = (
        select(h.id)
        .where(h.customer_id == c.id)
        .order_by(h.computed_at.desc(), h.id.desc())
        .limit(1)
        .correlate(CUSTOMERS)
        .scalar_subquery()
    )
    kept = HEALTH_SCORES.alias("kept")
    for start in range(0, len(pending), SCORE_CHUNK):
        rows = session.execute(
            select(c.id, kept.c.breakdown)
            .select_from(CUSTOMERS)
            .join(kept, kept.c.id == newest)
            .where(c.id.in_(pending[start : start + SCORE_CHUNK]))
        )
        for customer_id, breakdown in rows:
            found[customer_id] = ScoreBreakdown.from_dict(breakdown)
    return found
