"""Customers of a plan, their milestones with deadlines, and their signal readings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, aliased

from storage.models import Customer, CustomerMilestone, SignalReading
from storage.records import CustomerRecord, MilestoneRecord


def _customer(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        row.id, row.team_id, row.plan_id, row.name, row.segment, row.owner_id, row.start_date, dict(row.signals),
        row.score, row.band, row.external_id, dict(row.signal_times or {}),
    )  # fmt: skip


def _milestone(row: CustomerMilestone) -> MilestoneRecord:
    return MilestoneRecord(
        row.id, row.customer_id, row.position, row.name, row.due_date, row.completed_on, row.extended_by,
        row.completed_by,
    )  # fmt: skip


def get(session: Session, customer_id: int) -> CustomerRecord | None:
    row = session.get(Customer, customer_id)
    return None if row is None else _customer(row)


def by_external_id(session: Session, plan_id: int, external_id: str) -> CustomerRecord | None:
    row = session.scalar(select(Customer).where(Customer.plan_id == plan_id, Customer.external_id == external_id))
    return None if row is None else _customer(row)


def taken_external_ids(session: Session, plan_id: int, candidates: Sequence[str]) -> set[str]:
    """Which of these external ids the plan's customers have."""
    return set(
        session.scalars(
            select(Customer.external_id).where(Customer.plan_id == plan_id, Customer.external_id.in_(candidates))
        )
    )


def find(session: Session, plan_id: int, name_key: str) -> CustomerRecord | None:
    """The plan's customer of that (casefolded) name."""
    row = session.scalar(select(Customer).where(Customer.plan_id == plan_id, Customer.name_key == name_key))
    return None if row is None else _customer(row)


def of_plan(session: Session, plan_id: int) -> list[CustomerRecord]:
    rows = session.scalars(select(Customer).where(Customer.plan_id == plan_id).order_by(Customer.name_key))
    return [_customer(row) for row in rows]


def milestones(session: Session, customer_id: int) -> list[MilestoneRecord]:
    rows = session.scalars(
        select(CustomerMilestone)
        .where(CustomerMilestone.customer_id == customer_id)
        .order_by(CustomerMilestone.position)
    )
    return [_milestone(row) for row in rows]


def get_milestone(session: Session, milestone_id: int) -> MilestoneRecord | None:
    row = session.get(CustomerMilestone, milestone_id)
    return None if row is None else _milestone(row)


def complete_milestone(session: Session, milestone_id: int, on: date, user_id: str) -> MilestoneRecord:
    row = session.get_one(CustomerMilestone, milestone_id)
    row.completed_on, row.completed_by = on, user_id
    session.flush()
    return _milestone(row)


def extend_deadline(session: Session, milestone_id: int, due: date, user_id: str) -> None:
    session.execute(
        update(CustomerMilestone).where(CustomerMilestone.id == milestone_id).values(due_date=due, extended_by=user_id)
    )


def add_signals(
    session: Session, customer: CustomerRecord, values: dict[str, float], user_id: str, now: datetime
) -> CustomerRecord:
    """Keep every reading; the customer keeps the latest value of each factor (typed now, so true now)."""
    session.add_all(
        SignalReading(
            team_id=customer.team_id, customer_id=customer.id, factor=key, value=value, recorded_by=user_id,
            recorded_at=now, observed_at=now, source="slack",
        )
        for key, value in values.items()
    )  # fmt: skip
    row = session.get_one(Customer, customer.id)
    row.signals = {**row.signals, **values}
    # In UTC, as every writer stores them: storage.freshness compares these strings as instants.
    at = now.astimezone(UTC).isoformat()
    row.signal_times = {**(row.signal_times or {}), **dict.fromkeys(values, at)}
    session.flush()
    return _customer(row)


def overdue_counts(session: Session, plan_id: int, today: date) -> dict[int, int]:
    rows = session.execute(
        select(CustomerMilestone.customer_id, func.count())
        .where(_overdue(plan_id, today))
        .group_by(CustomerMilestone.customer_id)
    )
    return {customer_id: count for customer_id, count in rows}


def _overdue(plan_id: int, today: date) -> ColumnElement[bool]:
    return and_(
        CustomerMilestone.plan_id == plan_id,
        CustomerMilestone.completed_on.is_(None),
        CustomerMilestone.due_date < today,
    )


def band_counts(session: Session, plan_id: int) -> dict[str | None, int]:
    rows = session.execute(
        select(Customer.band, func.count()).where(Customer.plan_id == plan_id).group_by(Customer.band)
    )
    return {band: count for band, count in rows}


def lowest_scores(
    session: Session, plan_id: int, limit: int
) -> list[tuple[str, float | None, str | None, dict[str, Any], dict[str, Any]]]:
    """The weakest scored customers: name, score, band, latest signals and when each was observed."""
    rows = session.execute(
        select(Customer.name, Customer.score, Customer.band, Customer.signals, Customer.signal_times)
        .where(Customer.plan_id == plan_id, Customer.score.is_not(None))
        .order_by(Customer.score, Customer.name_key)
        .limit(limit)
    )
    return [(name, score, band, dict(signals or {}), dict(times or {})) for name, score, band, signals, times in rows]


def overdue_milestones(
    session: Session, plan_id: int, today: date, limit: int
) -> tuple[list[tuple[str, str, date]], int]:
    """The longest-overdue open milestones (customer, milestone, due date), and how many are overdue in all."""
    query = (
        select(Customer.name, CustomerMilestone.name, CustomerMilestone.due_date)
        .join(Customer, Customer.id == CustomerMilestone.customer_id)
        .where(_overdue(plan_id, today))
    )
    shown = [(customer, milestone, due) for customer, milestone, due in session.execute(
        query.order_by(CustomerMilestone.due_date).limit(limit)
    )]  # fmt: skip
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return shown, total


def reschedule(session: Session, plan_id: int, milestones: Sequence[tuple[str, int]], today: date) -> None:
    """Every customer's milestones after the plan's milestones (name, timeline days) were edited.

    The same rule as ``steps.deadlines.recompute_due``, as a few statements for the whole plan (this runs before a
    form submission is acknowledged, whatever the number of customers): a deadline already passed stays; a future
    one that nobody extended moves to start + days, never before today; a milestone new to the plan is added with
    that deadline; a milestone gone from the plan is dropped unless it was reached or alerted.
    """
    table = CustomerMilestone
    for position, (name, days) in enumerate(milestones):
        due = _not_before(session, _plus_days(session, Customer.start_date, days), today)
        moves = and_(
            table.completed_on.is_(None), table.extended_by.is_(None), table.due_date >= today, table.due_date != due
        )
        # One UPDATE ... FROM customers per milestone (a join, not a subquery per row), writing each row at most once
        # and only the rows whose name or deadline changes.
        session.execute(
            update(table)
            .where(table.plan_id == plan_id, table.position == position, table.customer_id == Customer.id)
            .where(or_(table.name != name, moves))
            .values(name=name, due_date=case((moves, due), else_=table.due_date))
        )
        missing = ~exists().where(table.customer_id == Customer.id, table.position == position)
        session.execute(
            insert(table).from_select(
                ["team_id", "plan_id", "customer_id", "position", "name", "due_date"],
                select(
                    Customer.team_id, Customer.plan_id, Customer.id, literal(position), literal(name),
                    _not_before(session, _plus_days(session, Customer.start_date, days), today),
                ).where(Customer.plan_id == plan_id, missing),
            )
        )  # fmt: skip
    gone = and_(table.plan_id == plan_id, table.position >= len(milestones), table.position < RETIRED)
    session.execute(delete(table).where(gone, table.completed_on.is_(None), table.alerted_at.is_(None)))
    for position in range(len(milestones), PLAN_POSITIONS):
        _retire(session, plan_id, position)


# A customer's row for a milestone the plan no longer has, kept because it was reached or alerted, moves to a
# position from here on: out of the plan's positions (0-4), so a milestone added later gets a row of its own.
RETIRED = 100
PLAN_POSITIONS = 10  # above any plan's milestone count (5)
SHIFT = 1000  # beyond every retired position


def drop_position(session: Session, plan_id: int, position: int) -> None:
    """Milestone ``position`` was removed from the plan: the ones after it move up a place for every customer.

    A customer's row for the removed milestone goes, unless it was reached or alerted (then it stays, retired).
    """
    table = CustomerMilestone
    at = and_(table.plan_id == plan_id, table.position == position)
    session.execute(delete(table).where(at, table.completed_on.is_(None), table.alerted_at.is_(None)))
    _retire(session, plan_id, position)
    # Two steps, because (customer, position) is unique and PostgreSQL checks it row by row: out of the way first.
    later = and_(table.plan_id == plan_id, table.position > position, table.position < RETIRED)
    session.execute(update(table).where(later).values(position=table.position + SHIFT))
    moved = and_(table.plan_id == plan_id, table.position >= SHIFT)
    session.execute(update(table).where(moved).values(position=table.position - SHIFT - 1))


def _retire(session: Session, plan_id: int, position: int) -> None:
    """Rows at ``position`` move to the next free retired position of their customer."""
    table = CustomerMilestone
    earlier = aliased(CustomerMilestone)
    retired_before = (
        select(func.count())
        .where(earlier.customer_id == table.customer_id, earlier.position >= RETIRED)
        .scalar_subquery()
    )
    session.execute(
        update(table)
        .where(table.plan_id == plan_id, table.position == position)
        .values(position=RETIRED + retired_before)
    )


def _plus_days(session: Session, day: Any, days: int) -> ColumnElement[date]:
    # type_coerce, not CAST: SQLite's CAST(... AS DATE) would turn '2026-12-01' into the number 2026.
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(day + days, Date)
    return type_coerce(func.date(day, f"{days:+d} days"), Date)


def _not_before(session: Session, day: ColumnElement[date], floor: date) -> ColumnElement[date]:
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    return type_coerce(greatest(day, literal(floor, Date)), Date)
