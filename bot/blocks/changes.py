"""Announcing saved changes in a section's thread, and `/onboarding history`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import esc, mention, sections, shorten, slack_date
from steps.fields import FieldChange, Kind, RowChange
from steps.step3 import Section
from storage.records import ChangeRecord

VALUE_PREVIEW = 200
CHANGES_SHOWN = 15


def _value(value: str | None, kind: Kind | None) -> str:
    if value is None:
        return "_empty_"
    if kind is Kind.USERS:
        return ", ".join(mention(user) for user in value.split(", "))
    return f"“{esc(shorten(value, VALUE_PREVIEW))}”"


def change_announcement(
    section: Section,
    user_id: str,
    version: int,
    changes: Sequence[FieldChange],
    source: tuple[str, str | None] | None = None,
    *,
    first: str | None = None,
    row: RowChange | None = None,
) -> dict[str, Any]:
    """A readable diff: who changed which field, from what to what; a first save (``first``) and a row added or
    removed (``row``) in one line."""
    origin = ""
    if source is not None:
        author, permalink = source
        where = f" (<{permalink}|message>)" if permalink else ""
        origin = f", from {mention(author)}'s message{where}"
    if first is not None:
        text = f":pencil2: {mention(user_id)} answered *{section.label}*: {esc(first)}{origin}."
        return {"text": f"{section.label} answered", "blocks": sections(text)}
    if row is not None:
        verb, where = ("added", "to") if row.added else ("removed", "from")
        text = f":pencil2: {mention(user_id)} {verb} *{row.row}* “{esc(row.name)}” {where} *{section.label}*{origin}."
        return {"text": f"{section.label} changed", "blocks": sections(text)}
    lines = [f":pencil2: {mention(user_id)} changed *{section.label}* (version {version}){origin}:"]
    for change in changes[:CHANGES_SHOWN]:
        lines.append(f"• *{esc(change.label)}*: {_value(change.old, change.kind)} → {_value(change.new, change.kind)}")
    if len(changes) > CHANGES_SHOWN:
        lines.append(f"…and {len(changes) - CHANGES_SHOWN} more fields.")
    text = "\n".join(lines)
    return {"text": f"{section.label} changed", "blocks": sections(text)}


def history_message(plan_name: str, changes: Sequence[ChangeRecord]) -> dict[str, Any]:
    """Recent saves, newest first: one line per save, naming the fields it changed."""
    if not changes:
        text = f"No changes recorded yet for plan *{esc(plan_name)}*."
        return {"text": text, "blocks": sections(text)}
    saves: dict[tuple[str, int, str, str | None], list[ChangeRecord]] = {}
    for change in changes:
        saves.setdefault((change.section, change.version, change.user_id, change.source_user_id), []).append(change)
    lines = [f"*Recent changes to {esc(plan_name)}* (newest first)"]
    for (section, version, user_id, source), fields in saves.items():
        origin = f", from {mention(source)}'s message" if source else ""
        labels = ", ".join(esc(label) for label in _by_row([f.label for f in reversed(fields)]))
        lines.append(
            f"• {slack_date(fields[0].changed_at)} · {mention(user_id)} · {Section(section).label} "
            f"(version {version}){origin}: {labels}"
        )
    text = "\n".join(lines)
    return {"text": text, "blocks": sections(text)}


def _by_row(labels: list[str]) -> list[str]:
    """Labels with the fields of one row together: ``Milestone 2 (name, description)``."""
    rows: dict[str, list[str]] = {}
    for label in labels:
        row, _, field = label.partition(" · ")
        rows.setdefault(row, [])
        if field:
            rows[row].append(field)
    return [f"{row} ({', '.join(fields)})" if fields else row for row, fields in rows.items()]
