"""The hub message: where a channel sees Step 3's sections, their status, and the menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import actions, button, context, divider, esc, header, mention, section, slack_date
from bot.blocks.common import section as section_block
from bot.ids import MENU_CONTINUE, MENU_HELP, MENU_REVISE, OPEN_SECTION, REVIEW_SAVE
from bot.plans import SectionStatus, Unsaved
from steps.step3 import NEXT_STEP_TITLE, STEP_ID, Section


def hub_message(
    plan_name: str, statuses: list[SectionStatus], steps_completed: Sequence[str], unsaved: Unsaved | None = None
) -> dict[str, Any]:
    done = STEP_ID in steps_completed
    blocks = [
        header("Step 3 · Success Milestones"),
        section(
            f"Plan *{esc(plan_name)}*. Work through the three sections; each opens a form. "
            "When all three are answered, press *Review and save* to check the synthesis and save the plan document."
            + ("\n:white_check_mark: Step 3 is saved in the plan document." if done else "")
        ),
        divider(),
    ]
    for number, status in enumerate(statuses, start=1):
        if status.answered and status.updated_at is not None and status.updated_by is not None:
            editor = mention(status.updated_by)
            state = f":white_check_mark: Answered · last edited by {editor}, {slack_date(status.updated_at)}"
            label = "Edit"
        else:
            state = ":white_circle: Not yet answered"
            label = "Answer"
        blocks.append(
            section(
                f"*{number}. {status.section.label}*\n{state}",
                accessory=button(label, f"{OPEN_SECTION}:{status.section.value}", status.section.value),
            )
        )
    # The step file's order: answer the sections, review and save, and only then [C] [R] [MH]. The primary style
    # goes to the one action that moves the plan forward now.
    review = button("Review and save", REVIEW_SAVE, "review", style="primary")
    menu_help = button("[MH] Menu Help", MENU_HELP, "help")
    if not done:
        menu = [review, menu_help] if all(s.answered for s in statuses) else [menu_help]
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
    answered = sum(s.answered for s in statuses)
    return {
        "text": f"Step 3 · Success Milestones for {esc(plan_name)}: {answered} of {len(statuses)} sections answered",
        "blocks": blocks,
    }


def revise_message(statuses: list[SectionStatus]) -> dict[str, Any]:
    """[R]: reopen any section, prefilled."""
    blocks = [section("Which section do you want to revise? The form opens with the saved answers.")]
    blocks.append(
        actions(
            "revise",
            *(button(f"{s.section.label}", f"{OPEN_SECTION}:{s.section.value}", s.section.value) for s in statuses),
        )
    )
    return {"text": "Which section do you want to revise?", "blocks": blocks}


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
