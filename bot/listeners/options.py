"""Options Slack asks for while someone types in an external select: the time zones matching what was typed."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.inputs import zone_options
from bot.blocks.modals import ZONE
from bot.ids import VALUE
from bot.listeners.common import client_key, requester
from bot.listeners.errors import replies_to_errors
from bot.metadata import ModalMetadata
from steps.zones import search_zones


def zone_matches(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient) -> None:
    who, view, query = requester(context), body.get("view"), body.get("value")
    # Answered only inside a form of ours opened by this person in this workspace, as its submission would be.
    ModalMetadata.load(
        view.get("private_metadata") if isinstance(view, dict) else None,
        client_key(client),
        team_id=who.team_id,
        user_id=who.user_id,
    )
    ack(options=zone_options(search_zones(query if isinstance(query, str) else "")))


def _in_zone_field(body: dict[str, Any]) -> bool:
    """Every input's action_id is VALUE (the block_id names the answer), so the block says which select asks."""
    return body.get("block_id") == ZONE


def register(app: App) -> None:
    app.options(VALUE, matchers=[_in_zone_field])(replies_to_errors(zone_matches))
