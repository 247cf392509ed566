"""The hub message: where a channel sees Step 3's sections, their status, and the menu."""

from __future__ import annotations

from collections.abc import Sequence
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
    option,
    plain,
    section,
    shorten,
    slack_date,
)
from bot.blocks.common import section as section_block
from bot.ids import (
    ADD_MILESTONE,
    EDIT_MILESTONE,
    MENU_CONTINUE,
    MENU_HELP,
    MENU_REVISE,
    OPEN_SECTION,
    REMOVE_MILESTONE,
    REVIEW_SAVE,
)
from bot.plans import PlanState, SectionStatus, Unsaved
from steps.step3 import ACROSS_MILESTONES, MAX_MILESTONES, MIN_MILESTONES, NEXT_STEP_TITLE, STEP_ID, Section


def hub_message(state: PlanState, unsaved: Unsaved | None = None) -> dict[str, Any]:
    done = STEP_ID in state.plan.steps_completed
    statuses = state.statuses
    blocks = [
        header("Step 3 · Success Milestones"),
        section(
            f"Plan *{esc(state.plan.name)}*. Work through the three sections; each opens a short form. "
            "When all three are answered, press *Review and save* to check the synthesis and save the plan document."
            + ("\n:white_check_mark: Step 3 is saved in the plan document." if done else "")
        ),
        divider(),
    ]
    for number, status in enumerate(statuses, start=1):
        if status.section is Section.MILESTONES:
            blocks += _milestone_rows(state, status)
            continue
        label = "Edit" if status.answered else "Answer"
        blocks.append(
            section(
                f"*{number}. {status.section.label}*\n{_state(status)}",
                accessory=button(label, f"{OPEN_SECTION}:{status.section.value}", status.section.value),
            )
        )
    # The step file's order: answer the sections, review and save, and only then [C] [R] [MH]. The primary style
    # goes to the one action that moves the plan forward now.
    review = button("Review and save", REVIEW_SAVE, "review", style="primary")
    menu_help = button("[MH] Menu Help", MENU_HELP, "help")
    if not done:
        menu = [review, menu_help] if all(s.complete for s in statuses) else [menu_help]
    elif unsaved is not None:
        menu = [review, button("[R] Revise Success Milestones", MENU_REVISE, "revise"), menu_help]
    else:
        menu = [
            button(f"[C] Continue to {NEXT_STEP_TITLE}", MENU_CONTINUE, "continue", style="primary"),
            button("[R] Revise Success Milestones", MENU_REVISE, "revise"),
            menu_help,
        ]
    if unsaved is not None:
        # The document and canvas lag the answers until someone reviews and saves.
        changes = "1 change" if unsaved.count == 1 else f"{unsaved.count} changes"
        by = ", ".join(mention(u) for u in unsaved.users)
        blocks += [
            divider(),
            section(
                f":pencil2: *Changed since the saved document (version {unsaved.document_version}): {changes} by "
                f"{by}.* Review and save them so the document and canvas match the answers."
            ),
        ]
    blocks += [
        divider(),
        actions("menu", *menu),
        context("Every word in the plan comes from what your team types or picks; the bot never fills in answers."),
    ]
    complete = sum(s.complete for s in statuses)
    summary = f"{complete} of {len(statuses)} sections answered"
    return {
        "text": f"Step 3 · Success Milestones for {esc(state.plan.name)}: {summary}",
        "blocks": blocks,
    }


def _state(status: SectionStatus, unfinished: str | None = None) -> str:
    if status.updated_at is None or status.updated_by is None:
        return ":white_circle: Not yet answered"
    edited = f"last edited by {mention(status.updated_by)}, {slack_date(status.updated_at)}"
    if unfinished is not None:
        return f":large_yellow_circle: {unfinished} · {edited}"
    return f":white_check_mark: Answered · {edited}"


def _milestone_rows(state: PlanState, status: SectionStatus) -> list[Block]:
    """Milestones are edited one at a time: a row each, a button to add one, a menu to remove any of them."""
    milestones = state.milestones
    count = len(milestones)
    unfinished = None
    if status.answered and not status.complete:
        more = MIN_MILESTONES - count
        unfinished = f"{_count(count)} so far: add at least {more} more"
    blocks = [section(f"*1. {Section.MILESTONES.label}*\n{_state(status, unfinished)}")]
    for index, milestone in enumerate(milestones):
        days = milestone.get("timeline_days")
        due = f" · due on day {days}" if isinstance(days, int) else ""
        text = f"{index + 1}. {esc(shorten(str(milestone.get('name') or ''), 100))}{due}"
        blocks.append(section(text, accessory=button("Edit", f"{EDIT_MILESTONE}:{index}", str(index))))
    across = state.raw(Section.MILESTONES)
    asked = [across.get(path) for path in ACROSS_MILESTONES]
    answered = sum(1 for value in asked if value)
    blocks.append(
        section(
            f"_Across all milestones:_ retention and missed deadlines · {answered} of {len(asked)} answered",
            accessory=button(
                "Edit" if answered else "Answer", f"{OPEN_SECTION}:{Section.MILESTONES.value}", Section.MILESTONES.value
            ),
        )
    )
    tools: list[dict[str, Any]] = []
    if count < MAX_MILESTONES:
        tools.append(button("Add a milestone", ADD_MILESTONE, "add"))
    if count:
        version = state.version(Section.MILESTONES)
        tools.append(_remove_menu(milestones, version))
    if tools:
        blocks.append(actions("milestone_tools", *tools))
    return blocks


def _count(count: int) -> str:
    return "1 milestone" if count == 1 else f"{count} milestones"


def _remove_menu(milestones: Sequence[dict[str, Any]], version: int) -> dict[str, Any]:
    """Any milestone can go; the option carries the version shown, so a menu from before another edit refuses."""
    return {
        "type": "static_select",
        "action_id": REMOVE_MILESTONE,
        "placeholder": plain("Remove a milestone…"),
        "options": [
            option(f"{index}:{version}", f"{index + 1}. {milestone.get('name') or ''}")
            for index, milestone in enumerate(milestones)
        ],
        "confirm": {
            "title": plain("Remove this milestone?"),
            "text": plain(
                "The milestone leaves the plan. Customers' open deadlines for it are dropped; those already reached "
                "or alerted stay in their history."
            ),
            "confirm": plain("Remove"),
            "deny": plain("Keep it"),
            "style": "danger",
        },
    }


def revise_message(state: PlanState) -> dict[str, Any]:
    """[R]: reopen any part of Step 3, prefilled."""
    blocks = [section("What do you want to revise? The form opens with the saved answers.")]
    milestones = [
        button(f"Milestone {index + 1}: {m.get('name') or ''}", f"{EDIT_MILESTONE}:{index}", str(index))
        for index, m in enumerate(state.milestones)
    ]
    others = [
        button("Across all milestones" if s is Section.MILESTONES else s.label, f"{OPEN_SECTION}:{s.value}", s.value)
        for s in Section
    ]
    blocks.append(actions("revise", *milestones, *others))
    return {"text": "What do you want to revise?", "blocks": blocks}


def thread_starter(section: Section, number: int) -> dict[str, Any]:
    """The message whose thread holds one section's discussion."""
    # One line: the channel reads it once; how replies reach the plan is in /onboarding help and the form.
    text = f":thread: *{number}. {section.label}*: discuss this section in this message's thread."
    return {"text": f"Discussion: {section.label}", "blocks": [section_block(text)]}


def moved_hub_message(link: str | None) -> dict[str, Any]:
    """What an earlier hub says once `/onboarding step3` posted a new one."""
    where = f"<{link}|the latest message>" if link else "the latest message from the bot"
    text = f":arrow_down: This Step 3 hub moved: use {where}."
    return {"text": "This Step 3 hub moved.", "blocks": [section(text)]}
