"""Which customers' data is stale: for the scheduler (scores a factor's age changed) and the App Home (counts).

Customers keep each factor's observation time in ``customers.signal_times`` as an ISO 8601 string in UTC (every
writer stores ``datetime.astimezone(UTC).isoformat()``), and such strings sort as the instants they name, so the
database compares them with plain string comparisons, on SQLite and PostgreSQL alike, without reading any row
into Python first. The exact check (``steps.health``) then runs on the few rows found.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from steps.health import observed_time
from storage.models import Customer, JobRun


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _observed(key: str) -> ColumnElement[str]:
    observed: ColumnElement[str] = Customer.signal_times[key].as_string()
    return observed


def _any_stale(windows: Mapping[str, int], now: datetime) -> ColumnElement[bool]:
    stale = [_observed(key) < _iso(now - timedelta(days=days)) for key, days in windows.items()]
    return or_(false(), *stale)


def gone_stale(
    session: Session, plan_id: int, windows: Mapping[str, int], now: datetime, since: datetime | None
) -> list[int]:
    """The plan's customers with a factor that is stale now but was fresh when they were last scored.

    ``since`` is when every customer of the plan was last rescored (its latest health update): a factor that went
    stale before then is already in their score, so only observations whose window ended after it are read.
    """
    if not windows:
        return []
    crossed = []
    for key, days in windows.items():
        observed = _observed(key)
        window = timedelta(days=days)
        condition = observed < _iso(now - window)
        if since is not None:
            condition = and_(condition, observed >= _iso(since - window))
        crossed.append(condition)
    rows = session.execute(
        select(Customer.id, Customer.scored_at, Customer.signal_times).where(Customer.plan_id == plan_id, or_(*crossed))
    )
    found = []
    for customer_id, scored_at, times in rows:
        for key, days in windows.items():
            text = (times or {}).get(key)
            if text is None:
                continue
            ends = observed_time(text) + timedelta(days=days)  # stale from this instant on
            if ends < now and (scored_at is None or scored_at <= ends):
                found.append(customer_id)
                break
    return found


def last_update_run(session: Session, team_id: str, plan_id: int) -> datetime | None:
    """When the plan's latest health update ran (it rescored every customer), None before the first one."""
    return session.scalar(
        select(func.max(JobRun.ran_at)).where(JobRun.team_id == team_id, JobRun.job == f"health:{plan_id}")
    )


def data_counts(session: Session, plan_id: int, signalled: Mapping[str, int], now: datetime) -> tuple[int, int]:
    """(customers with insufficient data, customers with stale or insufficient data) among the plan's customers.

    ``signalled`` maps each signalled factor to its window in days. Insufficient: signals recorded but no score.
    """
    has_signal = or_(false(), *(Customer.signals[key].as_float().is_not(None) for key in signalled))
    insufficient = and_(Customer.score.is_(None), has_signal)
    flagged = or_(insufficient, _any_stale(signalled, now))
    row = session.execute(
        select(
            func.coalesce(func.sum(case((insufficient, 1), else_=0)), 0),
            func.coalesce(func.sum(case((flagged, 1), else_=0)), 0),
        ).where(Customer.plan_id == plan_id)
    ).one()
    return int(row[0]), int(row[1])
