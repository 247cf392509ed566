"""Announcing saved changes in a section's thread, and `/onboarding history`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import esc, mention, sections, shorten
from steps.fields import FieldChange
from steps.step3 import Section
from storage.records import ChangeRecord

VALUE_PREVIEW = 200
CHANGES_SHOWN = 15


def _value(value: str | None) -> str:
    return "_empty_" if value is None else f"“{esc(shorten(value, VALUE_PREVIEW))}”"


def change_announcement(
    section: Section,
    user_id: str,
    version: int,
    changes: Sequence[FieldChange],
    source: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """A readable diff: who changed which field, from what to what."""
    origin = ""
    if source is not None:
        author, permalink = source
        where = f" (<{permalink}|message>)" if permalink else ""
        origin = f", from {mention(author)}'s message{where}"
    lines = [f":pencil2: {mention(user_id)} changed *{section.label}* (version {version}){origin}:"]
    for change in changes[:CHANGES_SHOWN]:
        lines.append(f"• *{esc(change.label)}*: {_value(change.old)} → {_value(change.new)}")
    if len(changes) > CHANGES_SHOWN:
        lines.append(f"…and {len(changes) - CHANGES_SHOWN} more fields.")
    text = "\n".join(lines)
    return {"text": f"{section.label} changed", "blocks": sections(text)}


def history_message(plan_name: str, changes: Sequence[ChangeRecord]) -> dict[str, Any]:
    if not changes:
        text = f"No changes recorded yet for plan *{esc(plan_name)}*."
    else:
        lines = [f"*Recent changes to {esc(plan_name)}* (newest first)"]
        for change in changes:
            origin = f", from {mention(change.source_user_id)}'s message" if change.source_user_id else ""
            lines.append(
                f"• {change.changed_at:%Y-%m-%d %H:%M} UTC · {mention(change.user_id)} · "
                f"{Section(change.section).label} · {esc(change.label)}{origin}"
            )
        text = "\n".join(lines)
    return {"text": text, "blocks": sections(text)}
