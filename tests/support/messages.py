"""Finding the bot's messages by what names them for the app (a block_id, the outbox key in their metadata), not by
their wording, so a reworded message breaks only the tests about its words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.delivery import METADATA_EVENT_TYPE

Message = dict[str, Any]

HUB = "menu"  # the hub's [C] [R] [MH] buttons
SYNTHESIS = "synthesis"  # a synthesis's confirm and revise buttons, there until someone acts on it
# Kinds of posts sent through the outbox: the first part of their key (``alert:<id>``, ``health:<plan>:<instant>``).
ALERT = "alert"
MISSED_DIGEST = "missed-digest"
HEALTH_UPDATE = "health"
BAND_ALERTS = "band-alerts"


def with_block(messages: Iterable[Message], block_id: str) -> list[Message]:
    return [m for m in messages if any(b.get("block_id") == block_id for b in m.get("blocks") or [])]


def outbox_key(message: Message) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT_TYPE:
        return None
    return (metadata.get("event_payload") or {}).get("key")


def outbox_posts(messages: Iterable[Message], kind: str) -> list[Message]:
    """Top-level outbox posts of one kind (their thread replies carry longer keys of the same kind)."""
    return [
        m
        for m in messages
        if (outbox_key(m) or "").startswith(f"{kind}:") and m.get("thread_ts", m.get("ts")) == m.get("ts")
    ]


def with_button(message: Message, action_id: str, value: str = "x") -> Message:
    """``message`` with a button the hub shows in another state: a click on it still reaches the bot (an older hub,
    a crafted request)."""
    button = {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": "x"}}
    return {**message, "blocks": [*message["blocks"], {"type": "actions", "block_id": "menu", "elements": [button]}]}
