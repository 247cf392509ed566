"""What the App Home shows, read from the database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.blocks.home import PER_LIST, PlanSummary
from bot.customers import runnable
from steps.step3 import Section
from storage import outbox, repo
from storage.models import Customer, CustomerMilestone


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
            today = ready.today(now)
            summary.band_counts = dict(
                session.execute(
                    select(Customer.band, func.count()).where(Customer.plan_id == plan.id).group_by(Customer.band)
                ).all()
            )
            summary.lowest = [
                (name, score, band)
                for name, score, band in session.execute(
                    select(Customer.name, Customer.score, Customer.band)
                    .where(Customer.plan_id == plan.id, Customer.score.is_not(None))
                    .order_by(Customer.score, Customer.name_key)
                    .limit(PER_LIST)
                )
            ]
            overdue = (
                select(Customer.name, CustomerMilestone.name, CustomerMilestone.due_date)
                .join(Customer, Customer.id == CustomerMilestone.customer_id)
                .where(
                    CustomerMilestone.plan_id == plan.id,
                    CustomerMilestone.completed_on.is_(None),
                    CustomerMilestone.due_date < today,
                )
            )
            summary.overdue = [
                tuple(r) for r in session.execute(overdue.order_by(CustomerMilestone.due_date).limit(PER_LIST))
            ]
            summary.overdue_total = session.scalar(select(func.count()).select_from(overdue.subquery())) or 0
        summary.failed = outbox.failed_summaries(session, team_id, plan.id, limit=PER_LIST)
        summary.backlog = outbox.backlog(session, team_id, plan.id)
        summary.read_at = now
        summaries.append(summary)
    return summaries
