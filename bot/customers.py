"""Running the plan, per customer: add customers, complete milestones, record signals, rescore.

Use cases only: they read and write through ``storage`` and return records; listeners and scheduled jobs turn the
results into Slack messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from steps.errors import UserError, channel_ref
from steps.health import (
    Freshness,
    MilestoneState,
    ScoreBreakdown,
    StaleFactor,
    compute_score,
    drop_from_staleness,
    freshness_at,
    signal_factors,
    stale_factors,
)
from steps.step3 import STEP_ID, HealthModel, MilestonesSection
from storage import alerts, health_scores, outbox, repo
from storage import customers as store
from storage.db import Session
from storage.records import AlertRecord, CustomerRecord, MilestoneRecord, PlanRecord, SectionRecord


@dataclass(frozen=True)
class RunnablePlan:
    """A plan whose Step 3 is saved, with its milestones and health model parsed once, and its sections' rows as
    read then (versions and edit times: the scheduler's check reads them once per plan, in the plan's lock)."""

    plan: PlanRecord
    milestones: MilestonesSection
    health: HealthModel
    sections: dict[str, SectionRecord]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.health.timezone)

    def today(self, now: datetime) -> date:
        """Deadlines are calendar days in the plan's own time zone."""
        return now.astimezone(self.zone).date()

    @property
    def alert_channel(self) -> str:
        return self.plan.alert_channel_id or self.plan.channel_id

    def freshness(self, now: datetime) -> Freshness:
        """Which values count at ``now``: the plan's staleness windows and minimum data share."""
        return freshness_at(self.health, dict(self.plan.freshness), self.plan.min_data_share, now)


def runnable(session: Session, plan: PlanRecord) -> RunnablePlan | None:
    if STEP_ID not in plan.steps_completed:
        return None
    rows = repo.section_rows(session, plan)
    return RunnablePlan(
        plan,
        MilestonesSection.model_validate(rows["milestones"].answers),
        HealthModel.model_validate(rows["health"].answers),
        rows,
    )


def require_runnable(session: Session, plan: PlanRecord) -> RunnablePlan:
    ready = runnable(session, plan)
    if ready is None:
        raise UserError(
            "Customers can only join a plan whose Step 3 is saved: finish Step 3 and confirm it with *[C]* first."
        )
    return ready


def plan_for_alerts(session: Session, team_id: str, channel_id: str, plan_channel: str | None) -> PlanRecord:
    """The plan `alerts here` is about: the one named, this channel's, or the workspace's only one."""
    if plan_channel is not None:
        plan = repo.find_plan(session, team_id, plan_channel)
        if plan is None:
            raise UserError("{channel} has no onboarding plan.", channel=channel_ref(plan_channel))
        return plan
    plan = repo.find_plan(session, team_id, channel_id)
    if plan is not None:
        return plan
    plans = repo.team_plans(session, team_id)
    if len(plans) == 1:
        return plans[0]
    if not plans:
        raise UserError("This workspace has no onboarding plan yet. Start one with `/onboarding step3`.")
    raise UserError("Which plan? Name its channel: `/onboarding alerts here plan=#onboarding-acme`.")


def route_alerts(session: Session, team_id: str, plan_id: int, channel_id: str) -> PlanRecord:
    plan = repo.get_plan(session, plan_id)
    if plan is None or plan.team_id != team_id:
        raise UserError("That plan no longer exists; nothing was changed.")
    repo.set_alert_channel(session, plan.id, channel_id)
    return plan


@dataclass(frozen=True)
class AlertContext:
    alert: AlertRecord
    ready: RunnablePlan
    customer: CustomerRecord
    milestone: MilestoneRecord | None
    message: dict[str, Any]  # the post the alert is in, as the bot queued it


NOT_THIS_CHANNEL = "This alert is not from this plan's channel, so nothing was done."


def load_alert(session: Session, team_id: str, alert_id: int, channel_id: str, message_ts: str) -> AlertContext:
    """The alert a button is about, only when the button is on one of its plan's own posts in that channel.

    The alert id travels in the button's value, which a crafted request can set to any alert; the message it was
    clicked on comes from Slack's envelope, so it decides what may be touched.
    """
    alert = alerts.get(session, alert_id)
    if alert is None or alert.team_id != team_id:
        raise UserError(NOT_THIS_CHANNEL)
    posted = outbox.find_posted(session, team_id, channel_id, message_ts)
    if posted is None or posted.plan_id != alert.plan_id:
        raise UserError(NOT_THIS_CHANNEL)
    plan = repo.get_plan(session, alert.plan_id)
    ready = runnable(session, plan) if plan is not None else None
    customer = store.get(session, alert.customer_id)
    if ready is None or customer is None:
        raise UserError("This alert no longer exists; the customer or plan may have been removed.")
    milestone = store.get_milestone(session, alert.milestone_id) if alert.milestone_id else None
    return AlertContext(alert, ready, customer, milestone, dict(posted.message))


def alerts_in_post(session: Session, found: AlertContext, alert_ids: Iterable[int]) -> dict[int, AlertContext]:
    """Every alert of the post ``found`` is in, by id. They share its plan, rules and post, read once for all; the
    ids come from the bot's own post, and an alert of another plan (or one since removed) is left out."""
    result = {found.alert.id: found}
    for alert_id in alert_ids:
        if alert_id in result:
            continue
        alert = alerts.get(session, alert_id)
        if alert is None or (alert.team_id, alert.plan_id) != (found.alert.team_id, found.alert.plan_id):
            continue
        customer = store.get(session, alert.customer_id)
        if customer is None:
            continue
        milestone = store.get_milestone(session, alert.milestone_id) if alert.milestone_id else None
        result[alert_id] = AlertContext(alert, found.ready, customer, milestone, found.message)
    return result


def acknowledge(session: Session, alert: AlertRecord, user_id: str, now: datetime) -> tuple[AlertRecord, bool]:
    """The alert as acknowledged, and whether this was the first acknowledgement (the first one counts)."""
    return alerts.acknowledge(session, alert.id, user_id, now)


def find_customer(session: Session, plan: PlanRecord, name: str) -> CustomerRecord:
    customer = store.find(session, plan.id, name.strip().casefold())
    if customer is None:
        raise UserError(
            "There is no customer “{name}” in this plan. `/onboarding customer list` shows them.", name=name
        )
    return customer


def customer_milestones(session: Session, customer: CustomerRecord) -> list[MilestoneRecord]:
    return store.milestones(session, customer.id)


def milestone_states(ready: RunnablePlan, rows: list[MilestoneRecord]) -> list[MilestoneState]:
    plan_milestones = ready.milestones.milestones
    states = []
    for row in rows:
        # A milestone removed from the plan after it was reached or alerted keeps its row but earns no points.
        spec = plan_milestones[row.position] if row.position < len(plan_milestones) else None
        on_time, missed = (spec.points_on_time, spec.points_missed) if spec else (None, None)
        states.append(MilestoneState(row.position, row.name, row.due_date, row.completed_on, on_time, missed))
    return states


def rescore(session: Session, ready: RunnablePlan, customer: CustomerRecord, now: datetime) -> ScoreBreakdown:
    """Recompute one customer's score now, keep it in the history and on the customer."""
    breakdown = compute_score(
        ready.health,
        customer.signals,
        milestone_states(ready, customer_milestones(session, customer)),
        ready.today(now),
        observed=customer.signal_times,
        freshness=ready.freshness(now),
    )
    absorbed = (
        [customer.id]
        if breakdown.stale and drop_from_staleness(health_scores.reported_band(session, customer.id), breakdown)
        else []
    )
    health_scores.record_scores(
        session, customer.team_id, customer.plan_id, [(customer.id, breakdown)], now, reported=False,
        absorbed=absorbed,
    )  # fmt: skip
    return breakdown


def resolve_milestone(rows: list[MilestoneRecord], ref: str) -> MilestoneRecord:
    # Only ASCII digits are a number: str.isdigit also accepts "⑨" and "²", which int() refuses.
    if ref.isascii() and ref.isdigit():
        if not 1 <= int(ref[:4]) <= len(rows) or len(ref) > 4:  # int() of thousands of digits raises
            raise UserError(f"Milestone {ref[:6]} does not exist: this plan has milestones 1 to {len(rows)}.")
        return rows[int(ref) - 1]
    for row in rows:
        if row.name.casefold() == ref.strip().casefold():
            return row
    names = ", ".join(f"{r.position + 1}. {r.name}" for r in rows)
    raise UserError("No milestone is called “{ref}”. The milestones are: {names}.", ref=ref, names=names)


def complete_milestone(
    session: Session, ready: RunnablePlan, customer: CustomerRecord, row: MilestoneRecord, on: date, user_id: str,
    now: datetime,
) -> tuple[MilestoneRecord, ScoreBreakdown]:  # fmt: skip
    """The milestone as completed, and the customer's new score."""
    if row.completed_on is not None:
        raise UserError(
            f"Milestone {row.position + 1} “{{milestone}}” of {{customer}} was already done on "
            f"{row.completed_on:%Y-%m-%d}.",
            milestone=row.name,
            customer=customer.name,
        )
    if on > ready.today(now):
        raise UserError(f"{on:%Y-%m-%d} is in the future; a milestone is done when it is done.")
    done = store.complete_milestone(session, row.id, on, user_id)
    return done, rescore(session, ready, customer, now)


def extend_deadline(
    session: Session, ready: RunnablePlan, row: MilestoneRecord, new_due: date, user_id: str, now: datetime
) -> None:
    if row.completed_on is not None:
        raise UserError("“{name}” is already done; there is no deadline to extend.", name=row.name)
    if new_due <= row.due_date:
        raise UserError(f"The new deadline must be after the current one ({row.due_date:%Y-%m-%d}).")
    if new_due <= ready.today(now):
        raise UserError("The new deadline must be in the future.")
    store.extend_deadline(session, row.id, new_due, user_id)
    # A missed deadline moved to the future is no longer missed: the score changes now, and the health update
    # rescores only customers whose score time or the plan changed (bot.jobs._changed), so rescore here like every
    # other write of a customer's values.
    customer = store.get(session, row.customer_id)
    if customer is not None:
        rescore(session, ready, customer, now)


def record_signals(
    session: Session, ready: RunnablePlan, customer: CustomerRecord, values: dict[str, float], user_id: str,
    now: datetime,
) -> ScoreBreakdown:  # fmt: skip
    known = signal_factors(ready.health)
    unknown = [key for key in values if key not in known]
    if unknown:
        allowed = ", ".join(f"`{k}`" for k in known) or "none (the plan's weights are all on milestones)"
        hint = " Milestone completion is computed from milestones." if "milestones" in unknown else ""
        raise UserError(
            f"Unknown factor `{{factor}}`. This plan's factors: {{allowed}}.{hint}", factor=unknown[0], allowed=allowed
        )
    updated = store.add_signals(session, customer, values, user_id, now)
    return rescore(session, ready, updated, now)


def follow_milestones(session: Session, ready: RunnablePlan, now: datetime) -> bool:
    """Customers' milestones after the plan's milestones were edited: future deadlines move, past ones stay.

    Done once per saved version of the milestones, and recorded as done in the same transaction: the listener
    runs it just after acknowledging the save, and every scheduler check catches up on any version a crash or a
    restart left behind. Returns whether there was anything to do.
    """
    plan = ready.plan
    job, version = f"reschedule:{plan.id}", str(ready.sections["milestones"].version)
    if repo.job_ran(session, plan.team_id, job, version):
        return False
    store.reschedule(
        session, plan.id, [(m.name, m.timeline_days) for m in ready.milestones.milestones], ready.today(now)
    )
    return repo.claim_job(session, plan.team_id, job, version, now)


def customers_of(session: Session, plan: PlanRecord) -> list[CustomerRecord]:
    return store.of_plan(session, plan.id)


@dataclass(frozen=True)
class DataNote:
    """What a listed customer's score leaves out: stale values, and for insufficient data the factors never
    measured (by label)."""

    stale: tuple[StaleFactor, ...]
    missing: tuple[str, ...]
    insufficient: bool


def data_notes(ready: RunnablePlan, rows: Iterable[CustomerRecord], now: datetime) -> dict[int, DataNote]:
    """By customer id, for the customers whose data is stale (at ``now``) or insufficient; the others have none."""
    fresh, labels = ready.freshness(now), signal_factors(ready.health)
    notes = {}
    for customer in rows:
        stale = stale_factors(labels, customer.signals, customer.signal_times or {}, fresh)
        # No score although something was measured: the data is too thin or too old (no signal at all is "no data").
        insufficient = customer.score is None and any(key in customer.signals for key in labels)
        if stale or insufficient:
            missing = tuple(label for key, label in labels.items() if key not in customer.signals)
            notes[customer.id] = DataNote(stale, missing if insufficient else (), insufficient)
    return notes


def overdue_counts(session: Session, plan: PlanRecord, today: date) -> dict[int, int]:
    return store.overdue_counts(session, plan.id, today)
