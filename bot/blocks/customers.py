"""Replies to the customer, milestone and signal commands, and the customer list."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import context, esc, mention, sections
from steps.health import ScoreBreakdown
from steps.step3 import Band
from storage.records import CustomerRecord, MilestoneRecord

LIST_LIMIT = 150


def _band_label(band: str | None) -> str:
    return Band(band).label if band else "no data yet"


def score_line(breakdown: ScoreBreakdown) -> str:
    if breakdown.score is None or breakdown.band is None:
        return "Health score: no data yet (record signals with `/onboarding signal`)."
    return f"Health score: *{breakdown.score:.1f}* ({breakdown.band.label})"


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


def customer_list(plan_name: str, customers: list[CustomerRecord], overdue: dict[int, int]) -> dict[str, Any]:
    if not customers:
        return _reply(
            'No customers yet. Add one with `/onboarding customer add "Acme Corp" start=2026-12-01 owner=@jane`.',
            in_channel=False,
        )
    lines = [f"*Customers of {esc(plan_name)}* ({len(customers)})"]
    for customer in customers[:LIST_LIMIT]:
        score = f"{customer.score:.1f}" if customer.score is not None else "–"
        parts = [f"*{esc(customer.name)}*", f"score {score} ({_band_label(customer.band)})"]
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
