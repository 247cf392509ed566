"""Small Block Kit pieces shared by every view, and mrkdwn escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from steps.errors import UserError

Block = dict[str, Any]

SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75


def esc(text: str) -> str:
    """Escape user text for mrkdwn so a typed <!channel> or <https://x|y> stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(shorten(text, HEADER_LIMIT))}


def divider() -> Block:
    return {"type": "divider"}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(shorten(text, BUTTON_TEXT_LIMIT)),
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def option(value: str, label: str, description: str | None = None) -> dict[str, Any]:
    """An option of a select, radio group or menu, its text within Slack's 75 characters."""
    item: dict[str, Any] = {"text": plain(shorten(label, OPTION_TEXT_LIMIT)), "value": value}
    if description is not None:
        item["description"] = plain(shorten(description, OPTION_TEXT_LIMIT))
    return item


def actions(block_id: str, *elements: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def section(text: str, accessory: dict[str, Any] | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def sections(text: str) -> list[Block]:
    """Long mrkdwn as several section blocks, split at line breaks, each within Slack's 3,000 characters."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > SECTION_TEXT_LIMIT:
            chunks.append(line[:SECTION_TEXT_LIMIT])
            line = line[SECTION_TEXT_LIMIT:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_TEXT_LIMIT:
            chunks.append(current)
            candidate = line
        current = candidate
    if current.strip():
        chunks.append(current)
    return [section(chunk) for chunk in chunks if chunk.strip()]


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def slack_date(when: datetime) -> str:
    """A date Slack renders in each reader's own time zone, with a UTC fallback."""
    if when.tzinfo is None:  # SQLite hands back naive datetimes; they are stored as UTC
        when = when.replace(tzinfo=UTC)
    epoch = int(when.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{when:%Y-%m-%d %H:%M} UTC>"


def user_message(error: UserError) -> str:
    """A refusal as mrkdwn: the values in it escaped, the channels and people in it written as Slack mentions."""
    return error.render(esc, lambda ref: f"<#{ref.id}>" if ref.kind == "channel" else mention(ref.id))
