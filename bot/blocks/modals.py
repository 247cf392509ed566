"""The three Step 3 modals. Each asks every question of its section (PRODUCT.md section 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
    section,
    shorten,
    slack_date,
)
from bot.blocks.inputs import (
    multi_select_input,
    number_input,
    select_input,
    text_input,
    time_input,
    users_input,
)
from bot.ids import ADD_MILESTONE, REMOVE_MILESTONE, SECTION_CALLBACK
from bot.metadata import ModalMetadata
from steps.step3 import (
    MAX_CUSTOM_FACTORS,
    MAX_MILESTONES,
    MAX_NAME,
    MAX_TIMELINE_DAYS,
    MIN_MILESTONES,
    Band,
    Cadence,
    Certification,
    Section,
    SessionType,
    StandardFactor,
    common_timezones,
)

MODAL_TITLES = {
    Section.MILESTONES: "Success milestones",
    Section.HEALTH: "Health score model",
    Section.TRAINING: "Training plan",
}


@dataclass(frozen=True)
class Reply:
    """A reply in the section's thread, as the form shows it."""

    user_id: str
    text: str
    posted_at: datetime
    permalink: str | None
    edited: bool


@dataclass(frozen=True)
class Conflict:
    """Someone saved the section while this form was open."""

    users: list[str]
    fields: list[tuple[str, str]]  # (path, label)


REPLY_PREVIEW = 280


def _discussion(replies: Sequence[Reply]) -> list[Block]:
    if not replies:
        return []
    blocks: list[Block] = [section("*Latest in this section's thread* (most recent first)")]
    for reply in replies:
        link = f" · <{reply.permalink}|open>" if reply.permalink else ""
        edited = " (edited)" if reply.edited else ""
        said = esc(shorten(reply.text, REPLY_PREVIEW))
        blocks.append(context(f"{mention(reply.user_id)}, {slack_date(reply.posted_at)}{edited}{link}: {said}"))
    return blocks


def _conflict(conflict: Conflict) -> Block:
    who = ", ".join(mention(u) for u in conflict.users)
    fields = ", ".join(esc(label) for _, label in conflict.fields) or "this section"
    return section(
        f":warning: {who} saved this section while you were editing ({fields}). Your changes were *not saved*: "
        "the form now shows the saved answers. Re-apply what you meant to change, then save again."
    )


def section_modal(
    meta: ModalMetadata,
    private_metadata: str,
    raw: dict[str, Any],
    replies: Sequence[Reply] = (),
    conflict: Conflict | None = None,
) -> dict[str, Any]:
    """The modal for ``meta.section``, prefilled from ``raw`` (saved answers, or what was typed so far)."""
    builders = {Section.MILESTONES: _milestones, Section.HEALTH: _health, Section.TRAINING: _training}
    intro = context(
        f"Plan *{esc(meta.plan_name)}* · Step 3: Success Milestones. "
        "Leave a question blank if the team has not discussed it yet; it shows as _Not yet discussed_."
    )
    head = [intro, *_discussion(replies)]
    blocks = builders[meta.section](meta, raw)
    if conflict is not None:
        head.insert(0, _conflict(conflict))
        changed = {path for path, _ in conflict.fields}
        for block in blocks:
            if block.get("type") == "input" and block["block_id"] in changed:
                block["hint"] = plain("Just changed by someone else; see the note at the top.")
    return {
        "type": "modal",
        "callback_id": SECTION_CALLBACK,
        "title": {"type": "plain_text", "text": MODAL_TITLES[meta.section]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": private_metadata,
        "blocks": [*head, *blocks],
    }


def _milestones(meta: ModalMetadata, raw: dict[str, Any]) -> list[Block]:
    count = meta.milestone_count
    blocks: list[Block] = []
    for index in range(count):
        n = index + 1
        p = f"milestones.{index}"
        blocks += [
            header(f"Milestone {n}"),
            text_input(f"{p}.name", f"Milestone {n} · name", raw, optional=False, max_length=MAX_NAME),
            text_input(f"{p}.description", f"Milestone {n} · description", raw, multiline=True),
            number_input(
                f"{p}.timeline_days",
                f"Milestone {n} · expected by day",
                raw,
                minimum=1,
                maximum=MAX_TIMELINE_DAYS,
                optional=False,
                hint="Days from the customer's onboarding start.",
            ),
            text_input(
                f"{p}.timeline_note", f"Milestone {n} · timeline wording", raw, hint="For example: end of week 2"
            ),
            text_input(
                f"{p}.definition_of_done", f"Milestone {n} · definition of done", raw, multiline=True, optional=False
            ),
            number_input(
                f"{p}.points_on_time",
                f"Milestone {n} · health points when reached on time",
                raw,
                minimum=0,
                maximum=100,
            ),
            number_input(
                f"{p}.points_missed", f"Milestone {n} · health points removed when missed", raw, minimum=0, maximum=100
            ),
            text_input(f"{p}.impact_note", f"Milestone {n} · health-score impact note", raw, multiline=True),
        ]
    tools = []
    if count < MAX_MILESTONES:
        tools.append(button("Add a milestone", ADD_MILESTONE, "add"))
    if count > MIN_MILESTONES:
        tools.append(button(f"Remove milestone {count}", REMOVE_MILESTONE, "remove", style="danger"))
    if tools:
        blocks.append(actions("milestone_tools", *tools))
    blocks += [
        divider(),
        header("Across all milestones"),
        text_input(
            "retention_correlation",
            "How does milestone completion relate to long-term retention?",
            raw,
            multiline=True,
        ),
        text_input(
            "missed_deadline_policy", "What happens when a customer misses a milestone deadline?", raw, multiline=True
        ),
    ]
    return blocks


def _health(meta: ModalMetadata, raw: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [header("Factors and weights")]
    for factor in StandardFactor:
        blocks.append(
            number_input(
                f"weights.{factor.value}",
                f"{factor.label} · weight",
                raw,
                minimum=0,
                maximum=100,
                optional=False,
                hint="Weights of all factors must total 100. Enter 0 for a factor you do not use.",
            )
        )
    for index in range(MAX_CUSTOM_FACTORS):
        n = index + 1
        blocks += [
            text_input(f"custom_factors.{index}.name", f"Custom factor {n} · name", raw, max_length=MAX_NAME),
            number_input(f"custom_factors.{index}.weight", f"Custom factor {n} · weight", raw, minimum=0, maximum=100),
        ]
    blocks += [
        text_input("calculation_notes", "How is the score calculated?", raw, multiline=True),
        header("Score bands"),
        number_input(
            "healthy_from",
            "Healthy from (score)",
            raw,
            minimum=0,
            maximum=100,
            optional=False,
            hint="Scores at or above this are healthy.",
        ),
        number_input(
            "critical_below",
            "Critical below (score)",
            raw,
            minimum=0,
            maximum=100,
            optional=False,
            hint="Scores under this are critical; in between is at-risk.",
        ),
        header("Updates and monitoring"),
        select_input(
            "cadence",
            "How often is the score updated?",
            raw,
            [(c.value, c.value.title()) for c in Cadence],
            optional=False,
        ),
        time_input("update_time", "At what time of day?", raw),
        select_input("timezone", "In which time zone?", raw, [(z, z) for z in common_timezones()], optional=False),
        users_input("monitors", "Who monitors the scores?", raw),
        header("Response protocol"),
    ]
    for band in Band:
        blocks.append(
            text_input(f"protocols.{band.value}", f"When a customer is {band.label.lower()}", raw, multiline=True)
        )
    return blocks


def _training(meta: ModalMetadata, raw: dict[str, Any]) -> list[Block]:
    return [
        header("Self-service resources"),
        text_input("documentation", "Documentation, help articles and FAQs", raw, multiline=True),
        text_input("video_tutorials", "Video tutorials and walkthroughs", raw, multiline=True),
        text_input("community", "Community forums and knowledge bases", raw, multiline=True),
        header("Guided training"),
        multi_select_input("session_types", "Live session types", raw, [(s.value, s.label) for s in SessionType]),
        text_input("schedule_curriculum", "Schedule and curriculum", raw, multiline=True),
        text_input("segment_customisation", "Customisation by customer segment", raw, multiline=True),
        header("Certification"),
        select_input(
            "certification", "Is there a certification programme?", raw, [(c.value, c.label) for c in Certification]
        ),
        text_input("certification_levels", "Levels or badges", raw, multiline=True),
        text_input("certification_adoption", "How does certification drive adoption?", raw, multiline=True),
    ]
