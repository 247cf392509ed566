"""What the bot posts on its own: rendered from ``bot.blocks`` and queued in the outbox, in the caller's transaction.

The use cases decide what happened and hand the facts here; the delivery worker sends the posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.blocks import alerts as alert_blocks
from bot.blocks import digest as digest_blocks
from bot.blocks.changes import change_announcement
from bot.blocks.common import esc, mention
from bot.blocks.help import notice
from bot.customers import RunnablePlan
from steps.deadlines import days_overdue
from steps.fields import FieldChange, RowChange
from steps.schedule import describe
from steps.step3 import Band, Section
from storage import outbox
from storage.alerts import MissedAlert
from storage.db import Session
from storage.records import AlertRecord, CustomerRecord, MilestoneRecord, PlanRecord, ThreadRecord

if TYPE_CHECKING:  # bot.jobs calls this module: its result types are only annotations here
    from bot.jobs import BandDrop, DigestItem, HealthDigest

# More missed milestones than this in one check become one digest with the details in its thread.
DIGEST_THRESHOLD = 5
MAX_THREAD_PARTS = 10
# Lines (with their weakest factors) only for the customers the digest and its thread can list; the rest are counted.
LISTED = digest_blocks.THREAD_LINES * digest_blocks.THREAD_PARTS
INSUFFICIENT_LISTED = digest_blocks.LIST_LIMIT
WEAKEST_SHOWN = 2
# The band alert shows this many drops in full; the use case needs each one's latest breakdown, the rest are counted.
BAND_DROPS_SHOWN = alert_blocks.ALERTS_PER_MESSAGE


def section_changed(
    session: Session,
    plan: PlanRecord,
    thread: ThreadRecord,
    section: Section,
    version: int,
    changes: Sequence[FieldChange],
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
    first: str | None = None,
    row: RowChange | None = None,
) -> None:
    """The diff of one save, as a reply in the section's thread (``first``: a first save, summed up; ``row``: a
    milestone added or removed)."""
    outbox.enqueue(
        session, team_id=plan.team_id, channel_id=thread.channel_id, plan_id=plan.id,
        key=f"change:{plan.id}:{section.value}:{version}", thread_ts=thread.ts, now=now,
        message=change_announcement(section, user_id, version, changes, source, first=first, row=row),
    )  # fmt: skip


def _alert_channel(ready: RunnablePlan, now: datetime) -> dict[str, Any]:
    """Where the scheduler's posts about a plan go: its alert channel (its own channel unless routed elsewhere)."""
    return {"team_id": ready.plan.team_id, "channel_id": ready.alert_channel, "plan_id": ready.plan.id, "now": now}


def milestones_missed(session: Session, ready: RunnablePlan, alerts: Sequence[MissedAlert], now: datetime) -> None:
    """One post per alert (with its buttons), or, when many, a digest with the alerts in its thread."""
    today = ready.today(now)
    items = [_missed_item(alert, today, tuple(ready.health.monitors)) for alert in alerts]
    policy = ready.milestones.missed_deadline_policy
    common = _alert_channel(ready, now)
    if len(items) <= DIGEST_THRESHOLD:
        for item in items:
            outbox.enqueue(session, key=f"alert:{item.alert_id}", message=alert_blocks.missed_alert(item, policy),
                           **common)  # fmt: skip
        return
    # Most overdue first, so a long list starts with what matters most; each customer's alerts together.
    ordered = alert_blocks.by_customer(items)
    shown = ordered[: alert_blocks.ALERTS_PER_MESSAGE * MAX_THREAD_PARTS]
    key = f"missed-digest:{items[0].alert_id}"
    parent = outbox.enqueue(session, key=key, message=alert_blocks.missed_digest(items, len(shown), policy), **common)
    for part, start in enumerate(range(0, len(shown), alert_blocks.ALERTS_PER_MESSAGE)):
        outbox.enqueue(
            session,
            key=f"{key}:{part}",
            message=alert_blocks.missed_thread_part(shown[start : start + alert_blocks.ALERTS_PER_MESSAGE]),
            parent=parent,
            **common,
        )


def _missed_item(alert: MissedAlert, today: date, monitors: tuple[str, ...]) -> alert_blocks.MissedMilestone:
    m = alert.milestone
    return alert_blocks.MissedMilestone(
        alert.alert_id, m.customer, m.position, m.name, m.due, days_overdue(m.due, today), m.owner_id, monitors
    )


def health_update(
    session: Session, ready: RunnablePlan, instant: datetime, digest: HealthDigest, now: datetime
) -> None:
    """The update scheduled for ``instant``, with every at-risk and critical customer in its thread."""
    health = ready.health
    # Lines only for the customers the digest and its thread can show; the others are counted.
    flagged = {
        band: [_digest_line(s, with_weakest=True) for s in lines[:LISTED]] for band, lines in digest.flagged.items()
    }
    flagged_counts = {band: len(lines) for band, lines in digest.flagged.items()}
    message = digest_blocks.health_digest(
        ready.plan.name,
        describe(health.cadence, health.update_time, health.timezone, health.weekday.number, health.month_day),
        digest.counts,
        [_digest_line(s, with_weakest=False) for s in digest.movers],
        flagged,
        {band: health.protocols.get(band) for band in Band},
        list(health.monitors),
        [_digest_line(s, with_weakest=False) for s in digest.insufficient[:INSUFFICIENT_LISTED]],
        len(digest.insufficient),
        digest.stale_or_insufficient,
        flagged_counts,
    )
    key = f"health:{ready.plan.id}:{instant.isoformat()}"
    common = _alert_channel(ready, now)
    parent = outbox.enqueue(session, key=key, message=message, **common)
    for number, part in enumerate(digest_blocks.flagged_thread_parts(flagged, flagged_counts)):
        outbox.enqueue(session, key=f"{key}:{number}", message=part, parent=parent, **common)


def _digest_line(item: DigestItem, *, with_weakest: bool) -> digest_blocks.DigestLine:
    breakdown = item.breakdown
    if breakdown is None:  # a stored score the digest only counts (bot.jobs.explain_listed): never shown
        return digest_blocks.DigestLine(item.name, item.score, item.band, item.previous_score, item.previous_band, ())
    weakest = breakdown.weakest(WEAKEST_SHOWN) if with_weakest else ()
    missing: tuple[str, ...] = ()
    if breakdown.insufficient is not None:
        stale = {factor.key for factor in breakdown.stale}
        missing = tuple(f.label for f in breakdown.factors if f.value is None and f.key not in stale)
    return digest_blocks.DigestLine(
        item.name, breakdown.score, breakdown.band, item.previous_score, item.previous_band, weakest,
        breakdown.stale, breakdown.insufficient, missing,
    )  # fmt: skip


def bands_dropped(session: Session, ready: RunnablePlan, drops: Sequence[BandDrop], now: datetime) -> None:
    """One message for every band drop a check found."""
    protocols = ready.health.protocols
    shown = [
        alert_blocks.BandDrop(
            d.customer, d.score, d.previous, d.band, d.breakdown.weakest(WEAKEST_SHOWN) if d.breakdown else (),
            d.owner_id, protocols.get(d.band),
        )
        for d in drops
    ]  # fmt: skip
    outbox.enqueue(
        session, key=f"band-alerts:{ready.plan.id}:{now.isoformat()}",
        message=alert_blocks.band_alerts(shown, list(ready.health.monitors)), **_alert_channel(ready, now),
    )  # fmt: skip


def deadline_extended(
    session: Session,
    alert: AlertRecord,
    customer: CustomerRecord,
    milestone: MilestoneRecord,
    new_due: date,
    user_id: str,
    channel_id: str,
    alert_ts: str,
    now: datetime,
    request: str,
) -> None:
    """A note in the thread of the alert whose Extend button was used (``request`` tells retried clicks apart)."""
    text = f"{mention(user_id)} extended “{esc(milestone.name)}” for *{esc(customer.name)}* to {new_due:%Y-%m-%d}."
    outbox.enqueue(
        session, team_id=alert.team_id, channel_id=channel_id, plan_id=alert.plan_id,
        key=f"extended:{milestone.id}:{new_due.isoformat()}:{request}", message=notice(text), now=now,
        parent=outbox.find_posted(session, alert.team_id, channel_id, alert_ts),
    )  # fmt: skip
