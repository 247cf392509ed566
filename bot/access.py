"""Who may act on a plan from elsewhere: the members of the plan's channel (private channels included)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

MEMBERS_PAGE = 200


def is_member(client: WebClient, channel_id: str, user_id: str) -> bool:
    """Whether ``user_id`` is in ``channel_id``; when Slack will not say (e.g. the bot left), the answer is no."""
    try:
        # SlackResponse iterates over the pages of a cursor-paginated method.
        for page in client.conversations_members(channel=channel_id, limit=MEMBERS_PAGE):
            if user_id in (page.get("members") or []):
                return True
    except SlackApiError as exc:
        logger.info("cannot list the members of %s: %s", channel_id, exc.response.get("error"))
    return False


def channels_of(client: WebClient, user_id: str) -> set[str]:
    """The public and private channels ``user_id`` is in (private ones only where the bot is too)."""
    channels: set[str] = set()
    try:
        for page in client.users_conversations(
            user=user_id, types="public_channel,private_channel", exclude_archived=True, limit=MEMBERS_PAGE
        ):
            channels.update(c["id"] for c in page.get("channels") or [] if isinstance(c, dict) and "id" in c)
    except SlackApiError as exc:
        logger.info("cannot list the channels of %s: %s", user_id, exc.response.get("error"))
    return channels
