"""Small helpers the listeners share."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.hub import hub_message
from bot.plans import PlanState

logger = logging.getLogger(__name__)


def refresh_hub(client: WebClient, state: PlanState) -> None:
    """Show new section status on the hub message; a deleted hub is not worth failing a save for."""
    if state.plan.hub_ts is None:
        return
    message = hub_message(state.plan.name, state.statuses, state.plan.steps_completed)
    try:
        client.chat_update(channel=state.plan.channel_id, ts=state.plan.hub_ts, **message)
    except SlackApiError as exc:
        logger.warning("could not update the hub message of plan %s: %s", state.plan.id, exc.response.get("error"))
