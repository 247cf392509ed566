"""Reading the newest score of many customers out of their score history (``storage.health_scores``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steps.health import compute_score
from storage.db import transaction
from storage.health_scores import latest_breakdown, latest_breakdowns
from storage.models import Customer, HealthScore, Plan
from tests.test_health import make_model

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _customers(session: Session, count: int) -> list[int]:
    plan = Plan(team_id="T1", channel_id="C1", name="p", created_by="U1")
    session.add(plan)
    session.flush()
    rows = [
        Customer(team_id="T1", plan_id=plan.id, name=f"c{n}", name_key=f"c{n}", external_id=f"c{n}",
                 start_date=date(2026, 11, 1), created_by="U1")
        for n in range(count)
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _keep(session: Session, customer_id: int, at: datetime, adoption: float) -> None:
    """One history row whose score tells which it is: the adoption value alone."""
    breakdown = compute_score(make_model(), {"adoption": adoption}, [], at.date())
    band = breakdown.band.value if breakdown.band else None
    plan_id = session.scalar(select(Customer.plan_id).where(Customer.id == customer_id))
    session.add(HealthScore(team_id="T1", plan_id=plan_id, customer_id=customer_id, computed_at=at,
                            score=breakdown.score, band=band, breakdown=breakdown.stored()))  # fmt: skip
    session.flush()


def test_each_customer_gets_its_newest_score_however_long_its_history(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        weekly, tied, written_late, never = _customers(session, 4)
        for week in range(52):  # a year of weekly updates, oldest first
            _keep(session, weekly, WHEN - timedelta(weeks=51 - week), adoption=float(week))
        _keep(session, tied, WHEN, adoption=10.0)  # two scores at one instant: the one recorded last is newest
        _keep(session, tied, WHEN, adoption=20.0)
        _keep(session, written_late, WHEN, adoption=30.0)
        _keep(session, written_late, WHEN - timedelta(days=7), adoption=40.0)  # an older score, recorded after

    with transaction(sessions) as session:
        found = latest_breakdowns(session, {weekly, tied, written_late, never})
        assert {customer: breakdown.score for customer, breakdown in found.items()} == {
            weekly: 51.0,
            tied: 20.0,
            written_late: 30.0,
        }
        for customer_id, breakdown in found.items():  # the same as the one-customer read the band alerts use
            assert latest_breakdown(session, customer_id) == breakdown
