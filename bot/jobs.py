"""Scheduled work: missed-milestone alerts, health-score updates and band-drop alerts.

Every job writes its Slack posts to the outbox in the same transaction as the state change that
caused them; the delivery worker sends them. Each job is idempotent for a given instant (alerts
are keyed per milestone, updates per scheduled period), so ticking twice, restarting, or running
several replicas never sends anything twice.
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from bot.blocks.alerts import (
    ALERTS_PER_MESSAGE,
    BandDrop,
    MissedMilestone,
    band_alerts,
    missed_alert,
    missed_digest,
    missed_thread_part,
)
from bot.blocks.digest import THREAD_LINES, THREAD_PARTS, DigestLine, flagged_thread_parts, health_digest
from bot.customers import RunnablePlan, runnable
from bot.services import Services
from steps.deadlines import days_overdue
from steps.health import MilestoneState, ScoreBreakdown, compute_score, is_worse, scoring_factors
from steps.schedule import describe, latest_update_due
from steps.step3 import Band
from storage import outbox, repo
from storage.bulk import execute_many
from storage.db import transaction
from storage.models import Alert, Customer, CustomerMilestone, HealthScore

logger = logging.getLogger(__name__)

# More missed milestones than this in one check become one digest with the details in its thread.
DIGEST_THRESHOLD = 5
MAX_THREAD_PARTS = 10
SCORE_CHUNK = 5000
MOVER_POINTS = 5.0
MOVERS_SHOWN = 10
PROCESSED_REQUESTS_KEPT = timedelta(days=2)
LISTED = THREAD_LINES * THREAD_PARTS


@dataclass
class CheckReport:
    missed: int = 0
    band_alerts: int = 0
    health_updates: int = 0
    scored: int = 0
    plans: list[str] = field(default_factory=list)


def _weakest(breakdown: ScoreBreakdown) -> str:
    return " · ".join(f"{f.label} {f.value:.0f}" for f in breakdown.weakest(2) if f.value is not None)


# --- scoring many customers ------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    customer_id: int
    name: str
    owner_id: str | None
    breakdown: ScoreBreakdown
    previous_score: float | None
    previous_band: Band | None


def score_customers(
    session: Session, ready: RunnablePlan, now: datetime, customer_ids: list[int] | None = None, *, reported: bool
) -> Iterator[Scored]:
    """Rescore a plan's customers (or some of them) in chunks, keeping every score in the history.

    ``reported`` marks the new bands as told to the team (a health update), so only later drops alert.
    Writes go through Core executemany: at 100,000 customers the ORM's per-row bookkeeping dominates.
    """
    today = ready.today(now)
    # Points per plan position, read once: pydantic attribute access per milestone row adds up at 500k rows.
    points = [(m.points_on_time, m.points_missed) for m in ready.milestones.milestones]
    factors = scoring_factors(ready.health)
    pending = sorted(customer_ids) if customer_ids is not None else None
    last_id = 0
    changes_stmt = _score_update(reported)
    while True:
        query = select(
            Customer.id, Customer.name, Customer.owner_id, Customer.signals, Customer.reported_score,
            Customer.reported_band,
        ).where(Customer.plan_id == ready.plan.id)  # fmt: skip
        if pending is not None:
            chunk_ids, pending = pending[:SCORE_CHUNK], pending[SCORE_CHUNK:]
            if not chunk_ids:
                return
            query = query.where(Customer.id.in_(chunk_ids))
        else:
            query = query.where(Customer.id > last_id).order_by(Customer.id).limit(SCORE_CHUNK)
        # Core rows, not ORM rows: nothing here needs identity tracking, and it is several times faster.
        customers = session.connection().execute(query).all()
        if not customers:
            return
        first_id, last_id = customers[0].id, customers[-1].id
        states: dict[int, list[MilestoneState]] = defaultdict(list)
        milestone_rows = session.connection().execute(
            select(
                CustomerMilestone.customer_id, CustomerMilestone.position, CustomerMilestone.name,
                CustomerMilestone.due_date, CustomerMilestone.completed_on,
            )
            .where(CustomerMilestone.plan_id == ready.plan.id)
            .where(CustomerMilestone.customer_id.between(first_id, last_id))
            .order_by(CustomerMilestone.customer_id, CustomerMilestone.position)
        ).all()  # fmt: skip
        for cid, position, name, due, done in milestone_rows:
            on_time, missed = points[position] if position < len(points) else (None, None)
            states[cid].append(MilestoneState(position, name, due, done, on_time, missed))
        history: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for row in customers:
            breakdown = compute_score(ready.health, row.signals or {}, states[row.id], today, factors)
            band = breakdown.band.value if breakdown.band else None
            history.append(
                {"customer_id": row.id, "score": breakdown.score, "band": band, "breakdown": breakdown.to_dict()}
            )
            changes.append({"cid": row.id, "new_score": breakdown.score, "new_band": band})
            previous_band = BANDS.get(row.reported_band)
            yield Scored(row.id, row.name, row.owner_id, breakdown, row.reported_score, previous_band)
        shared = {"team_id": ready.plan.team_id, "plan_id": ready.plan.id, "computed_at": now}
        execute_many(session, insert(HealthScore.__table__), history, types=HISTORY_TYPES, shared=shared)
        execute_many(session, changes_stmt, changes, types={"at": UTC_DATETIME}, shared={"at": now})
        if pending is None and len(customers) < SCORE_CHUNK:
            return


BANDS: dict[str | None, Band] = {band.value: band for band in Band}
UTC_DATETIME = HealthScore.__table__.c.computed_at.type
HISTORY_TYPES = {"computed_at": UTC_DATETIME, "breakdown": HealthScore.__table__.c.breakdown.type}


def _score_update(reported: bool) -> Any:
    table = Customer.__table__
    values = {"score": bindparam("new_score"), "band": bindparam("new_band"), "scored_at": bindparam("at")}
    if reported:
        values |= {"reported_score": bindparam("new_score"), "reported_band": bindparam("new_band")}
    return update(table).where(table.c.id == bindparam("cid")).values(**values)


# --- missed milestones -------------------------------------------------------------------------


def check_missed(session: Session, ready: RunnablePlan, now: datetime, *, rescore: bool = True) -> int:
    today = ready.today(now)
    query = (
        select(
            CustomerMilestone.id, CustomerMilestone.customer_id, CustomerMilestone.position, CustomerMilestone.name,
            CustomerMilestone.due_date, Customer.name.label("customer"), Customer.owner_id,
        )
        .join(Customer, Customer.id == CustomerMilestone.customer_id)
        .where(
            CustomerMilestone.plan_id == ready.plan.id,
            CustomerMilestone.completed_on.is_(None),
            CustomerMilestone.alerted_at.is_(None),
            CustomerMilestone.due_date < today,
        )
        .order_by(CustomerMilestone.due_date, Customer.name_key, CustomerMilestone.position)
        # Replicas checking at once split the rows between them instead of alerting twice.
        .with_for_update(skip_locked=True, of=CustomerMilestone)
    )  # fmt: skip
    rows = session.execute(query).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        session.execute(
            update(CustomerMilestone).where(CustomerMilestone.id.in_(ids[start : start + 500])).values(alerted_at=now)
        )
    alerts = [{"customer_id": r.customer_id, "milestone_id": r.id, "key": f"missed:{r.id}"} for r in rows]
    shared = {"team_id": ready.plan.team_id, "plan_id": ready.plan.id, "kind": "missed", "created_at": now}
    execute_many(session, insert(Alert.__table__), alerts, types={"created_at": UTC_DATETIME}, shared=shared)
    # The plan row is locked for this check, so these are exactly the alerts just written.
    ids = dict(
        session.connection()
        .execute(
            select(Alert.milestone_id, Alert.id).where(
                Alert.plan_id == ready.plan.id, Alert.kind == "missed", Alert.created_at == now
            )
        )
        .all()
    )
    alert_ids = [ids[r.id] for r in rows]
    items = [
        MissedMilestone(
            alert_id, r.customer, r.position, r.name, r.due_date, days_overdue(r.due_date, today), r.owner_id
        )
        for alert_id, r in zip(alert_ids, rows, strict=True)
    ]
    _post_missed(session, ready, items, now)
    if rescore:
        # A missed milestone costs points: rescore now so a band drop is caught by this same check.
        for _ in score_customers(session, ready, now, sorted({r.customer_id for r in rows}), reported=False):
            pass
    return len(items)


def _post_missed(session: Session, ready: RunnablePlan, items: list[MissedMilestone], now: datetime) -> None:
    policy = ready.milestones.missed_deadline_policy
    common = {"team_id": ready.plan.team_id, "channel_id": ready.alert_channel, "plan_id": ready.plan.id, "now": now}
    if len(items) <= DIGEST_THRESHOLD:
        for item in items:
            outbox.enqueue(session, key=f"alert:{item.alert_id}", message=missed_alert(item, policy), **common)
        return
    # Most overdue first, so a long list starts with what matters most.
    ordered = sorted(items, key=lambda i: (-i.days_overdue, i.customer.casefold(), i.position))
    shown = ordered[: ALERTS_PER_MESSAGE * MAX_THREAD_PARTS]
    parent = outbox.enqueue(
        session, key=f"missed-digest:{items[0].alert_id}", message=missed_digest(items, len(shown), policy), **common
    )
    for part, start in enumerate(range(0, len(shown), ALERTS_PER_MESSAGE)):
        outbox.enqueue(
            session,
            key=f"missed-digest:{items[0].alert_id}:{part}",
            message=missed_thread_part(shown[start : start + ALERTS_PER_MESSAGE]),
            parent=parent,
            **common,
        )


# --- health-score updates ----------------------------------------------------------------------


def health_update_due(session: Session, ready: RunnablePlan, now: datetime) -> datetime | None:
    """The scheduled instant of the plan's update when one is due and has not run yet."""
    health = ready.health
    instant = latest_update_due(health.cadence, health.update_time, health.timezone, now)
    saved = repo.section_rows(session, ready.plan)["health"].updated_at
    if instant < saved:
        return None  # the first update is the first scheduled one after the model was saved
    if repo.job_ran(session, ready.plan.team_id, f"health:{ready.plan.id}", instant.isoformat()):
        return None
    return instant


def run_health_update(session: Session, ready: RunnablePlan, now: datetime, instant: datetime) -> int | None:
    """The plan's update for ``instant``; returns the customers scored (None when another replica ran it)."""
    health = ready.health
    if not repo.claim_job(session, ready.plan.team_id, f"health:{ready.plan.id}", instant.isoformat(), now):
        return None
    counts: dict[Band | None, int] = defaultdict(int)
    movers: list[tuple[float, int, DigestLine]] = []
    flagged: dict[Band, list[tuple[DigestLine, ScoreBreakdown]]] = defaultdict(list)
    scored = 0
    for item in score_customers(session, ready, now, reported=True):
        scored += 1
        b = item.breakdown
        counts[b.band] += 1
        delta = abs(b.score - item.previous_score) if b.score is not None and item.previous_score is not None else 0.0
        moved = delta >= MOVER_POINTS or (item.previous_band is not None and item.previous_band != b.band)
        flag = b.band is Band.AT_RISK or b.band is Band.CRITICAL
        if not (moved or flag):
            continue  # most customers: counted, not listed
        line = DigestLine(item.name, b.score, b.band, item.previous_score, item.previous_band, "")
        if moved:
            entry = (abs(line.delta), -item.customer_id, line)
            if len(movers) < MOVERS_SHOWN:
                heapq.heappush(movers, entry)
            else:
                heapq.heappushpop(movers, entry)
        if flag and b.band is not None:
            flagged[b.band].append((line, b))
    shown: dict[Band, list[DigestLine]] = {}
    for band, lines in flagged.items():
        lines.sort(key=lambda pair: (pair[0].score if pair[0].score is not None else 0.0, pair[0].customer.casefold()))
        # Weakest factors only for the customers the digest and its thread list; the rest are counted.
        shown[band] = [replace(line, weakest=_weakest(b)) if i < LISTED else line for i, (line, b) in enumerate(lines)]
    message = health_digest(
        ready.plan.name,
        describe(health.cadence, health.update_time, health.timezone),
        dict(counts),
        [entry[2] for entry in sorted(movers, reverse=True)],
        shown,
        {band: health.protocols.get(band) for band in Band},
        list(health.monitors),
    )
    key = f"health:{ready.plan.id}:{instant.isoformat()}"
    common = {"team_id": ready.plan.team_id, "channel_id": ready.alert_channel, "plan_id": ready.plan.id, "now": now}
    parent = outbox.enqueue(session, key=key, message=message, **common)
    for number, part in enumerate(flagged_thread_parts(shown)):
        outbox.enqueue(session, key=f"{key}:{number}", message=part, parent=parent, **common)
    return scored


# --- band drops between updates ----------------------------------------------------------------


def check_band_drops(session: Session, ready: RunnablePlan, now: datetime) -> int:
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.owner_id, Customer.score, Customer.band, Customer.reported_band,
               Customer.scored_at)
        .where(Customer.plan_id == ready.plan.id, Customer.band.is_not(None))
        .where(or_(Customer.reported_band.is_(None), Customer.reported_band != Customer.band))
        .with_for_update(skip_locked=True)
    ).all()  # fmt: skip
    drops: list[BandDrop] = []
    alerts: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for row in rows:
        band, previous = Band(row.band), Band(row.reported_band) if row.reported_band else None
        changes.append({"id": row.id, "reported_band": row.band, "reported_score": row.score})
        if band is Band.HEALTHY or (previous is not None and not is_worse(previous, band)):
            continue  # better news needs no alert; the next update reports it
        weakest = ""
        if len(drops) < ALERTS_PER_MESSAGE:  # only these are shown in the alert message
            latest = session.scalar(
                select(HealthScore.breakdown)
                .where(HealthScore.customer_id == row.id)
                .order_by(HealthScore.computed_at.desc(), HealthScore.id.desc())
                .limit(1)
            )
            weakest = _weakest(ScoreBreakdown.from_dict(latest)) if latest else ""
        drops.append(
            BandDrop(row.name, row.score or 0.0, previous.label if previous else None, band.label, weakest,
                     row.owner_id, ready.health.protocols.get(band))
        )  # fmt: skip
        alerts.append({
            "team_id": ready.plan.team_id, "plan_id": ready.plan.id, "customer_id": row.id, "milestone_id": None,
            "kind": "band", "key": f"band:{row.id}:{band.value}:{row.scored_at.isoformat()}", "created_at": now,
        })  # fmt: skip
    if changes:
        session.execute(update(Customer), changes)
    if not drops:
        return 0
    session.execute(insert(Alert), alerts)
    outbox.enqueue(
        session, team_id=ready.plan.team_id, channel_id=ready.alert_channel, plan_id=ready.plan.id,
        key=f"band-alerts:{ready.plan.id}:{now.isoformat()}",
        message=band_alerts(drops, list(ready.health.monitors)), now=now,
    )  # fmt: skip
    return len(drops)


# --- one check over every plan -----------------------------------------------------------------


def check(services: Services, now: datetime) -> CheckReport:
    """Everything the scheduler does for ``now``, except delivery. One transaction per plan."""
    report = CheckReport()
    with transaction(services.sessions) as session:
        repo.prune_processed_requests(session, now - PROCESSED_REQUESTS_KEPT)
        plan_ids = [p.id for p in repo.all_plans(session)]
    for plan_id in plan_ids:
        with transaction(services.sessions) as session:
            plan = repo.lock_plan_for_check(session, plan_id)
            ready = runnable(session, plan) if plan is not None else None
            if ready is None:
                continue
            update_due = health_update_due(session, ready, now)
            # When the scheduled update runs in this check it rescores everyone anyway.
            report.missed += check_missed(session, ready, now, rescore=update_due is None)
            scored = run_health_update(session, ready, now, update_due) if update_due else None
            if scored is not None:
                report.health_updates += 1
                report.scored += scored
            report.band_alerts += check_band_drops(session, ready, now)
            report.plans.append(ready.plan.name)
    return report
