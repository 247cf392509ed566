"""Replies to the customer, milestone and signal commands, and the customer list."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import context, esc, mention, sections
from bot.blocks.digest import stale_note
from bot.customers import DataNote
from bot.freshness import FreshnessSettings
from steps.health import ScoreBreakdown
from steps.step3 import Band
from storage.records import CustomerRecord, MilestoneRecord

LIST_LIMIT = 150


def _band_label(band: str | None) -> str:
    return Band(band).label if band else "no data yet"


def score_line(breakdown: ScoreBreakdown) -> str:
    if breakdown.insufficient is not None:
        return (
            f"Health score: *insufficient data*: {breakdown.insufficient.explain()} "
            "(`/onboarding freshness` shows how old a value may be)."
        )
    if breakdown.score is None or breakdown.band is None:
        return "Health score: no data yet (record signals with `/onboarding signal`)."
    line = f"Health score: *{breakdown.score:.1f}* ({breakdown.band.label})"
    if breakdown.stale:
        line += f", leaving out stale values ({esc(stale_note(breakdown.stale))})"
    return line


def explanation(breakdown: ScoreBreakdown) -> str:
    """The breakdown behind a score: each factor's share, milestone points, missing factors."""
    return "\n".join(f"• {esc(line)}" for line in breakdown.explain()[1:])


def _reply(text: str, *, in_channel: bool) -> dict[str, Any]:
    return {"response_type": "in_channel" if in_channel else "ephemeral", "text": text, "blocks": sections(text)}


def customer_added(
    customer: CustomerRecord, milestones: list[MilestoneRecord], user_id: str, result: str = "created"
) -> dict[str, Any]:
    """``result``: created, updated or unchanged (`customer add` with the id of a customer the plan has)."""
    owner = f", owner {mention(customer.owner_id)}" if customer.owner_id else ""
    segment = f", segment {esc(customer.segment)}" if customer.segment else ""
    verb = {"created": "added", "updated": "updated"}.get(result, "re-added, unchanged,")
    lines = [
        f"{mention(user_id)} {verb} customer *{esc(customer.name)}* (id `{esc(customer.external_id)}`, onboarding "
        f"starts {customer.start_date:%Y-%m-%d}{owner}{segment}). Milestone deadlines:"
    ]
    lines += [f"{m.position + 1}. {esc(m.name)} — {m.due_date:%Y-%m-%d}" for m in milestones]
    return _reply("\n".join(lines), in_channel=True)


def milestone_done(customer: CustomerRecord, row: MilestoneRecord, breakdown: ScoreBreakdown, user_id: str) -> dict:
    on_time = row.completed_on is not None and row.completed_on <= row.due_date
    timing = "on time" if on_time else f"after its {row.due_date:%Y-%m-%d} deadline"
    text = (
        f"{mention(user_id)} marked milestone {row.position + 1} “{esc(row.name)}” of *{esc(customer.name)}* done "
        f"on {row.completed_on:%Y-%m-%d} ({timing}).\n{score_line(breakdown)}"
    )
    if breakdown.insufficient is not None:  # then the score line alone does not say what is missing or stale
        text += "\n" + explanation(breakdown)
    return _reply(text, in_channel=True)


def signals_recorded(
    customer: CustomerRecord, values: dict[str, float], breakdown: ScoreBreakdown, user_id: str
) -> dict:
    given = ", ".join(f"{esc(k)}={v:g}" for k, v in values.items())
    text = "\n".join(
        [
            f"{mention(user_id)} recorded {given} for *{esc(customer.name)}*.",
            score_line(breakdown),
            explanation(breakdown),
        ]
    )
    return _reply(text, in_channel=True)


def customer_list(
    plan_name: str, customers: list[CustomerRecord], overdue: dict[int, int], notes: dict[int, DataNote] | None = None
) -> dict[str, Any]:
    if not customers:
        return _reply(
            'No customers yet. Add one with `/onboarding customer add "Acme Corp" start=2026-12-01 owner=@jane`.',
            in_channel=False,
        )
    lines = [f"*Customers of {esc(plan_name)}* ({len(customers)})"]
    for customer in customers[:LIST_LIMIT]:
        score = f"{customer.score:.1f}" if customer.score is not None else "–"
        note = (notes or {}).get(customer.id)
        verdict = "insufficient data" if note is not None and note.insufficient else _band_label(customer.band)
        parts = [f"*{esc(customer.name)}*", f"score {score} ({verdict})"]
        if note is not None and note.stale:
            parts.append(f":hourglass: {esc(stale_note(note.stale))}")
        if note is not None and note.missing:
            parts.append(f"missing: {esc(', '.join(note.missing))}")
        if customer.segment:
            parts.append(esc(customer.segment))
        parts.append(f"owner {mention(customer.owner_id)}" if customer.owner_id else "no owner")
        parts.append(f"started {customer.start_date:%Y-%m-%d}")
        if overdue.get(customer.id):
            parts.append(f":warning: {overdue[customer.id]} overdue")
        lines.append("• " + " · ".join(parts))
    message = _reply("\n".join(lines), in_channel=False)
    if len(customers) > LIST_LIMIT:
        message["blocks"].append(
            context(f"…and {len(customers) - LIST_LIMIT} more (the first {LIST_LIMIT} by name are shown here).")
        )
    return message


def alerts_here(channel_id: str, plan_name: str, user_id: str) -> dict[str, Any]:
    text = (
        f"{mention(user_id)} set <#{channel_id}> to receive the missed-milestone alerts and health updates of "
        f"plan *{esc(plan_name)}*."
    )
    return _reply(text, in_channel=True)


def freshness_settings(found: FreshnessSettings) -> dict[str, Any]:
    """The plan's staleness windows and minimum data share (only to the person asking); after a change, what it did."""
    lines = ["Saved."] if found.rescored is not None else []
    lines.append(
        f"*Freshness of {esc(found.plan_name)}*: a value older than its window is stale and counts as missing "
        f"(default: two {esc(found.cadence)} updates, {found.default_days} {_days(found.default_days)})."
    )
    for window in found.windows:
        default = " (default)" if window.default else ""
        lines.append(f"• {esc(window.label)} (`{esc(window.key)}`): {window.days} {_days(window.days)}{default}")
    lines.append("• Milestone completion: computed from milestones, never stale")
    default = " (default)" if found.share_default else ""
    lines.append(f"A score needs fresh data on at least *{found.share}%* of the weights{default}; less is "
                 "shown as insufficient data.")  # fmt: skip
    if found.rescored is not None:
        lines.append(
            f"Rescored {found.rescored} {'customer' if found.rescored == 1 else 'customers'}: "
            f"{found.stale_or_insufficient} with stale or insufficient data."
        )
    else:
        lines.append("Change them with `/onboarding freshness adoption=7 share=60` (`default` restores one).")
    return _reply("\n".join(lines), in_channel=False)


def _days(count: int) -> str:
    return "day" if count == 1 else "days"
