"""What a person sees when the bot refuses a request or fails at it: one short message, nothing half-done."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import plain, sections


def refusal_modal(text: str) -> dict[str, Any]:
    """Replaces a submitted form whose submission could not be accepted; ``text`` is already mrkdwn-safe."""
    return {
        "type": "modal",
        "title": plain("Nothing was saved"),
        "close": plain("Close"),
        "blocks": sections(text)[:10],
    }
