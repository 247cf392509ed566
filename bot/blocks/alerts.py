"""Missed-milestone and band alerts, one at a time or as a digest with the details in its thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.blocks.common import (
    Block,
    actions,
    button,
    context,
    esc,
    header,
    mention,
    plain,
    section,
    sections,
    shorten,
    slack_date,
)
from bot.blocks.digest import weakest_factors
from bot.ids import (
    ALERT_ACK,
    ALERT_BLOCK_PREFIX,
    ALERT_DONE,
    ALERT_EXTEND,
    ALERT_TEXT_PREFIX,
    DONE_CALLBACK,
    EXTEND_CALLBACK,
    VALUE,
)
from steps.health import FactorContribution
from steps.step3 import Band

# A message holds 50 blocks; each alert takes two (its text and its buttons).
ALERTS_PER_MESSAGE = 20
POLICY_PREVIEW = 600


@dataclass(frozen=True)
class MissedMilestone:
    alert_id: int
    customer: str
    position: int
    milestone: str
    due: date
    days_overdue: int
    owner_id: str | None
    monitors: tuple[str, ...] = ()  # who hears about it when nobody owns the customer


def _owner(owner_id: str | None, monitors: tuple[str, ...] = ()) -> str:
    """ "owner @x", or who hears about it when nobody owns the customer."""
    if owner_id:
        return f"owner {mention(owner_id)}"
    watching = " ".join(mention(m) for m in monitors)
    return f"no owner set · monitors {watching}" if watching else "no owner set"


@dataclass(frozen=True)
class AlertStatus:
    """What has been done about an alert so far, as stored (so any later rewrite says the same)."""

    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    completed_on: date | None = None
    completed_by: str | None = None
    extended_by: str | None = None
    note: str = ""  # said once, by the action that just happened (e.g. the new score after Mark done)

    @property
    def done(self) -> bool:
        return self.completed_on is not None


def _due(item: MissedMilestone) -> str:
    if item.days_overdue > 0:
        return "1 day overdue" if item.days_overdue == 1 else f"{item.days_overdue} days overdue"
    if item.days_overdue == 0:
        return "due today"
    return "due tomorrow" if item.days_overdue == -1 else f"due in {-item.days_overdue} days"


def _status_lines(item: MissedMilestone, status: AlertStatus) -> list[str]:
    lines = []
    if status.completed_on is not None:
        by = f" by {mention(status.completed_by)}" if status.completed_by else ""
        lines.append(f":white_check_mark: Marked done{by} on {status.completed_on:%Y-%m-%d}.")
    if status.extended_by:
        lines.append(f":calendar: Deadline extended to {item.due:%Y-%m-%d} by {mention(status.extended_by)}.")
    if status.acknowledged_by and status.acknowledged_at:
        at = slack_date(status.acknowledged_at)
        lines.append(f":eyes: Acknowledged by {mention(status.acknowledged_by)} {at}.")
    if status.note:
        lines.append(status.note)
    return lines


def _missed_text(item: MissedMilestone, status: AlertStatus | None = None) -> str:
    due = f"Due {item.due:%Y-%m-%d} · " + ("done" if status is not None and status.done else _due(item))
    lines = [
        f":warning: *{esc(item.customer)}* missed milestone {item.position + 1} “{esc(item.milestone)}”",
        f"{due} · {_owner(item.owner_id, item.monitors)}",
        *_status_lines(item, status or AlertStatus()),
    ]
    return "\n".join(lines)


def _missed_section(item: MissedMilestone, status: AlertStatus | None = None) -> Block:
    return {**section(_missed_text(item, status)), "block_id": f"{ALERT_TEXT_PREFIX}{item.alert_id}"}


def alert_buttons(alert_id: int, *, acknowledged: bool = False) -> Block:
    value = str(alert_id)
    elements = [
        button("Mark done", ALERT_DONE, value, style="primary"),
        button("Extend deadline", ALERT_EXTEND, value),
    ]
    if not acknowledged:
        elements.append(button("Acknowledge", ALERT_ACK, value))
    return actions(f"{ALERT_BLOCK_PREFIX}{alert_id}", *elements)


def _policy(policy: str | None) -> str:
    if policy is None:
        return "_The plan has no missed-deadline policy yet._"
    return f"*When a milestone is missed:* {esc(shorten(policy, POLICY_PREVIEW))}"


def missed_alert(item: MissedMilestone, policy: str | None) -> dict[str, Any]:
    blocks = [_missed_section(item), section(_policy(policy)), alert_buttons(item.alert_id)]
    text = f"{esc(item.customer)} missed milestone {item.position + 1} “{esc(item.milestone)}”"
    return {"text": text, "blocks": blocks}


NAMED_IN_DIGEST = 10


def by_customer(items: list[MissedMilestone]) -> list[MissedMilestone]:
    """Each customer's alerts together, the customer with the most overdue milestone first."""
    worst: dict[str, int] = {}
    for item in items:
        worst[item.customer] = max(worst.get(item.customer, item.days_overdue), item.days_overdue)
    return sorted(
        items, key=lambda i: (-worst[i.customer], i.customer.casefold(), i.customer, -i.days_overdue, i.position)
    )


def _named(items: list[MissedMilestone]) -> str:
    counts: dict[str, int] = {}
    for item in by_customer(items):
        counts[item.customer] = counts.get(item.customer, 0) + 1
    names = [f"{esc(name)} ({n})" if n > 1 else esc(name) for name, n in list(counts.items())[:NAMED_IN_DIGEST]]
    more = len(counts) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def missed_digest(items: list[MissedMilestone], shown: int, policy: str | None) -> dict[str, Any]:
    customers = len({i.customer for i in items})
    text = f"{len(items)} milestones were missed by {customers} customers"
    if shown < len(items):
        lines = [
            f":warning: *{text}.* The {shown} most overdue are in this message's thread, with buttons to act on "
            f"them; the other {len(items) - shown} are counted in the bot's App Home, and "
            "`/onboarding customer list` shows each customer's overdue milestones."
        ]
    else:
        lines = [f":warning: *{text}.* Each one is in this message's thread, with buttons to act on it."]
    lines.append(f"Most overdue first: {_named(items)}.")
    return {"text": text, "blocks": [*sections("\n".join(lines)), section(_policy(policy))]}


def missed_thread_part(items: list[MissedMilestone]) -> dict[str, Any]:
    blocks: list[Block] = []
    for item in items:
        blocks += [_missed_section(item), alert_buttons(item.alert_id)]
    return {"text": f"{len(items)} missed milestones", "blocks": blocks}


def _numbered(block: Block, prefix: str) -> int | None:
    """The alert id in a block id such as ``alert:12``, when the block has that prefix."""
    block_id = str(block.get("block_id", ""))
    number = block_id[len(prefix) :]
    return int(number) if block_id.startswith(prefix) and number.isdigit() else None


def alert_ids(blocks: list[Block]) -> list[int]:
    """The alerts a message holds (by the block ids it was posted with)."""
    return [n for n in (_numbered(b, ALERT_BLOCK_PREFIX) for b in blocks) if n is not None]


def refreshed_alerts(blocks: list[Block], current: dict[int, tuple[MissedMilestone, AlertStatus]]) -> list[Block]:
    """The message's blocks with each alert in ``current`` rewritten as it stands now.

    Its text gets the current due date and a line per action (acknowledged, extended, done); its buttons stay
    until the milestone is done (an acknowledged alert keeps Mark done and Extend). A message posted before alerts
    had a block id on their text keeps that text and shows the status where the buttons were.
    """
    with_text = {n for n in (_numbered(b, ALERT_TEXT_PREFIX) for b in blocks) if n is not None}
    result: list[Block] = []
    for block in blocks:
        text_of, buttons_of = _numbered(block, ALERT_TEXT_PREFIX), _numbered(block, ALERT_BLOCK_PREFIX)
        if text_of in current:
            result.append(_missed_section(*current[text_of]))
        elif buttons_of in current:
            item, status = current[buttons_of]
            if buttons_of not in with_text and (status.done or status.acknowledged_by or status.extended_by):
                result.append(context("\n".join(_status_lines(item, status))))
            elif not status.done:
                result.append(alert_buttons(item.alert_id, acknowledged=status.acknowledged_by is not None))
        else:
            result.append(block)
    return result


@dataclass(frozen=True)
class BandDrop:
    customer: str
    score: float
    previous: Band | None  # None when never reported
    band: Band
    weakest: tuple[FactorContribution, ...]
    owner_id: str | None
    protocol: str | None


def _band_text(drop: BandDrop) -> str:
    change = f"{drop.previous.label} → {drop.band.label}" if drop.previous else drop.band.label
    protocol = f"\n*Response protocol:* {esc(shorten(drop.protocol, POLICY_PREVIEW))}" if drop.protocol else ""
    factors = weakest_factors(drop.weakest)
    weakest = f" · weakest: {esc(factors)}" if factors else ""
    return (
        f":rotating_light: *{esc(drop.customer)}* is now *{drop.band.label}* ({change}), "
        f"score {drop.score:.1f}{weakest} · {_owner(drop.owner_id)}{protocol}"
    )


def band_alerts(drops: list[BandDrop], monitors: list[str]) -> dict[str, Any]:
    """One message for all band drops found by a check (a handful, or a summary when many)."""
    watchers = " ".join(mention(m) for m in monitors)
    shown = drops[:ALERTS_PER_MESSAGE]
    blocks: list[Block] = [header("Health score alert")]
    for drop in shown:
        blocks += sections(_band_text(drop))
    if len(drops) > len(shown):
        blocks.append(context(f"…and {len(drops) - len(shown)} more; `/onboarding customer list` shows every band."))
    if watchers:
        blocks.append(context(f"Monitors: {watchers}"))
    text = f"{len(drops)} customer(s) dropped to a worse health band"
    return {"text": text, "blocks": blocks[:50]}


def _milestone_date_modal(
    callback_id: str, title: str, submit: str, intro: str, block_id: str, label: str, initial: date, metadata: str
) -> dict[str, Any]:
    """An alert's form: one date about one customer's milestone (a new deadline, the day it was reached)."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "private_metadata": metadata,
        "blocks": [
            section(intro),
            {
                "type": "input",
                "block_id": block_id,
                "label": plain(label),
                "element": {"type": "datepicker", "action_id": VALUE, "initial_date": f"{initial:%Y-%m-%d}"},
            },
        ],
    }


def _which(customer: str, position: int, milestone: str) -> str:
    return f"*{esc(customer)}* · milestone {position + 1} “{esc(milestone)}”"


def extend_modal(customer: str, position: int, milestone: str, due: date, metadata: str) -> dict[str, Any]:
    """Pick a new deadline for one customer's milestone."""
    intro = f"{_which(customer, position, milestone)}, due {due:%Y-%m-%d}."
    return _milestone_date_modal(
        EXTEND_CALLBACK, "Extend deadline", "Extend", intro, "new_due", "New deadline", due, metadata
    )


def done_modal(customer: str, position: int, milestone: str, today: date, metadata: str) -> dict[str, Any]:
    """Mark done asks on which day the milestone was reached: today unless someone says otherwise."""
    intro = f"{_which(customer, position, milestone)}."
    return _milestone_date_modal(
        DONE_CALLBACK, "Mark done", "Mark done", intro, "done_on", "Reached on", today, metadata
    )
