"""Missed-milestone and band alerts, one at a time or as a digest with the details in its thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.blocks.common import Block, actions, button, context, esc, header, mention, section, sections, shorten
from bot.blocks.digest import weakest_factors
from bot.ids import ALERT_ACK, ALERT_BLOCK_PREFIX, ALERT_DONE, ALERT_EXTEND, EXTEND_CALLBACK, VALUE
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


def _owner(owner_id: str | None) -> str:
    return mention(owner_id) if owner_id else "no owner set"


def _missed_text(item: MissedMilestone) -> str:
    days = "1 day" if item.days_overdue == 1 else f"{item.days_overdue} days"
    return (
        f":warning: *{esc(item.customer)}* missed milestone {item.position + 1} “{esc(item.milestone)}”\n"
        f"Due {item.due:%Y-%m-%d} · {days} overdue · owner {_owner(item.owner_id)}"
    )


def alert_buttons(alert_id: int) -> Block:
    value = str(alert_id)
    return actions(
        f"{ALERT_BLOCK_PREFIX}{alert_id}",
        button("Mark done", ALERT_DONE, value, style="primary"),
        button("Extend deadline", ALERT_EXTEND, value),
        button("Acknowledge", ALERT_ACK, value),
    )


def _policy(policy: str | None) -> str:
    if policy is None:
        return "_The plan has no missed-deadline policy yet._"
    return f"*When a milestone is missed:* {esc(shorten(policy, POLICY_PREVIEW))}"


def missed_alert(item: MissedMilestone, policy: str | None) -> dict[str, Any]:
    blocks = [section(_missed_text(item)), section(_policy(policy)), alert_buttons(item.alert_id)]
    return {"text": f"{item.customer} missed milestone {item.position + 1} “{item.milestone}”", "blocks": blocks}


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
    return {"text": text, "blocks": [*sections("\n".join(lines)), section(_policy(policy))]}


def missed_thread_part(items: list[MissedMilestone]) -> dict[str, Any]:
    blocks: list[Block] = []
    for item in items:
        blocks += [section(_missed_text(item)), alert_buttons(item.alert_id)]
    return {"text": f"{len(items)} missed milestones", "blocks": blocks}


def replace_alert_buttons(blocks: list[Block], alert_id: int, note: str) -> list[Block]:
    """The message as it was, with one alert's buttons replaced by what happened to it."""
    target = f"{ALERT_BLOCK_PREFIX}{alert_id}"
    return [context(note) if b.get("block_id") == target else b for b in blocks]


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
        f"score {drop.score:.1f}{weakest} · owner {_owner(drop.owner_id)}{protocol}"
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


def extend_modal(alert_id: int, customer: str, position: int, milestone: str, due: date, metadata: str) -> dict:
    """Pick a new deadline for one customer's milestone."""
    return {
        "type": "modal",
        "callback_id": EXTEND_CALLBACK,
        "title": {"type": "plain_text", "text": "Extend deadline"},
        "submit": {"type": "plain_text", "text": "Extend"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": [
            section(f"*{esc(customer)}* · milestone {position + 1} “{esc(milestone)}”, due {due:%Y-%m-%d}."),
            {
                "type": "input",
                "block_id": "new_due",
                "label": {"type": "plain_text", "text": "New deadline"},
                "element": {"type": "datepicker", "action_id": VALUE, "initial_date": f"{due:%Y-%m-%d}"},
            },
        ],
    }
