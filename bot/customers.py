"""Running the plan, per customer: add customers, complete milestones, record signals, rescore.

Database and domain only; listeners and scheduled jobs turn the results into Slack messages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.arguments import ArgumentError, NewCustomer
from bot.blocks.common import esc
from steps.deadlines import deadline, recompute_due
from steps.health import MilestoneState, ScoreBreakdown, compute_score, signal_factors
from steps.step3 import STEP_ID, HealthModel, MilestonesSection
from storage import outbox, repo
from storage.models import Alert, Customer, CustomerMilestone, HealthScore, Plan, SignalReading


@dataclass(frozen=True)
class RunnablePlan:
    """A plan whose Step 3 is saved, with its milestones and health model parsed once."""

    plan: Plan
    milestones: MilestonesSection
    health: HealthModel

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.health.timezone)

    def today(self, now: datetime) -> date:
        """Deadlines are calendar days in the plan's own time zone."""
        return now.astimezone(self.zone).date()

    @property
    def alert_channel(self) -> str:
        return self.plan.alert_channel_id or self.plan.channel_id


def runnable(session: Session, plan: Plan) -> RunnablePlan | None:
    if STEP_ID not in plan.steps_completed:
        return None
    rows = repo.section_rows(session, plan)
    return RunnablePlan(
        plan,
        MilestonesSection.model_validate(rows["milestones"].answers),
        HealthModel.model_validate(rows["health"].answers),
    )


def require_runnable(session: Session, team_id: str, channel_id: str) -> RunnablePlan:
    plan = repo.find_plan(session, team_id, channel_id)
    if plan is None:
        raise ArgumentError("This channel has no onboarding plan yet. Start one with `/onboarding step3`.")
    ready = runnable(session, plan)
    if ready is None:
        raise ArgumentError(
            "Customers can only join a plan whose Step 3 is saved: finish Step 3 and confirm it with *[C]* first."
        )
    return ready


def plan_for_alerts(session: Session, team_id: str, channel_id: str, plan_channel: str | None) -> tuple[int, str]:
    """The plan `alerts here` is about (its id and channel): the one named, this channel's, or the only one."""
    if plan_channel is not None:
        plan = repo.find_plan(session, team_id, plan_channel)
        if plan is None:
            raise ArgumentError(f"<#{plan_channel}> has no onboarding plan.")
        return plan.id, plan.channel_id
    plan = repo.find_plan(session, team_id, channel_id)
    if plan is not None:
        return plan.id, plan.channel_id
    plans = repo.team_plans(session, team_id)
    if len(plans) == 1:
        return plans[0].id, plans[0].channel_id
    if not plans:
        raise ArgumentError("This workspace has no onboarding plan yet. Start one with `/onboarding step3`.")
    raise ArgumentError("Which plan? Name its channel: `/onboarding alerts here plan=#onboarding-acme`.")


def route_alerts(session: Session, team_id: str, plan_id: int, channel_id: str) -> Plan:
    plan = repo.get_plan(session, plan_id)
    if plan is None or plan.team_id != team_id:
        raise ArgumentError("That plan no longer exists; nothing was changed.")
    plan.alert_channel_id = channel_id
    return plan


@dataclass(frozen=True)
class AlertContext:
    alert: Alert
    ready: RunnablePlan
    customer: Customer
    milestone: CustomerMilestone | None


NOT_THIS_CHANNEL = "This alert is not from this plan's channel, so nothing was done."


def load_alert(session: Session, team_id: str, alert_id: int, channel_id: str, message_ts: str) -> AlertContext:
    """The alert a button is about, only when the button is on one of its plan's own posts in that channel.

    The alert id travels in the button's value, which a crafted request can set to any alert; the message it was
    clicked on comes from Slack's envelope, so it decides what may be touched.
    """
    alert = session.get(Alert, alert_id)
    if alert is None or alert.team_id != team_id:
        raise ArgumentError(NOT_THIS_CHANNEL)
    posted = outbox.find_posted(session, team_id, channel_id, message_ts)
    if posted is None or posted.plan_id != alert.plan_id:
        raise ArgumentError(NOT_THIS_CHANNEL)
    plan = repo.get_plan(session, alert.plan_id)
    ready = runnable(session, plan) if plan is not None else None
    customer = session.get(Customer, alert.customer_id) if alert is not None else None
    if alert is None or ready is None or customer is None:
        raise ArgumentError("This alert no longer exists; the customer or plan may have been removed.")
    milestone = session.get(CustomerMilestone, alert.milestone_id) if alert.milestone_id else None
    return AlertContext(alert, ready, customer, milestone)


def acknowledge(alert: Alert, user_id: str, now: datetime) -> bool:
    """Record who acknowledged; False when someone already had (the first one counts)."""
    if alert.acknowledged_by is not None:
        return False
    alert.acknowledged_by = user_id
    alert.acknowledged_at = now
    return True


def find_customer(session: Session, plan: Plan, name: str) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.plan_id == plan.id, Customer.name_key == name.strip().casefold())
    )
    if customer is None:
        raise ArgumentError(f"There is no customer “{esc(name)}” in this plan. `/onboarding customer list` shows them.")
    return customer


def add_customer(session: Session, ready: RunnablePlan, new: NewCustomer, user_id: str, now: datetime) -> Customer:
    key = new.name.casefold()
    if session.scalar(select(Customer.id).where(Customer.plan_id == ready.plan.id, Customer.name_key == key)):
        raise ArgumentError(f"“{esc(new.name)}” is already a customer of this plan.")
    start = new.start or ready.today(now)
    customer = Customer(
        team_id=ready.plan.team_id, plan_id=ready.plan.id, name=new.name, name_key=key, segment=new.segment,
        owner_id=new.owner, start_date=start, created_by=user_id, signals={},
    )  # fmt: skip
    session.add(customer)
    session.flush()
    for position, milestone in enumerate(ready.milestones.milestones):
        session.add(
            CustomerMilestone(
                team_id=customer.team_id, plan_id=customer.plan_id, customer_id=customer.id, position=position,
                name=milestone.name, due_date=deadline(start, milestone.timeline_days),
            )
        )  # fmt: skip
    session.flush()
    rescore(session, ready, customer, now)
    return customer


def customer_milestones(session: Session, customer: Customer) -> list[CustomerMilestone]:
    return list(
        session.scalars(
            select(CustomerMilestone)
            .where(CustomerMilestone.customer_id == customer.id)
            .order_by(CustomerMilestone.position)
        )
    )


def milestone_states(ready: RunnablePlan, rows: list[CustomerMilestone]) -> list[MilestoneState]:
    plan_milestones = ready.milestones.milestones
    states = []
    for row in rows:
        # A milestone removed from the plan after it was reached or alerted keeps its row but earns no points.
        spec = plan_milestones[row.position] if row.position < len(plan_milestones) else None
        on_time, missed = (spec.points_on_time, spec.points_missed) if spec else (None, None)
        states.append(MilestoneState(row.position, row.name, row.due_date, row.completed_on, on_time, missed))
    return states


def score_row(ready: RunnablePlan, customer: Customer, breakdown: ScoreBreakdown, now: datetime) -> dict:
    return {
        "team_id": customer.team_id,
        "plan_id": customer.plan_id,
        "customer_id": customer.id,
        "computed_at": now,
        "score": breakdown.score,
        "band": breakdown.band.value if breakdown.band else None,
        "breakdown": breakdown.to_dict(),
    }


def rescore(session: Session, ready: RunnablePlan, customer: Customer, now: datetime) -> ScoreBreakdown:
    """Recompute one customer's score now, keep it in the history and on the customer."""
    breakdown = compute_score(
        ready.health,
        customer.signals,
        milestone_states(ready, customer_milestones(session, customer)),
        ready.today(now),
    )
    session.add(HealthScore(**score_row(ready, customer, breakdown, now)))
    customer.score = breakdown.score
    customer.band = breakdown.band.value if breakdown.band else None
    customer.scored_at = now
    return breakdown


def resolve_milestone(rows: list[CustomerMilestone], ref: str) -> CustomerMilestone:
    # Only ASCII digits are a number: str.isdigit also accepts "⑨" and "²", which int() refuses.
    if ref.isascii() and ref.isdigit():
        if not 1 <= int(ref[:4]) <= len(rows) or len(ref) > 4:  # int() of thousands of digits raises
            raise ArgumentError(f"Milestone {ref[:6]} does not exist: this plan has milestones 1 to {len(rows)}.")
        return rows[int(ref) - 1]
    for row in rows:
        if row.name.casefold() == ref.strip().casefold():
            return row
    names = ", ".join(f"{r.position + 1}. {esc(r.name)}" for r in rows)
    raise ArgumentError(f"No milestone is called “{esc(ref)}”. The milestones are: {names}.")


def complete_milestone(
    session: Session, ready: RunnablePlan, customer: Customer, row: CustomerMilestone, on: date, user_id: str,
    now: datetime,
) -> ScoreBreakdown:  # fmt: skip
    if row.completed_on is not None:
        raise ArgumentError(
            f"Milestone {row.position + 1} “{esc(row.name)}” of {esc(customer.name)} was already done on "
            f"{row.completed_on:%Y-%m-%d}."
        )
    if on > ready.today(now):
        raise ArgumentError(f"{on:%Y-%m-%d} is in the future; a milestone is done when it is done.")
    row.completed_on = on
    row.completed_by = user_id
    return rescore(session, ready, customer, now)


def extend_deadline(
    session: Session, ready: RunnablePlan, row: CustomerMilestone, new_due: date, user_id: str, now: datetime
) -> None:
    if row.completed_on is not None:
        raise ArgumentError(f"“{esc(row.name)}” is already done; there is no deadline to extend.")
    if new_due <= row.due_date:
        raise ArgumentError(f"The new deadline must be after the current one ({row.due_date:%Y-%m-%d}).")
    if new_due <= ready.today(now):
        raise ArgumentError("The new deadline must be in the future.")
    row.due_date = new_due
    row.extended_by = user_id


def record_signals(
    session: Session, ready: RunnablePlan, customer: Customer, values: dict[str, float], user_id: str, now: datetime
) -> ScoreBreakdown:
    known = signal_factors(ready.health)
    unknown = [key for key in values if key not in known]
    if unknown:
        allowed = ", ".join(f"`{k}`" for k in known) or "none (the plan's weights are all on milestones)"
        hint = " Milestone completion is computed from milestones." if "milestones" in unknown else ""
        raise ArgumentError(f"Unknown factor `{esc(unknown[0])}`. This plan's factors: {allowed}.{hint}")
    for key, value in values.items():
        session.add(
            SignalReading(team_id=customer.team_id, customer_id=customer.id, factor=key, value=value,
                          recorded_by=user_id, recorded_at=now)
        )  # fmt: skip
    customer.signals = {**customer.signals, **values}
    return rescore(session, ready, customer, now)


def reschedule_after_plan_edit(session: Session, ready: RunnablePlan, now: datetime) -> None:
    """Milestones edited after customers joined: future deadlines move, past ones stay."""
    today = ready.today(now)
    plan_milestones = ready.milestones.milestones
    # One query for every customer's milestones: this runs before the form submission is acknowledged.
    by_customer: dict[int, dict[int, CustomerMilestone]] = defaultdict(dict)
    for row in session.scalars(select(CustomerMilestone).where(CustomerMilestone.plan_id == ready.plan.id)):
        by_customer[row.customer_id][row.position] = row
    customers = session.scalars(select(Customer).where(Customer.plan_id == ready.plan.id))
    for customer in customers:
        rows = by_customer[customer.id]
        for position, milestone in enumerate(plan_milestones):
            row = rows.pop(position, None)
            if row is None:
                session.add(
                    CustomerMilestone(
                        team_id=customer.team_id, plan_id=customer.plan_id, customer_id=customer.id,
                        position=position, name=milestone.name,
                        due_date=recompute_due(customer.start_date, today, milestone.timeline_days, today),
                    )
                )  # fmt: skip
                continue
            row.name = milestone.name
            if row.completed_on is None and row.extended_by is None:
                row.due_date = recompute_due(customer.start_date, row.due_date, milestone.timeline_days, today)
        for removed in rows.values():
            if removed.completed_on is None and removed.alerted_at is None:
                session.delete(removed)


def customers_of(session: Session, plan: Plan) -> list[Customer]:
    return list(session.scalars(select(Customer).where(Customer.plan_id == plan.id).order_by(Customer.name_key)))


def overdue_counts(session: Session, plan: Plan, today: date) -> dict[int, int]:
    rows = session.execute(
        select(CustomerMilestone.customer_id, func.count())
        .where(
            CustomerMilestone.plan_id == plan.id,
            CustomerMilestone.completed_on.is_(None),
            CustomerMilestone.due_date < today,
        )
        .group_by(CustomerMilestone.customer_id)
    )
    return {customer_id: count for customer_id, count in rows}
