"""Step 3's synthesis: the three sections presented back to the channel for confirmation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.common import (
    Block,
    actions,
    button,
    context,
    divider,
    esc,
    header,
    mention,
    plain,
    sections,
    shorten,
)
from bot.ids import CONFIRM_SAVE, MENU_REVISE, VIEW_SYNTHESIS
from steps.document import SUCCESS_MILESTONES_TITLE, TRAINING_TITLE
from steps.outline import (
    UNANSWERED,
    DiscussionNote,
    OutlineBlock,
    OutlineItem,
    cadence_text,
    discussion_block,
    health_outline,
    milestones_outline,
    training_outline,
)
from steps.step3 import HealthModel, MilestonesSection, Section, StandardFactor, TrainingPlan

# Five milestones of long answers must still fit one message (50 blocks of 3,000 characters);
# the uploaded document always carries every answer in full.
ANSWER_PREVIEW = 500
NOT_DISCUSSED = f"_{UNANSWERED}_"


def _item(item: OutlineItem) -> str:
    if item.users:
        value = ", ".join(mention(u) for u in item.users)
    elif item.value is None:
        value = NOT_DISCUSSED
    else:
        value = esc(shorten(item.value, ANSWER_PREVIEW))
    if item.link:
        value += f" <{item.link}|open the thread>"
    return f"• *{esc(item.label)}:* {value}"


def outline_blocks(outline: list[OutlineBlock]) -> list[Block]:
    blocks: list[Block] = []
    for part in outline:
        text = f"*{esc(part.heading)}*\n" + "\n".join(_item(i) for i in part.items)
        blocks += sections(text)
    return blocks


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _summary(milestones: MilestonesSection, health: HealthModel, training: TrainingPlan) -> list[str]:
    """The synthesis in a few lines: what the team will check first."""
    days = " · ".join(f"{esc(shorten(m.name, 60))} (day {m.timeline_days})" for m in milestones.milestones)
    factors = [f"{f.label} {health.weights.get(f, 0)}" for f in StandardFactor]
    factors += [f"{esc(shorten(c.name, 40))} {c.weight}" for c in health.custom_factors]
    monitors = len(health.monitors)
    training_items = [item for block in training_outline(training) for item in block.items]
    answered = sum(1 for item in training_items if item.answered)
    return [
        f"*{len(milestones.milestones)} milestones:* {days}",
        f"*Health score:* {' · '.join(factors)}; healthy from {health.healthy_from}, critical below "
        f"{health.critical_below}; updates {esc(_lower_first(cadence_text(health)))}, "
        f"{monitors} monitor{'' if monitors == 1 else 's'}",
        f"*Training:* {answered} of {len(training_items)} questions answered",
    ]


def synthesis_blocks(
    milestones: MilestonesSection,
    health: HealthModel,
    training: TrainingPlan,
    discussion: Mapping[Section, DiscussionNote] | None = None,
) -> list[Block]:
    """Every answer of the three sections, as the team reviews them before confirming."""
    notes = discussion or {}
    return [
        header(SUCCESS_MILESTONES_TITLE),
        *outline_blocks(milestones_outline(milestones)),
        *outline_blocks(health_outline(health)),
        *outline_blocks(discussion_block(notes, (Section.MILESTONES, Section.HEALTH))),
        divider(),
        header(TRAINING_TITLE),
        *outline_blocks(training_outline(training)),
        *outline_blocks(discussion_block(notes, (Section.TRAINING,))),
    ]


def synthesis_message(
    plan_name: str,
    milestones: MilestonesSection,
    health: HealthModel,
    training: TrainingPlan,
    fingerprint: str,
    outcome: str | None = None,
) -> dict[str, Any]:
    """The channel's short summary; the whole synthesis opens in a modal. ``outcome`` (mrkdwn) replaces the buttons
    once it has been acted on."""
    closing = (
        sections(outcome)
        if outcome is not None
        else [
            actions(
                "synthesis",
                button("Confirm and save", CONFIRM_SAVE, fingerprint, style="primary"),
                button("View the full synthesis", VIEW_SYNTHESIS, "view"),
                button("Revise a section", MENU_REVISE, "revise"),
            )
        ]
    )
    # The request to check and confirm goes once the synthesis has been acted on: the outcome replaces it.
    ask = (
        []
        if outcome is not None
        else [
            context(
                "Check it is what the team agreed (every answer: View the full synthesis), then confirm to save it."
            )
        ]
    )
    blocks: list[Block] = [
        header(f"Step 3 synthesis · {plan_name}"),
        *sections("\n".join(_summary(milestones, health, training))),
        *ask,
        *closing,
    ]
    return {"text": f"Step 3 synthesis for {esc(plan_name)}: please confirm", "blocks": blocks}


def synthesis_modal(plan_name: str, blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Step 3 synthesis"),
        "close": plain("Close"),
        "blocks": [context(f"Plan *{esc(plan_name)}* · every answer, as it will be saved."), *blocks][:100],
    }


def saved_outcome(plan_name: str, version: int, user_id: str, unchanged: bool) -> str:
    if unchanged:
        return f"Nothing changed since version {version} of the *{esc(plan_name)}* plan document; it stays as it is."
    return (
        f":white_check_mark: {mention(user_id)} confirmed the synthesis. "
        f"Saved as version {version} of the *{esc(plan_name)}* plan document."
    )


def document_comment(plan_name: str, version: int, user_id: str, steps_completed: Sequence[str]) -> str:
    """The short summary posted with the uploaded document."""
    steps = ", ".join(f"`{s}`" for s in steps_completed) or "none"
    return (
        f":page_facing_up: *Onboarding Flow: {esc(plan_name)}*, version {version}, saved by {mention(user_id)}. "
        f"Steps completed: {steps}."
    )
