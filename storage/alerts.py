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

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session

from steps.step3 import Band
from storage.bulk import execute_many
from storage.db import rowcount
from storage.health_scores import BANDS
from storage.models import Alert, Customer, CustomerMilestone
from storage.records import AlertRecord

ALERTED_PER_UPDATE = 500  # milestone ids per UPDATE ... WHERE id IN (...)
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


def lock_newly_missed(session: Session, plan_id: int, today: date) -> list[OverdueMilestone]:
    """Open milestones due before ``today`` and never alerted, locked: by due date, customer, position."""
    query = (
        select(
            CustomerMilestone.id, CustomerMilestone.customer_id, Customer.name, Customer.owner_id,
            CustomerMilestone.position, CustomerMilestone.name, CustomerMilestone.due_date,
        )
        .join(Customer, Customer.id == CustomerMilestone.customer_id)
        .where(
            CustomerMilestone.plan_id == plan_id,
            CustomerMilestone.completed_on.is_(None),
            CustomerMilestone.alerted_at.is_(None),
            CustomerMilestone.due_date < today,
        )
        .order_by(CustomerMilestone.due_date, Customer.name_key, CustomerMilestone.position)
        .with_for_update(skip_locked=True, of=CustomerMilestone)
    )  # fmt: skip
    return [OverdueMilestone(*row) for row in session.execute(query)]


def record_missed_alerts(
    session: Session, team_id: str, plan_id: int, missed: Sequence[OverdueMilestone], now: datetime
) -> list[MissedAlert]:
    """Mark the milestones alerted and add one alert each (key ``missed:<milestone id>``), in ``missed``'s order."""
    ids = [m.milestone_id for m in missed]
    for start in range(0, len(ids), ALERTED_PER_UPDATE):
        session.execute(
            update(CustomerMilestone)
            .where(CustomerMilestone.id.in_(ids[start : start + ALERTED_PER_UPDATE]))
            .values(alerted_at=now)
        )
    rows = [{"customer_id": m.customer_id, "milestone_id": m.milestone_id, "key": f"missed:{m.milestone_id}"}
            for m in missed]  # fmt: skip
    shared = {"team_id": team_id, "plan_id": plan_id, "kind": "missed", "created_at": now}
    execute_many(session, insert(ALERTS), rows, types={"created_at": ALERTS.c.created_at.type}, shared=shared)
    # The plan row is locked for this check, so these are exactly the alerts just written.
    alert_ids = dict(
        session.connection()
        .execute(
            select(Alert.milestone_id, Alert.id).where(
                Alert.plan_id == plan_id, Alert.kind == "missed", Alert.created_at == now
            )
        )
        .all()
    )
    return [MissedAlert(alert_ids[m.milestone_id], m) for m in missed]


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
