"""Scheduled work: missed-milestone alerts, health-score updates and band-drop alerts.

Every job writes its Slack posts to the outbox in the same transaction as the state change that
caused them (``bot.announcements``); the delivery worker sends them. Each job is idempotent for a
given instant (alerts are keyed per milestone, updates per scheduled period), so ticking twice,
restarting, or running several replicas never sends anything twice.
"""

from __future__ import annotations

import gc
import heapq
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import announcements, customers, tokens
from bot.customers import RunnablePlan, runnable
from bot.services import Services
from steps.health import (
    PlanScorer,
    ScoreBreakdown,
    compute_score,
    drop_from_staleness,
    freshness_windows,
    is_drop,
    scoring_factors,
    staleness_only_drop,
)
from steps.schedule import latest_update_due
from steps.step3 import Band
from storage import alerts, freshness, health_scores, repo
from storage.alerts import MissedAlert, UnreportedBand
from storage.db import Session, transaction

MOVER_POINTS = 5.0
MOVERS_SHOWN = 10
PROCESSED_REQUESTS_KEPT = timedelta(days=2)


@dataclass
class CheckReport:
    missed: int = 0
    band_alerts: int = 0
    health_updates: int = 0
    scored: int = 0
    gone_stale: int = 0  # customers rescored between updates because a factor's value became stale
    plans: list[str] = field(default_factory=list)


# --- scoring many customers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scored:
    customer_id: int
    name: str
    owner_id: str | None
    breakdown: ScoreBreakdown
    previous_score: float | None  # as last reported to the team
    previous_band: Band | None

    @property
    def change(self) -> float:
        """Points since the last report; 0 when either score is missing."""
        score = self.breakdown.score
        return 0.0 if score is None or self.previous_score is None else score - self.previous_score

    @property
    def score(self) -> float | None:
        return self.breakdown.score

    @property
    def band(self) -> Band | None:
        return self.breakdown.band

    @property
    def stale(self) -> bool:
        return bool(self.breakdown.stale)

    @property
    def insufficient(self) -> bool:
        return self.breakdown.insufficient is not None


@dataclass(slots=True)
class Kept:
    """A customer's stored current score as the health update reads it, with what scoring it needs; ``breakdown``
    only for the customers the digest lists in detail."""

    customer_id: int
    name: str
    owner_id: str | None
    score: float | None
    band: Band | None
    previous_score: float | None  # as last reported to the team
    previous_band: Band | None
    signals: dict[str, Any]
    observed: dict[str, Any]  # signal_times
    scored_at: datetime | None
    stale: bool = False
    insufficient: bool = False
    breakdown: ScoreBreakdown | None = None

    @property
    def change(self) -> float:
        """Points since the last report; 0 when either score is missing."""
        return 0.0 if self.score is None or self.previous_score is None else self.score - self.previous_score


def score_customers(
    session: Session, ready: RunnablePlan, now: datetime, customer_ids: Iterable[int] | None = None, *, reported: bool
) -> list[Scored]:
    """Rescore a plan's customers (or the ones named), keeping every score in the history.

    ``reported`` marks the new bands as told to the team (a health update), so only later drops alert. Otherwise a
    band that only staleness made worse is recorded as heard (stale is not a worse band): it never alerts.
    """
    scored: list[Scored] = []
    today = ready.today(now)
    # Points per plan position, read once: pydantic attribute access per milestone row adds up at 500k rows.
    points = [(m.points_on_time, m.points_missed) for m in ready.milestones.milestones]
    factors = scoring_factors(ready.health)
    fresh = ready.freshness(now)  # cutoffs computed once per plan, not per customer
    for chunk in health_scores.customers_to_score(session, ready.plan.id, points, customer_ids):
        results = [
            Scored(c.id, c.name, c.owner_id,
                   compute_score(ready.health, c.signals, c.milestones, today, factors, observed=c.signal_times,
                                 freshness=fresh),
                   c.reported_score, c.reported_band)
            for c in chunk
        ]  # fmt: skip
        absorbed = (
            ()
            if reported
            else [
                s.customer_id
                for s in results
                if s.breakdown.stale and drop_from_staleness(s.previous_band, s.breakdown)
            ]
        )
        health_scores.record_scores(
            session, ready.plan.team_id, ready.plan.id, ((s.customer_id, s.breakdown) for s in results), now,
            reported=reported, absorbed=absorbed,
        )  # fmt: skip
        scored += results
    return scored


def rescore_gone_stale(session: Session, ready: RunnablePlan, now: datetime) -> int:
    """Between health updates: rescore the customers a factor of which became stale since their last score.

    Staleness changes with time alone, so every check looks; the health update rescores everyone anyway.
    """
    since = freshness.last_update_run(session, ready.plan.team_id, ready.plan.id)
    windows = freshness_windows(ready.health, dict(ready.plan.freshness))
    stale = freshness.gone_stale(session, ready.plan.id, windows, now, since)
    return rescore_between_updates(session, ready, now, stale)


# --- missed milestones -------------------------------------------------------------------------


def check_missed(session: Session, ready: RunnablePlan, now: datetime) -> list[MissedAlert]:
    """Alert once on every milestone that became overdue; the alerts just made."""
    made = alerts.alert_newly_missed(session, ready.plan.team_id, ready.plan.id, ready.today(now), now)
    if not made:
        return []
    announcements.milestones_missed(session, ready, made, now)
    return made


# --- health-score updates ----------------------------------------------------------------------


DigestItem = Scored | Kept


@dataclass(frozen=True)
class HealthDigest:
    counts: dict[Band | None, int]  # None: no data yet (insufficient data is counted apart)
    movers: list[DigestItem]  # the largest changes since the last report first, at most MOVERS_SHOWN
    flagged: dict[Band, list[DigestItem]]  # every at-risk and critical customer, lowest score first
    insufficient: list[DigestItem] = field(default_factory=list)  # no score for too little fresh data, by name
    stale_or_insufficient: int = 0  # customers whose score leaves out stale values, or has too little data


def health_update_due(session: Session, ready: RunnablePlan, now: datetime) -> datetime | None:
    """The scheduled instant of the plan's update when one is due and has not run yet."""
    health = ready.health
    instant = latest_update_due(
        health.cadence, health.update_time, health.timezone, now, health.weekday.number, health.month_day
    )
    saved = ready.sections["health"].updated_at
    if instant < saved:
        return None  # the first update is the first scheduled one after the model was saved
    if repo.job_ran(session, ready.plan.team_id, f"health:{ready.plan.id}", instant.isoformat()):
        return None
    return instant


def run_health_update(session: Session, ready: RunnablePlan, now: datetime, instant: datetime) -> int | None:
    """The plan's update for ``instant``; returns the customers rescored (None when another replica ran it).

    Only the customers whose score may have changed since the last update are rescored (``_changed``); every other
    stored score is still what scoring would give now, so it is read, not computed, and nothing is written for it
    but its band as heard. The digest reads every customer's stored current score.
    """
    since = freshness.last_update_run(session, ready.plan.team_id, ready.plan.id)  # before this run's own claim
    if not repo.claim_job(session, ready.plan.team_id, f"health:{ready.plan.id}", instant.isoformat(), now):
        return None
    scorer = _plan_scorer(ready, now)
    kept = _kept_scores(session, ready.plan.id)
    changed = _changed(session, ready, now, since, scorer, kept)
    rescored = rescore_lean(session, ready, now, scorer, [item for item in kept if item.customer_id in changed])
    unheard = []  # kept scores the team has not heard yet (a customer rescored between updates)
    for item in kept:
        if item.customer_id not in rescored:
            item.stale, item.insufficient = scorer.kept_flags(item.score, item.signals, item.observed)
            if item.score != item.previous_score or item.band != item.previous_band:
                unheard.append(item.customer_id)
    digest = build_health_digest(kept)
    explain_listed(session, digest)
    health_scores.mark_reported(session, unheard)  # the rescored ones were recorded as reported
    announcements.health_update(session, ready, instant, digest, now)
    return len(rescored)


def _changed(
    session: Session, ready: RunnablePlan, now: datetime, since: datetime | None, scorer: PlanScorer,
    kept: Sequence[Kept],
) -> set[int]:  # fmt: skip
    """The customers whose score may differ from the stored one.

    Whatever changes a customer's values between updates rescores them there and then (signals, a milestone done
    or its deadline extended, a freshness setting), so what is left are the changes time and the plan make: a
    deadline that passed, a value that went stale, a customer never scored, and an edited model (every customer).
    After an update, every customer's stored score is the score as of that update, hence "since" it.
    """
    sections = ready.sections
    if since is None or max(sections["health"].updated_at, sections["milestones"].updated_at) >= since:
        return {item.customer_id for item in kept}
    changed = health_scores.deadlines_passed(session, ready.plan.id, ready.today(since), ready.today(now))
    changed.update(
        item.customer_id for item in kept if item.scored_at is None or scorer.went_stale(item.observed, item.scored_at)
    )
    return changed


def _plan_scorer(ready: RunnablePlan, now: datetime) -> PlanScorer:
    points = [(m.points_on_time, m.points_missed) for m in ready.milestones.milestones]
    return PlanScorer(ready.health, ready.freshness(now), points)


def rescore_lean(
    session: Session, ready: RunnablePlan, now: datetime, scorer: PlanScorer, customers: Sequence[Kept]
) -> set[int]:
    """Rescore the customers given (in id order) on the lean path (``steps.health.PlanScorer``: raw rows, no object
    per factor); each score goes to the history and becomes the customer's current score, and ``customers`` are
    updated with it. Returns their ids."""
    today = health_scores.day_value(session, ready.today(now))
    by_id = {item.customer_id: item for item in customers}
    for milestones in health_scores.lean_milestones(session, ready.plan.id, list(by_id)):
        scores = []
        for customer_id, rows in milestones.items():
            item = by_id[customer_id]
            score, band, _, item.stale, item.insufficient, breakdown = scorer.score(
                item.signals, item.observed, rows, today
            )
            item.score, item.band = score, health_scores.BANDS.get(band)
            scores.append((customer_id, score, band, breakdown))
        health_scores.record_lean_scores(session, ready.plan.team_id, ready.plan.id, scores, now)
    return set(by_id)


def rescore_between_updates(session: Session, ready: RunnablePlan, now: datetime, customer_ids: Collection[int]) -> int:
    """``score_customers(..., reported=False)`` on the lean path, for customers whose values changed (an import, a
    deadline passed, a value gone stale) when nobody reads the scores at once: the same scores and breakdowns, no
    breakdown object per customer. Returns how many were rescored."""
    wanted = sorted(set(customer_ids))
    scorer = _plan_scorer(ready, now)
    today = health_scores.day_value(session, ready.today(now))
    bands = health_scores.BANDS
    for start in range(0, len(wanted), health_scores.SCORE_CHUNK):  # one chunk in memory at a time
        chunk = wanted[start : start + health_scores.SCORE_CHUNK]
        inputs = health_scores.scoring_inputs(session, ready.plan.id, chunk)
        milestones = next(health_scores.lean_milestones(session, ready.plan.id, chunk))
        scores = []
        absorbed = []
        for customer_id, rows in milestones.items():
            signals, observed, heard = inputs[customer_id]
            score, band, band_with_stale, stale, _, breakdown = scorer.score(signals, observed, rows, today)
            scores.append((customer_id, score, band, breakdown))
            if staleness_only_drop(heard, bands.get(band), bands.get(band_with_stale), stale):
                absorbed.append(customer_id)
        health_scores.record_lean_scores(
            session, ready.plan.team_id, ready.plan.id, scores, now, reported=False, absorbed=absorbed
        )
    return len(wanted)


def _kept_scores(session: Session, plan_id: int) -> list[Kept]:
    bands = health_scores.BANDS
    return [
        Kept(customer_id, name, owner, score, bands.get(band), reported, bands.get(reported_band), signals, observed,
             scored_at)
        for customer_id, name, owner, score, band, reported, reported_band, signals, observed, scored_at in (
            health_scores.current_scores(session, plan_id)
        )
    ]  # fmt: skip


def build_health_digest(scored: Iterable[DigestItem]) -> HealthDigest:
    """Band counts, the biggest movers, and the at-risk and critical customers of one update."""
    counts: dict[Band | None, int] = defaultdict(int)
    movers: list[tuple[float, int, DigestItem]] = []  # a heap of the MOVERS_SHOWN largest moves
    flagged: dict[Band, list[DigestItem]] = defaultdict(list)
    insufficient: list[DigestItem] = []
    stale_or_insufficient = 0
    for item in scored:
        band = item.band
        if item.insufficient:
            insufficient.append(item)
            stale_or_insufficient += 1
        else:
            counts[band] += 1
            stale_or_insufficient += item.stale
        change = abs(item.change)
        if change >= MOVER_POINTS or (item.previous_band is not None and item.previous_band != band):
            entry = (change, -item.customer_id, item)
            if len(movers) < MOVERS_SHOWN:
                heapq.heappush(movers, entry)
            else:
                heapq.heappushpop(movers, entry)
        if band is Band.AT_RISK or band is Band.CRITICAL:
            flagged[band].append(item)
    for lines in flagged.values():
        lines.sort(key=lambda s: (s.score or 0.0, s.name.casefold()))
    insufficient.sort(key=lambda s: s.name.casefold())
    return HealthDigest(
        dict(counts), [entry[2] for entry in sorted(movers, reverse=True)], dict(flagged), insufficient,
        stale_or_insufficient,
    )  # fmt: skip


def explain_listed(session: Session, digest: HealthDigest) -> None:
    """Give the stored customers the digest lists with details their breakdown (the others are only counted)."""
    listed = [
        *digest.movers,
        *(item for lines in digest.flagged.values() for item in lines[: announcements.LISTED]),
        *digest.insufficient[: announcements.INSUFFICIENT_LISTED],
    ]
    kept = [item for item in listed if isinstance(item, Kept) and item.breakdown is None]
    found = health_scores.latest_breakdowns(session, {item.customer_id for item in kept})
    for item in kept:
        item.breakdown = found.get(item.customer_id)


# --- band drops between updates ----------------------------------------------------------------


@dataclass(frozen=True)
class BandDrop:
    customer: str
    owner_id: str | None
    score: float
    previous: Band | None  # None when the team never heard of a band
    band: Band
    breakdown: ScoreBreakdown | None  # the latest, for the drops the alert shows in full


def check_band_drops(session: Session, ready: RunnablePlan, now: datetime) -> int:
    """Alert on customers whose band got worse since the team last heard; better news waits for the update."""
    changed = alerts.lock_unreported_bands(session, ready.plan.id)
    dropped = [c for c in changed if _is_drop(c)]
    alerts.mark_bands_reported(session, changed)
    if not dropped:
        return 0
    alerts.record_band_alerts(session, ready.plan.team_id, ready.plan.id, dropped, now)
    # Only the drops the alert shows in full need their latest breakdown: one query each.
    drops = [_band_drop(session, c, detailed=n < announcements.BAND_DROPS_SHOWN) for n, c in enumerate(dropped)]
    announcements.bands_dropped(session, ready, drops, now)
    return len(drops)


def _band_drop(session: Session, customer: UnreportedBand, *, detailed: bool) -> BandDrop:
    breakdown = health_scores.latest_breakdown(session, customer.customer_id) if detailed else None
    return BandDrop(
        customer.customer, customer.owner_id, customer.score or 0.0, customer.reported_band, customer.band, breakdown
    )


def _is_drop(customer: UnreportedBand) -> bool:
    return is_drop(customer.reported_band, customer.band)


# --- one check over every plan -----------------------------------------------------------------


def check(services: Services, now: datetime) -> CheckReport:
    """Everything the scheduler does for ``now``, except delivery. One transaction per plan, its row locked."""
    with _collector_paused():
        return _check(services, now)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector off for the duration.

    A check holds hundreds of thousands of small containers at once (each customer's values, rows and breakdown), and
    the collector's full passes walk every one of them again and again: a fifth of the check's CPU at 100,000
    customers, for nothing, since reference counting frees them (none needs the collector). It runs again after.
    """
    if not gc.isenabled():  # already paused by the caller
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _check(services: Services, now: datetime) -> CheckReport:
    report = CheckReport()
    with transaction(services.sessions) as session:
        repo.prune_processed_requests(session, now - PROCESSED_REQUESTS_KEPT)
        tokens.prune_answers(session, now)  # Idempotency-Key answers past their 24 hours
        plan_ids = [p.id for p in repo.all_plans(session)]
    for plan_id in plan_ids:
        with transaction(services.sessions) as session:
            plan = repo.lock_plan_for_check(session, plan_id)
            ready = runnable(session, plan) if plan is not None else None
            if ready is not None:
                _check_plan(session, ready, now, report)
    return report


def _check_plan(session: Session, ready: RunnablePlan, now: datetime, report: CheckReport) -> None:
    # Deadlines first: a milestones edit whose rescheduling a crash interrupted is caught up before any alert.
    customers.follow_milestones(session, ready, now)
    update_due = health_update_due(session, ready, now)
    missed = check_missed(session, ready, now)
    report.missed += len(missed)
    if missed and update_due is None:
        # A missed milestone costs points: rescore now so a band drop is caught by this same check. (A health
        # update in this check rescores everyone anyway.)
        rescore_between_updates(session, ready, now, {a.milestone.customer_id for a in missed})
    scored = run_health_update(session, ready, now, update_due) if update_due else None
    report.plans.append(ready.plan.name)
    if scored is not None:
        report.health_updates += 1
        report.scored += scored
        return  # no band drop is left to alert on: the update reported every customer's band, in this transaction
    report.gone_stale += rescore_gone_stale(session, ready, now)
    report.band_alerts += check_band_drops(session, ready, now)
