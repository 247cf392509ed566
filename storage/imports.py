"""Customers and signals written in bulk, by external id: upserts that say what they created, updated or left alone.

Every write path (the slash command, a CSV file, an API batch) goes through here, so a customer is one row per
(plan, external id) however it arrived, and a rerun of the same input changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from steps.imports import CustomerData, Rejected, SignalData, observed
from storage.bulk import execute_many
from storage.customers import _plus_days  # the plan's deadline rule in SQL, as rescheduling applies it
from storage.models import Customer, CustomerMilestone, SignalReading, UTCDateTime
from storage.records import PlanRecord

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
WRITE_CHUNK = 50_000  # rows per executemany: bounded memory whatever the file's size
ID_LIST = 5_000  # ids per IN list
LATEST_CHUNK = 5_000  # customers whose latest values are compared and written at a time
# Core tables: executemany straight to the driver (storage.bulk), at 500,000 rows the ORM's per-row work dominates.
CUSTOMERS = cast(Table, Customer.__table__)
READINGS = cast(Table, SignalReading.__table__)
JSON_TYPE = CUSTOMERS.c.signals.type
AT = UTCDateTime()


@dataclass(frozen=True)
class Known:
    """A customer as the plan has it, for comparing an incoming row with."""

    id: int
    external_id: str
    name: str
    name_key: str
    start: date
    owner: str | None
    segment: str | None


def _by_key(
    session: Session, columns: Sequence[Any], plan_id: int, wanted: Sequence[tuple[Any, Collection[str]]]
) -> Iterator[Any]:
    """``columns`` of the plan's customers whose value in one of ``wanted``'s key columns (external id, name key) is
    one of the values given with it; a customer named by two keys may come twice. (Pairs, not a dict: a column compared
    with ``==`` makes SQL, not a bool.)

    Up to ``ID_LIST`` values in all, a seek of the plan's unique index per value: a few rows into a plan of 100,000
    customers read a few rows, where reading the plan took half a second before an ack (bench/README.md, "History
    reads"). More, one pass over the plan's customers, keeping the ones named: for a big file that is faster than a
    seek per row (bench.imports, 100,000 customers unchanged: 2.2 s, against 3.1 s)."""
    keys = [(key, set(values)) for key, values in wanted]
    if sum(len(values) for _, values in keys) > ID_LIST:
        # Each key's place in the row: one of ``columns`` (compared by identity: ``==`` on a column makes SQL), or
        # read after them.
        extra = [key for key, _ in keys if not any(column is key for column in columns)]
        read = [*columns, *extra]
        checks = [(next(n for n, column in enumerate(read) if column is key), values) for key, values in keys]
        width = len(columns)
        for row in session.execute(select(*read).where(Customer.plan_id == plan_id)):
            if any(row[place] in values for place, values in checks):
                yield row[:width] if extra else row
        return
    for key, values in keys:
        if values:
            yield from session.execute(select(*columns).where(Customer.plan_id == plan_id, key.in_(sorted(values))))


def known_customers(
    session: Session, plan_id: int, external_ids: Collection[str], name_keys: Collection[str]
) -> list[Known]:
    """The plan's customers with one of these external ids or (casefolded) names, looked up by key (``_by_key``):
    adding one customer to a plan of 100,000 read the whole plan, more than once, 0.6 s before its ack."""
    columns = (Customer.id, Customer.external_id, Customer.name, Customer.name_key, Customer.start_date,
               Customer.owner_id, Customer.segment)  # fmt: skip
    rows = _by_key(session, columns, plan_id, [(Customer.external_id, external_ids), (Customer.name_key, name_keys)])
    return list({row[0]: Known(*row) for row in rows}.values())


def customer_ids(session: Session, plan_id: int, external_ids: Collection[str]) -> dict[str, int]:
    """The plan's customers with these external ids: external id -> customer id."""
    rows = _by_key(session, (Customer.external_id, Customer.id), plan_id, [(Customer.external_id, external_ids)])
    return {external_id: customer_id for external_id, customer_id in rows}


def upsert_customers(
    session: Session,
    plan: PlanRecord,
    rows: Sequence[tuple[int, CustomerData]],
    *,
    today: date,
    milestones: Sequence[tuple[str, int]],
    user_id: str,
    now: datetime,
) -> tuple[dict[int, str], list[Rejected], bool]:
    """Create or update the plan's customers by external id: (row → what happened, rows refused, whether any
    start date moved, so deadlines must follow). A new customer gets one milestone per ``(name, days)``."""
    # Only the customers these rows name, by id or by name: every name looked up below is a row's, and every name
    # given up is that of a customer a row names by id.
    found = known_customers(session, plan.id, {row.id for _, row in rows}, {row.name.casefold() for _, row in rows})
    known = {customer.external_id: customer for customer in found}
    names = {customer.name_key: customer.external_id for customer in found}
    results: dict[int, str] = {}
    rejected: list[Rejected] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moved = False
    for number, row in rows:
        key = row.name.casefold()
        holder = names.get(key)
        if holder is not None and holder != row.id:
            rejected.append(Rejected(number, "name", f"“{row.name}” is already the name of customer “{holder}”."))
            continue
        current = known.get(row.id)
        if current is None:
            inserts.append({
                "external_id": row.id, "name": row.name, "name_key": key, "segment": row.segment,
                "owner_id": row.owner, "start_date": row.start or today,
            })  # fmt: skip
            names[key] = row.id
            results[number] = CREATED
            continue
        # A column left blank keeps what the plan has: a CRM export without owners does not clear them.
        wanted = Known(
            current.id, row.id, row.name, key, row.start or current.start, row.owner or current.owner,
            row.segment or current.segment,
        )  # fmt: skip
        if wanted == current:
            results[number] = UNCHANGED
            continue
        if current.name_key != key:
            names.pop(current.name_key, None)
            names[key] = row.id
        moved = moved or wanted.start != current.start
        updates.append({
            "id": current.id, "name": wanted.name, "name_key": key, "start_date": wanted.start,
            "owner_id": wanted.owner, "segment": wanted.segment,
        })  # fmt: skip
        results[number] = UPDATED
    if updates:
        session.execute(update(Customer), updates)  # ORM bulk UPDATE by primary key: one executemany
    if inserts:
        _insert_with_milestones(session, plan, inserts, milestones, user_id=user_id, now=now)
    return results, rejected, moved


def _insert_with_milestones(
    session: Session,
    plan: PlanRecord,
    inserts: list[dict[str, Any]],
    milestones: Sequence[tuple[str, int]],
    *,
    user_id: str,
    now: datetime,
) -> None:
    shared = {"team_id": plan.team_id, "plan_id": plan.id, "created_by": user_id, "created_at": now,
              "signals": {}, "signal_times": {}}  # fmt: skip
    types = {"created_at": AT, "signals": JSON_TYPE, "signal_times": JSON_TYPE}
    for start in range(0, len(inserts), WRITE_CHUNK):
        execute_many(session, insert(CUSTOMERS), inserts[start : start + WRITE_CHUNK], types=types, shared=shared)
    # The deadlines: INSERT ... SELECT per milestone over the customers just created, named by id in bounded lists,
    # so no Python row per milestone. (Not "created at this instant": two calls in one transaction share an
    # instant. Not NOT EXISTS: on rows inserted in this same transaction PostgreSQL's planner has no statistics
    # and ran that anti-join as a nested loop, minutes for 100,000 customers.)
    ids = sorted(customer_ids(session, plan.id, {row["external_id"] for row in inserts}).values())
    for first in range(0, len(ids), ID_LIST):
        chunk = ids[first : first + ID_LIST]
        for position, (name, days) in enumerate(milestones):
            session.execute(
                insert(CustomerMilestone).from_select(
                    ["team_id", "plan_id", "customer_id", "position", "name", "due_date"],
                    select(
                        Customer.team_id, Customer.plan_id, Customer.id, literal(position), literal(name),
                        _plus_days(session, Customer.start_date, days),
                    ).where(Customer.id.in_(chunk)),
                )
            )  # fmt: skip


def starts(session: Session, plan_id: int, external_ids: set[str]) -> list[tuple[int, date]]:
    """(customer id, start date) of the plan's customers with these external ids, in id order."""
    rows = _by_key(session, (Customer.id, Customer.start_date), plan_id, [(Customer.external_id, external_ids)])
    return sorted((customer_id, start) for customer_id, start in rows)


def record_signals(
    session: Session,
    plan: PlanRecord,
    rows: Sequence[tuple[int, SignalData]],
    *,
    source: str,
    user_id: str,
    now: datetime,
) -> tuple[dict[int, str], list[Rejected], set[int]]:
    """Keep each observation; a customer's latest value per factor moves only to a newer observation.

    Returns (row → created / updated / unchanged, rows refused, ids of customers whose latest values changed).
    An observation already kept (same customer, factor and time) is unchanged if its value is the same and updated
    if not; one without a time that repeats the customer's current value is unchanged, so a rerun adds nothing.
    """
    batch = SignalBatch(session, plan, source=source, user_id=user_id, now=now)
    batch.add(rows)
    return batch.finish()


class SignalBatch:
    """``record_signals`` for a file of any size, fed a chunk of rows at a time, in one transaction.

    The rows are staged in a temporary table; matching them with the observations already kept, inserting the new
    ones and finding each customer's newest value are then a few set-based statements, not Python dicts of every
    reading. Only the plan's customer ids and each row's result are held in memory; the customers' latest values are
    read a chunk at a time, when they are compared.
    """

    def __init__(self, session: Session, plan: PlanRecord, *, source: str, user_id: str, now: datetime) -> None:
        self.session, self.plan, self.source, self.user_id, self.now = session, plan, source, user_id, now
        self.customers: dict[str, int] = {}  # external id -> customer id, of the customers the rows named so far
        self._whole_plan = False  # whether ``customers`` holds every customer of the plan
        self.results: dict[int, str] = {}
        self.rejected: list[Rejected] = []
        # Each distinct instant is numbered, so reading the staged rows back parses no dates (few instants, many rows).
        self._instants: dict[datetime, int] = {}
        self._instant_list: list[datetime] = []
        # Rows without a time are all observed "now": (customer id, factor) → (first row, value) spots repeats.
        self._untimed: dict[tuple[int, str], tuple[int, float]] = {}
        self._parsed: dict[str, datetime] = {}
        self._written: dict[datetime, str] = {}
        # A name of its own: the same connection may stage another batch in this transaction.
        self.staging = Table(
            f"import_signals_{uuid.uuid4().hex[:12]}", MetaData(),
            Column("row", Integer, primary_key=True), Column("customer_id", Integer), Column("factor", String(100)),
            Column("value", Float), Column("observed_at", UTCDateTime()), Column("instant", Integer),
            prefixes=["TEMPORARY"],
        )  # fmt: skip
        self.staging.create(session.connection())

    def _look_up(self, external_ids: set[str]) -> None:
        """Learn the ids of the customers these rows name: a few by key (a few rows for a plan of 100,000 customers
        read a few), or, from a big file's first chunk on, every customer of the plan in one pass."""
        if self._whole_plan:
            return
        missing = external_ids - self.customers.keys()
        if len(missing) > ID_LIST:
            rows = self.session.execute(
                select(Customer.external_id, Customer.id).where(Customer.plan_id == self.plan.id)
            )
            self.customers = {external_id: customer_id for external_id, customer_id in rows}
            self._whole_plan = True
        else:
            self.customers.update(customer_ids(self.session, self.plan.id, missing))

    def add(self, rows: Sequence[tuple[int, SignalData]]) -> None:
        staged: list[dict[str, Any]] = []
        untimed: list[tuple[int, int, SignalData]] = []
        self._look_up({row.id for _, row in rows})
        for number, row in rows:
            customer_id = self.customers.get(row.id)
            if customer_id is None:
                self.rejected.append(Rejected(number, "id", f"No customer of this plan has the id “{row.id}”."))
            elif row.observed_at is None:
                untimed.append((number, customer_id, row))  # compared with the customer's values below
            else:
                self._stage(staged, number, customer_id, row)
        current = self._values({customer_id for _, customer_id, _ in untimed})
        for number, customer_id, row in untimed:
            if current[customer_id].get(row.factor) == row.value:
                self.results[number] = UNCHANGED
                continue
            first = self._untimed.get((customer_id, row.factor))
            if first is not None:  # the same observation again (both "now"): the later value is the one kept
                self.results[number] = UNCHANGED if first[1] == row.value else UPDATED
                if first[1] != row.value:
                    self._untimed[(customer_id, row.factor)] = (first[0], row.value)
                    self.session.execute(
                        update(self.staging).where(self.staging.c.row == first[0]).values(value=row.value)
                    )
                continue
            self._untimed[(customer_id, row.factor)] = (number, row.value)
            self._stage(staged, number, customer_id, row)
        execute_many(self.session, insert(self.staging), staged, types={"observed_at": AT}, repeated={"observed_at"})

    def _values(self, customer_ids: set[int]) -> dict[int, dict[str, float]]:
        """The customers' latest values as the plan has them (this batch writes them only when it finishes)."""
        found: dict[int, dict[str, float]] = {}
        ordered = sorted(customer_ids)
        for first in range(0, len(ordered), ID_LIST):
            rows = self.session.execute(
                select(Customer.id, Customer.signals).where(Customer.id.in_(ordered[first : first + ID_LIST]))
            )
            found.update((customer_id, values or {}) for customer_id, values in rows)
        return found

    def _stage(self, staged: list[dict[str, Any]], number: int, customer_id: int, row: SignalData) -> None:
        at = observed(row, self.now)
        instant = self._instants.get(at)
        if instant is None:
            instant = self._instants[at] = len(self._instant_list)
            self._instant_list.append(at)
        staged.append({"row": number, "customer_id": customer_id, "factor": row.factor, "value": row.value,
                       "observed_at": at, "instant": instant})  # fmt: skip
        self.results[number] = CREATED  # until finish() finds it already kept

    def finish(self) -> tuple[dict[int, str], list[Rejected], set[int]]:
        """Write what the batch holds; (row → result, rows refused, customers whose latest values changed)."""
        session, stage, kept = self.session, self.staging, READINGS
        same = and_(kept.c.customer_id == stage.c.customer_id, kept.c.factor == stage.c.factor,
                    kept.c.observed_at == stage.c.observed_at)  # fmt: skip
        changes: list[dict[str, Any]] = []
        matches = session.connection().execute(
            select(stage.c.row, kept.c.id, kept.c.value, stage.c.value).join(kept, same)
        )
        for number, reading_id, old, new in matches:
            if old == new:
                self.results[number] = UNCHANGED
            else:
                changes.append({"reading_id": reading_id, "new_value": new, "new_source": self.source})
                self.results[number] = UPDATED
        session.execute(
            insert(kept).from_select(
                ["team_id", "customer_id", "factor", "value", "recorded_by", "recorded_at", "observed_at", "source"],
                select(
                    bindparam("team_id", self.plan.team_id, type_=String), stage.c.customer_id, stage.c.factor,
                    stage.c.value, bindparam("user_id", self.user_id, type_=String),
                    bindparam("now", self.now, type_=UTCDateTime()), stage.c.observed_at,
                    bindparam("source", self.source, type_=String),
                ).where(~exists().where(same)),
            )
        )  # fmt: skip
        if changes:
            rewrite = (
                update(kept)
                .where(kept.c.id == bindparam("reading_id"))
                .values(value=bindparam("new_value"), source=bindparam("new_source"))
            )
            execute_many(session, rewrite, changes, types={})
        moved = self._move_latest()
        stage.drop(session.connection())
        self.customers = {}  # the rescoring that follows reads the customers again; let these go
        return self.results, sorted(self.rejected, key=lambda r: r.row), moved

    def _newest(self) -> Iterator[tuple[int, str, datetime, float]]:
        """Per (customer, factor), the staged observation with the latest time (the last row of equal times)."""
        stage = self.staging
        rows = self.session.connection().execute(
            select(stage.c.customer_id, stage.c.factor, stage.c.instant, stage.c.value).order_by(
                stage.c.customer_id, stage.c.factor, stage.c.observed_at, stage.c.row
            )
        )
        instants = self._instant_list
        previous: tuple[int, str, int, float] | None = None
        for customer_id, factor, instant, value in rows:
            if previous is not None and (previous[0] != customer_id or previous[1] != factor):
                yield previous[0], previous[1], instants[previous[2]], previous[3]
            previous = (customer_id, factor, instant, value)
        if previous is not None:
            yield previous[0], previous[1], instants[previous[2]], previous[3]

    def _move_latest(self) -> set[int]:
        """Each customer's latest value per factor, from the observations newer than what it has.

        The newest observations come in customer order: a chunk of customers at a time, their latest values are
        read, compared and written.
        """
        moved: set[int] = set()
        group: dict[int, list[tuple[str, datetime, float]]] = {}
        for customer_id, factor, at, value in self._newest():
            if customer_id not in group and len(group) >= LATEST_CHUNK:
                moved |= self._move_chunk(group)
                group = {}
            group.setdefault(customer_id, []).append((factor, at, value))
        return moved | self._move_chunk(group)

    def _move_chunk(self, group: dict[int, list[tuple[str, datetime, float]]]) -> set[int]:
        if not group:
            return set()
        rows = self.session.execute(
            select(Customer.id, Customer.signals, Customer.signal_times).where(Customer.id.in_(list(group)))
        )
        parsed, written = self._parsed, self._written  # times repeat as much as the file's: convert each once
        pending: list[dict[str, Any]] = []
        for customer_id, old_values, old_times in rows:
            values, times = dict(old_values or {}), dict(old_times or {})
            for factor, at, value in group[customer_id]:
                known = times.get(factor)
                if known is not None:
                    known_at = parsed.get(known) or parsed.setdefault(known, datetime.fromisoformat(known))
                    if known_at > at:
                        continue  # an older observation arriving late stays history
                    if known_at == at and values.get(factor) == value:
                        continue
                values[factor] = value
                times[factor] = written.get(at) or written.setdefault(at, at.isoformat())
            if values != (old_values or {}) or times != (old_times or {}):
                pending.append({"cid": customer_id, "new_signals": values, "new_times": times})
        self._write_latest(pending)
        return {row["cid"] for row in pending}

    def _write_latest(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        table = CUSTOMERS
        latest = (
            update(table)
            .where(table.c.id == bindparam("cid"))
            .values(signals=bindparam("new_signals"), signal_times=bindparam("new_times"))
        )
        execute_many(self.session, latest, rows, types={"new_signals": JSON_TYPE, "new_times": JSON_TYPE})
