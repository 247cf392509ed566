"""`message` events: replies in a section's thread are recorded, and kept current through edits and deletions.

Bolt runs only the first listener that matches an event, so this is the app's one `message` listener and it
dispatches on the subtype itself.
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeGuard

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import discussion
from bot.listeners.common import is_slack_id
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from bot.services import Services
from storage.db import transaction

logger = logging.getLogger(__name__)

# Subtypes that are a person's message; everything else (joins, topic changes, bots) is not discussion.
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share"}
_TS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")  # a Slack message timestamp, "1796000400.000100"


def _by_a_person(message: dict[str, Any], context: BoltContext) -> bool:
    if message.get("bot_id") or message.get("subtype") == "bot_message" or not message.get("user"):
        return False
    return message["user"] != context.bot_user_id


def _permalink(client: WebClient, channel: str, ts: str) -> str | None:
    try:
        return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError as exc:  # a reply without a link is still worth keeping
        logger.warning("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
        return None


def on_message(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    team_id, channel, subtype = context.team_id, event.get("channel"), event.get("subtype")
    if not (is_slack_id(team_id) and is_slack_id(channel)) or not (subtype is None or isinstance(subtype, str)):
        logger.info("ignoring a message event without a usable team or channel")
        return
    services = services_of(context)
    if subtype == "message_changed":
        _edited(services, team_id, channel, event)
    elif subtype == "message_deleted":
        _deleted(services, team_id, channel, event)
    elif subtype in PERSON_SUBTYPES:
        _posted(services, client, context, team_id, channel, event)


def _is_ts(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def _posted(
    services: Services, client: WebClient, context: BoltContext, team_id: str, channel: str, event: dict[str, Any]
) -> None:
    thread_ts, ts, text = event.get("thread_ts"), event.get("ts"), event.get("text") or ""
    if not (_is_ts(thread_ts) and _is_ts(ts)) or not is_slack_id(event.get("user")) or not isinstance(text, str):
        return
    if thread_ts == ts or not _by_a_person(event, context):
        return
    with transaction(services.sessions) as session:
        if not discussion.is_section_thread(session, team_id, channel, thread_ts):
            return
    # Looked up outside the transaction: a Slack call must not hold database locks.
    permalink = _permalink(client, channel, ts)
    with transaction(services.sessions) as session:
        discussion.record_reply(
            session, team_id, channel, thread_ts, ts=ts, user_id=event["user"], text=text, permalink=permalink
        )


def _edited(services: Services, team_id: str, channel: str, event: dict[str, Any]) -> None:
    message, at = event.get("message"), event.get("event_ts") or event.get("ts")
    if not isinstance(message, dict) or not (_is_ts(message.get("ts")) and _is_ts(at)):
        return
    text = message.get("text") or ""
    if not isinstance(text, str):
        return
    with transaction(services.sessions) as session:
        discussion.edit_reply(session, team_id, channel, message["ts"], text, at)


def _deleted(services: Services, team_id: str, channel: str, event: dict[str, Any]) -> None:
    deleted_ts, at = event.get("deleted_ts"), event.get("event_ts") or event.get("ts")
    if not (_is_ts(deleted_ts) and _is_ts(at)):
        return
    with transaction(services.sessions) as session:
        discussion.delete_reply(session, team_id, channel, deleted_ts, at)


def register(app: App) -> None:
    app.event("message")(replies_to_errors(on_message))
