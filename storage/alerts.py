"""Alerts: missed-milestone and band-drop alert rows, and the locking reads that find what to alert on.

The locking reads use ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises transactions anyway), so replicas
checking at once split the rows between them instead of alerting twice. Every function runs in the caller's
session: the scheduler holds one transaction per plan, with the plan row locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import String, Table, exists, insert, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from steps.step3 import Band
from storage.db import rowcount
from storage.health_scores import BANDS, CUSTOMERS, MILESTONES
from storage.models import Alert, Customer
from storage.records import AlertRecord

ALERTS = cast(Table, Alert.__table__)  # Core, for executemany straight to the driver


@dataclass(frozen=True, slots=True)
class OverdueMilestone:
    milestone_id: int
    customer_id: int
    customer: str
    owner_id: str | None
    position: int
    name: str
    due: date


@dataclass(frozen=True, slots=True)
class MissedAlert:
    alert_id: int
    milestone: OverdueMilestone


@dataclass(frozen=True, slots=True)
class UnreportedBand:
    """A customer whose current band is not the one the team last heard about."""

    customer_id: int
    customer: str
    owner_id: str | None
    score: float | None
    band: Band
    reported_band: Band | None
    scored_at: datetime


def alert_newly_missed(session: Session, team_id: str, plan_id: int, today: date, now: datetime) -> list[MissedAlert]:
    """Alert once on every open milestone of the plan due before ``today`` and never alerted: mark it alerted and add
    one alert (key ``missed:<milestone id>``). Returns the alerts just made by due date, customer, position, the order
    their ids were given in.

    Set-based (one UPDATE, one INSERT ... SELECT), with no row through Python but the alerts read back for the posts.
    The UPDATE goes first: on PostgreSQL it locks what it marks and re-checks each row a concurrent write changed, so
    the alerts are added for exactly the milestones marked at ``now`` (the plan row is locked for the check). A check
    at the same instant that marked some of them before has added their alerts too: the alert key, unique per team,
    tells them apart.
    """
    m, c, a = MILESTONES.c, CUSTOMERS.c, ALERTS.c
    marked = session.execute(
        update(MILESTONES)
        .where(m.plan_id == plan_id, m.completed_on.is_(None), m.alerted_at.is_(None), m.due_date < today)
        .values(alerted_at=now)
    )
    if not rowcount(marked):
        return []
    key = literal("missed:") + sql_cast(m.id, String)
    order = (m.due_date, c.name_key, m.position)
    just_marked = (m.plan_id == plan_id, m.completed_on.is_(None), m.alerted_at == now)  # as the index is ordered
    made = session.execute(
        insert(ALERTS)
        .from_select(
            ["team_id", "plan_id", "customer_id", "milestone_id", "kind", "key", "created_at"],
            select(literal(team_id), m.plan_id, m.customer_id, m.id, literal("missed"), key,
                   literal(now, a.created_at.type))
            .join(CUSTOMERS, c.id == m.customer_id)
            .where(*just_marked, ~exists().where(a.team_id == team_id, a.key == key))
            .order_by(*order),
        )
        .returning(a.milestone_id, a.id)
    )  # fmt: skip
    alert_ids: dict[int, int] = {milestone_id: alert_id for milestone_id, alert_id in made}
    overdue = session.connection().execute(
        select(m.id, m.customer_id, c.name, c.owner_id, m.position, m.name, m.due_date)
        .join(CUSTOMERS, c.id == m.customer_id)
        .where(*just_marked)
        .order_by(*order)
    )  # fmt: skip
    return [MissedAlert(alert_ids[row[0]], OverdueMilestone(*row)) for row in overdue if row[0] in alert_ids]


def lock_unreported_bands(session: Session, plan_id: int) -> list[UnreportedBand]:
    """The plan's scored customers whose band differs from the one last reported, locked."""
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.owner_id, Customer.score, Customer.band, Customer.reported_band,
               Customer.scored_at)
        .where(Customer.plan_id == plan_id, Customer.band.is_not(None))
        .where(or_(Customer.reported_band.is_(None), Customer.reported_band != Customer.band))
        .with_for_update(skip_locked=True)
    )  # fmt: skip
    return [
        UnreportedBand(
            row.id, row.name, row.owner_id, row.score, BANDS[row.band], BANDS.get(row.reported_band), row.scored_at,
        )
        for row in rows
    ]  # fmt: skip


def mark_bands_reported(session: Session, customers: Sequence[UnreportedBand]) -> None:
    """The team has now heard of these bands (an alert, or better news left for the next update)."""
    if customers:
        session.execute(
            update(Customer),
            [{"id": c.customer_id, "reported_band": c.band.value, "reported_score": c.score} for c in customers],
        )


def record_band_alerts(
    session: Session, team_id: str, plan_id: int, drops: Sequence[UnreportedBand], now: datetime
) -> None:
    """One alert per drop, keyed by customer, band and score time, so the same drop never alerts twice."""
    if drops:
        session.execute(
            insert(Alert),
            [
                {
                    "team_id": team_id, "plan_id": plan_id, "customer_id": d.customer_id, "milestone_id": None,
                    "kind": "band", "key": f"band:{d.customer_id}:{d.band.value}:{d.scored_at.isoformat()}",
                    "created_at": now,
                }
                for d in drops
            ],
        )  # fmt: skip


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        row.id, row.team_id, row.plan_id, row.customer_id, row.milestone_id, row.acknowledged_by, row.acknowledged_at
    )


def get(session: Session, alert_id: int) -> AlertRecord | None:
    row = session.get(Alert, alert_id)
    return None if row is None else _alert(row)


def acknowledge(session: Session, alert_id: int, user_id: str, now: datetime) -> tuple[AlertRecord, bool]:
    """The alert after acknowledging it, and whether this acknowledgement was the first (the first one counts)."""
    first = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.acknowledged_by.is_(None))
        .values(acknowledged_by=user_id, acknowledged_at=now)
    )
    row = session.get_one(Alert, alert_id, populate_existing=True)
    return _alert(row), bool(rowcount(first))
