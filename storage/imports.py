"""Customers and signals written in bulk, by external id: upserts that say what they created, updated or left alone.

Every write path (the slash command, a CSV file, an API batch) goes through here, so a customer is one row per
(plan, external id) however it arrived, and a rerun of the same input changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, true, update
from sqlalchemy.orm import Session

from steps.deadlines import deadline
from steps.imports import CustomerRow, Rejected, SignalRow, observed
from storage.models import Customer, CustomerMilestone, SignalReading
from storage.records import PlanRecord

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
MAX_TIMES_FILTERED = 1000  # distinct observation times a batch may name in an IN list; more read every reading


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


def known_customers(session: Session, plan_id: int) -> dict[str, Known]:
    """The plan's customers by external id."""
    rows = session.execute(
        select(
            Customer.id, Customer.external_id, Customer.name, Customer.name_key, Customer.start_date,
            Customer.owner_id, Customer.segment,
        ).where(Customer.plan_id == plan_id)
    )  # fmt: skip
    return {row.external_id: Known(*row) for row in rows}


def upsert_customers(
    session: Session,
    plan: PlanRecord,
    rows: Sequence[tuple[int, CustomerRow]],
    *,
    today: date,
    milestones: Sequence[tuple[str, int]],
    user_id: str,
    now: datetime,
) -> tuple[dict[int, str], list[Rejected], bool]:
    """Create or update the plan's customers by external id: (row → what happened, rows refused, whether any
    start date moved, so deadlines must follow). A new customer gets one milestone per ``(name, days)``."""
    known = known_customers(session, plan.id)
    names = {customer.name_key: customer.external_id for customer in known.values()}
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
            start = row.start or today
            inserts.append({
                "team_id": plan.team_id, "plan_id": plan.id, "external_id": row.id, "name": row.name,
                "name_key": key, "segment": row.segment, "owner_id": row.owner, "start_date": start,
                "created_by": user_id, "created_at": now, "signals": {}, "signal_times": {},
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
        _insert_with_milestones(session, plan, inserts, milestones)
    return results, rejected, moved


def _insert_with_milestones(
    session: Session,
    plan: PlanRecord,
    inserts: list[dict[str, Any]],
    milestones: Sequence[tuple[str, int]],
) -> None:
    session.execute(insert(Customer), inserts)
    created = {row["external_id"] for row in inserts}
    ids = session.execute(
        select(Customer.external_id, Customer.id, Customer.start_date).where(Customer.plan_id == plan.id)
    )
    deadlines = [
        {
            "team_id": plan.team_id, "plan_id": plan.id, "customer_id": customer_id, "position": position,
            "name": name, "due_date": deadline(start, days),
        }
        for external_id, customer_id, start in ids
        if external_id in created
        for position, (name, days) in enumerate(milestones)
    ]  # fmt: skip
    if deadlines:
        session.execute(insert(CustomerMilestone), deadlines)


@dataclass(frozen=True)
class Latest:
    """A customer's latest value per factor and when it was true."""

    id: int
    values: dict[str, float]
    times: dict[str, str]


def latest_signals(session: Session, plan_id: int) -> dict[str, Latest]:
    rows = session.execute(
        select(Customer.external_id, Customer.id, Customer.signals, Customer.signal_times).where(
            Customer.plan_id == plan_id
        )
    )
    return {ext: Latest(cid, dict(values or {}), dict(times or {})) for ext, cid, values, times in rows}


def record_signals(
    session: Session,
    plan: PlanRecord,
    rows: Sequence[tuple[int, SignalRow]],
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
    latest = latest_signals(session, plan.id)
    results: dict[int, str] = {}
    rejected: list[Rejected] = []
    wanted: list[tuple[int, int, SignalRow, datetime]] = []  # (row number, customer id, row, observed at)
    for number, row in rows:
        customer = latest.get(row.id)
        if customer is None:
            rejected.append(Rejected(number, "id", f"No customer of this plan has the id “{row.id}”."))
            continue
        if row.observed_at is None and customer.values.get(row.factor) == row.value:
            results[number] = UNCHANGED
            continue
        wanted.append((number, customer.id, row, observed(row, now)))
    existing = _existing_readings(session, {customer_id for _, customer_id, _, _ in wanted}, {at for *_, at in wanted})
    inserts: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for number, customer_id, row, at in wanted:
        key = (customer_id, row.factor, at)
        if key not in existing:
            inserts.append({
                "team_id": plan.team_id, "customer_id": customer_id, "factor": row.factor, "value": row.value,
                "recorded_by": user_id, "recorded_at": now, "observed_at": at, "source": source,
            })  # fmt: skip
            existing[key] = (0, row.value)
            results[number] = CREATED
        elif existing[key][1] == row.value:
            results[number] = UNCHANGED
        else:
            changes.append({"id": existing[key][0], "value": row.value, "source": source})
            existing[key] = (existing[key][0], row.value)
            results[number] = UPDATED
    if inserts:
        session.execute(insert(SignalReading), inserts)
    if changes:
        session.execute(update(SignalReading), changes)
    moved = _move_latest(session, latest, [(cid, row, at) for _, cid, row, at in wanted])
    return results, rejected, moved


def _existing_readings(
    session: Session, customer_ids: set[int], times: set[datetime]
) -> dict[tuple[int, str, datetime], tuple[int, float]]:
    """The readings the observations could repeat. A batch of a few observation times (an API batch, a nightly
    file) reads only readings at those times, so its cost does not grow with the customers' history."""
    if not customer_ids:
        return {}
    at_times = SignalReading.observed_at.in_(sorted(times)) if len(times) <= MAX_TIMES_FILTERED else true()
    found: dict[tuple[int, str, datetime], tuple[int, float]] = {}
    ordered = sorted(customer_ids)
    for start in range(0, len(ordered), 5000):  # bounded IN lists
        chunk = ordered[start : start + 5000]
        rows = session.execute(
            select(
                SignalReading.id, SignalReading.customer_id, SignalReading.factor, SignalReading.observed_at,
                SignalReading.value,
            ).where(SignalReading.customer_id.in_(chunk), at_times)
        )  # fmt: skip
        for reading_id, customer_id, factor, at, value in rows:
            found[(customer_id, factor, at.astimezone(UTC))] = (reading_id, value)
    return found


def _move_latest(
    session: Session, latest: dict[str, Latest], observations: list[tuple[int, SignalRow, datetime]]
) -> set[int]:
    """Each customer's latest value per factor, from the observations newer than what it has."""
    by_id = {customer.id: customer for customer in latest.values()}
    changed: dict[int, Latest] = {}
    for customer_id, row, at in observations:
        customer = changed.get(customer_id) or by_id[customer_id]
        known = customer.times.get(row.factor)
        if known is not None and datetime.fromisoformat(known) > at:
            continue  # an older observation arriving late stays history
        if known is not None and datetime.fromisoformat(known) == at and customer.values.get(row.factor) == row.value:
            continue
        values = {**customer.values, row.factor: row.value}
        times = {**customer.times, row.factor: at.isoformat()}
        changed[customer_id] = Latest(customer_id, values, times)
    if changed:
        rows = [{"id": c.id, "signals": c.values, "signal_times": c.times} for c in changed.values()]
        session.execute(update(Customer), rows)
    return set(changed)
