"""What the App Home shows: a summary of each plan the person can see."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.customers import runnable
from steps.health import StaleFactor, signal_factors, stale_factors
from steps.step3 import Section
from storage import customers, freshness, outbox, repo
from storage.db import Session
from storage.records import Backlog

PER_LIST = 8  # customers, milestones and failed posts listed per plan


@dataclass
class PlanSummary:
    name: str
    channel_id: str
    steps_completed: list[str]
    sections_answered: list[Section]
    band_counts: dict[str | None, int] = field(default_factory=dict)  # None: no score (no data or insufficient)
    insufficient: int = 0  # customers without a score for too little fresh data
    stale_or_insufficient: int = 0  # ... and those whose score leaves a stale value out
    # name, score, band, stale factors
    lowest: list[tuple[str, float | None, str | None, tuple[StaleFactor, ...]]] = field(default_factory=list)
    overdue: list[tuple[str, str, date]] = field(default_factory=list)  # customer, milestone, due
    overdue_total: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # summary, error
    backlog: Backlog | None = None  # posts not in Slack yet
    read_at: datetime | None = None  # when this summary was read (the backlog's age is counted to it)


def plan_summaries(session: Session, team_id: str, now: datetime, channels: Collection[str]) -> list[PlanSummary]:
    """The workspace's plans whose channel is one of ``channels`` (those the person looking is in)."""
    summaries = []
    for plan in repo.team_plans(session, team_id):
        if plan.channel_id not in channels:
            continue
        rows = repo.section_rows(session, plan)
        summary = PlanSummary(
            plan.name, plan.channel_id, list(plan.steps_completed), [s for s in Section if s.value in rows]
        )
        ready = runnable(session, plan)
        if ready is not None:
            summary.band_counts = customers.band_counts(session, plan.id)
            fresh = ready.freshness(now)
            summary.insufficient, summary.stale_or_insufficient = freshness.data_counts(
                session, plan.id, fresh.windows, now
            )
            labels = signal_factors(ready.health)
            summary.lowest = [
                (name, score, band, stale_factors(labels, signals, times, fresh))
                for name, score, band, signals, times in customers.lowest_scores(session, plan.id, PER_LIST)
            ]
            summary.overdue, summary.overdue_total = customers.overdue_milestones(
                session, plan.id, ready.today(now), PER_LIST
            )
        summary.failed = outbox.failed_summaries(session, team_id, plan.id, limit=PER_LIST)
        summary.backlog = outbox.backlog(session, team_id, plan.id)
        summary.read_at = now
        summaries.append(summary)
    return summaries
