"""The App Home tab: plans, step progress, customers by band, overdue milestones, failed deliveries."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Block, context, divider, esc, header, section, sections
from bot.blocks.digest import stale_note
from bot.blocks.help import waiting_line
from bot.home import PER_LIST, PlanSummary
from steps.step3 import STEP_ID, Band

MAX_PLANS = 8  # about ten blocks a plan keeps the tab within Slack's 100 blocks


def _plan_blocks(plan: PlanSummary) -> list[Block]:
    answered = len(plan.sections_answered)
    progress = (
        ":white_check_mark: Step 3 saved"
        if STEP_ID in plan.steps_completed
        else f"Step 3: {answered} of 3 sections answered"
    )
    title = f"*{esc(plan.name)}* · <#{plan.channel_id}> · {progress}"
    if plan.backlog is not None and plan.read_at is not None:
        title += "\n" + waiting_line(plan.backlog, plan.read_at)
    blocks: list[Block] = [section(title)]
    if plan.band_counts:
        counts = " · ".join(f"{b.label} {plan.band_counts.get(b.value, 0)}" for b in Band)
        # Customers without a score have no data yet or too little fresh data: the two are counted apart.
        no_data = plan.band_counts.get(None, 0) - plan.insufficient
        if no_data > 0:
            counts += f" · No data yet {no_data}"
        if plan.insufficient:
            counts += f" · Insufficient data {plan.insufficient}"
        lines = [f"*Customers:* {counts}"]
        if plan.stale_or_insufficient:
            lines.append(f":hourglass: {plan.stale_or_insufficient} with stale or insufficient data")
        for name, score, band, stale in plan.lowest[:PER_LIST]:
            shown = f"{score:.1f}" if score is not None else "–"
            line = f"• {esc(name)} {shown} ({Band(band).label if band else 'no data yet'})"
            if stale:
                line += f" · {esc(stale_note(stale))}"
            lines.append(line)
        blocks += sections("\n".join(lines))
    if plan.overdue_total:
        lines = [f"*Overdue milestones:* {plan.overdue_total}"]
        lines += [f"• {esc(c)} · {esc(m)} (due {due:%Y-%m-%d})" for c, m, due in plan.overdue[:PER_LIST]]
        blocks += sections("\n".join(lines))
    if plan.failed:
        lines = ["*:x: Failed deliveries* (Slack refused these posts; fix the cause and they are not retried):"]
        lines += [f"• {esc(summary)} — `{esc(error)}`" for summary, error in plan.failed[:PER_LIST]]
        blocks += sections("\n".join(lines))
    return blocks


def home_view(plans: list[PlanSummary]) -> dict[str, Any]:
    blocks: list[Block] = [header("Onboarding plans")]
    if not plans:
        blocks.append(section("No plans yet. Type `/onboarding step3` in a channel to start one."))
    for plan in plans[:MAX_PLANS]:
        blocks += [divider(), *_plan_blocks(plan)]
    if len(plans) > MAX_PLANS:
        blocks.append(context(f"…and {len(plans) - MAX_PLANS} more plans; `/onboarding status` in a plan's channel."))
    return {"type": "home", "blocks": blocks[:100]}
