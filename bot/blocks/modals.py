"""The Step 3 forms: the health model, the training plan, one milestone, and the questions across milestones.

Together they ask every question of the step (PRODUCT.md section 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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
    zone_input,
)
from bot.ids import ADD_FACTOR, REMOVE_FACTOR, SECTION_CALLBACK
from bot.metadata import ModalMetadata
from steps.fields import (
    FACTORS_AND_WEIGHTS,
    RESPONSE_PROTOCOL,
    SCORE_BANDS,
    TEXT_KINDS,
    Kind,
    answer_field,
    field_question,
    row_fields,
    row_name,
)
from steps.outline import UNANSWERED
from steps.step3 import ACROSS_MILESTONES, MAX_CUSTOM_FACTORS, MAX_TEXT, Band, Section, StandardFactor

ZONE = "timezone"  # the health model's time zone, the one answer a form can start from the person's own settings

# Slack allows 24 characters in a modal's title, one fewer than the training section's name.
MODAL_TITLES = {section: section.label for section in Section} | {Section.TRAINING: "Training plan"}


class Reply(Protocol):
    """A reply in the section's thread, as the form shows it (whoever read it: any object with these fields)."""

    @property
    def user_id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def posted_at(self) -> datetime: ...
    @property
    def permalink(self) -> str | None: ...
    @property
    def edited(self) -> bool: ...


@dataclass(frozen=True)
class Conflict:
    """Others saved this section while the form was open, and changed some fields this person changed too."""

    users: list[str]
    saved: dict[str, str | None]  # path → the value saved meanwhile, where the form keeps this person's value


REPLY_PREVIEW = 280


def _discussion(replies: Sequence[Reply]) -> list[Block]:
    if not replies:
        return []
    blocks: list[Block] = [
        section(
            "*Latest in this section's thread* (most recent first). To copy a reply into an answer, use the "
            "message shortcut *Add to onboarding plan* on it."
        )
    ]
    for reply in replies:
        link = f" · <{reply.permalink}|open>" if reply.permalink else ""
        edited = " (edited)" if reply.edited else ""
        said = esc(shorten(reply.text, REPLY_PREVIEW))
        blocks.append(context(f"{mention(reply.user_id)}, {slack_date(reply.posted_at)}{edited}{link}: {said}"))
    return blocks


def _conflict(conflict: Conflict) -> Block:
    who = ", ".join(mention(u) for u in conflict.users) or "Someone"
    fields = "1 answer" if len(conflict.saved) == 1 else f"{len(conflict.saved)} answers"
    return section(
        f":warning: {who} saved this section while you were editing. Your other changes are saved; {fields} "
        "changed on both sides are *not*: the form keeps what you typed and shows the saved value under it. "
        "*Save* again to use yours, or *Cancel* to keep the saved ones."
    )


def section_modal(
    meta: ModalMetadata,
    private_metadata: str,
    raw: dict[str, Any],
    replies: Sequence[Reply] = (),
    conflict: Conflict | None = None,
    zone: str | None = None,
) -> dict[str, Any]:
    """The form for ``meta.section`` (for milestones: one milestone, or the questions across them), prefilled from
    ``raw`` (saved answers, or what was typed so far).

    ``zone``: the opener's Slack time zone, where the section has none yet (most teams schedule where they work).
    """
    if zone is not None and not raw.get(ZONE):
        raw = {**raw, ZONE: zone}
    intro = context(
        f"Plan *{esc(meta.plan_name)}* · Step 3: Success Milestones. "
        f"Leave a question blank if the team has not discussed it yet; it shows as _{UNANSWERED}_."
    )
    head = [intro, *_discussion(replies)]
    title, blocks = _form(meta, raw)
    if conflict is not None:
        head.insert(0, _conflict(conflict))
        for block in blocks:
            if block.get("type") == "input" and block["block_id"] in conflict.saved:
                saved = conflict.saved[block["block_id"]]
                block["hint"] = plain(shorten(f"Saved meanwhile: {saved}" if saved else "Saved meanwhile: blank", 1900))
    return {
        "type": "modal",
        "callback_id": SECTION_CALLBACK,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": private_metadata,
        "blocks": [*head, *blocks],
    }


def _form(meta: ModalMetadata, raw: dict[str, Any]) -> tuple[str, list[Block]]:
    if meta.section is Section.HEALTH:
        return MODAL_TITLES[meta.section], _health(meta, raw)
    if meta.section is Section.TRAINING:
        return MODAL_TITLES[meta.section], _training(raw)
    if meta.milestone is None:
        return "Across milestones", _inputs(raw, *ACROSS_MILESTONES)
    title = "New milestone" if meta.adding else row_name("milestones", meta.milestone)
    return title, [_input(f.at(meta.milestone), raw, own_form=True) for f in row_fields("milestones")]


def _input(path: str, raw: dict[str, Any], *, own_form: bool = False) -> Block:
    """The form's input for the answer at ``path``, worded and limited as the catalogue says."""
    f = answer_field(path)
    # In a row's own form (one milestone) the title names the row; elsewhere each label says which row it is in.
    label = f.question[:1].upper() + f.question[1:] if own_form else field_question(path)
    optional, hint = not f.required, f.hint
    if f.kind in TEXT_KINDS:
        return text_input(
            path,
            label,
            raw,
            multiline=f.kind is Kind.TEXT,
            optional=optional,
            max_length=f.limits.max_length or MAX_TEXT,  # Slack's own cap where the model sets none
            hint=hint,
        )
    if f.kind is Kind.NUMBER:
        return number_input(
            path, label, raw, minimum=f.limits.minimum, maximum=f.limits.maximum, optional=optional, hint=hint
        )
    if f.kind is Kind.CHOICE:
        return select_input(path, label, raw, f.options(), optional=optional, hint=hint)
    if f.kind is Kind.CHOICES:
        return multi_select_input(path, label, raw, f.options(), hint=hint)
    if f.kind is Kind.USERS:
        return users_input(path, label, raw, hint=hint)
    if f.kind is Kind.TIME:
        return time_input(path, label, raw, optional=optional)
    if f.kind is Kind.ZONE:
        return zone_input(path, label, raw, optional=optional, hint=hint)
    raise ValueError(f"A {f.kind} field ({path}) has no single input in a form.")


def _inputs(raw: dict[str, Any], *paths: str) -> list[Block]:
    return [_input(path, raw) for path in paths]


def _row(rows: str, index: int, raw: dict[str, Any]) -> list[Block]:
    return _inputs(raw, *(f.at(index) for f in row_fields(rows)))


def _factor_tools(count: int) -> list[Block]:
    """Custom factors are added one at a time: no empty rows in every form for the teams that have none."""
    tools = []
    if count < MAX_CUSTOM_FACTORS:
        tools.append(button("Add a custom factor", ADD_FACTOR, "add"))
    if count > 0:
        tools.append(button(f"Remove custom factor {count}", REMOVE_FACTOR, "remove", style="danger"))
    return [actions("factor_tools", *tools)]


def _health(meta: ModalMetadata, raw: dict[str, Any]) -> list[Block]:
    return [
        header(FACTORS_AND_WEIGHTS),
        *_inputs(raw, *(f"weights.{factor.value}" for factor in StandardFactor)),
        *(block for index in range(meta.factor_count) for block in _row("custom_factors", index, raw)),
        *_factor_tools(meta.factor_count),
        *_inputs(raw, "calculation_notes"),
        header(SCORE_BANDS),
        *_inputs(raw, "healthy_from", "critical_below"),
        header("Updates and monitoring"),
        *_inputs(raw, "cadence", "update_weekday", "update_day", "update_time", "timezone", "monitors"),
        header(RESPONSE_PROTOCOL),
        *_inputs(raw, *(f"protocols.{band.value}" for band in Band)),
    ]


def _training(raw: dict[str, Any]) -> list[Block]:
    return [
        header("Self-service resources"),
        *_inputs(raw, "documentation", "video_tutorials", "community"),
        header("Guided training"),
        *_inputs(raw, "session_types", "schedule_curriculum", "segment_customisation"),
        header("Certification"),
        *_inputs(raw, "certification", "certification_levels", "certification_adoption"),
    ]
