"""Small helpers the listeners share."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import customers, discussion, plans
from bot.blocks.hub import hub_message, moved_hub_message
from bot.blocks.modals import Conflict, section_modal
from bot.metadata import ModalMetadata, sealing_key
from bot.plans import PlanState
from bot.services import Services
from bot.slack_api import without_retries
from steps.errors import UserError
from steps.fields import put
from steps.step3 import Section
from storage.db import Session, read_only, transaction

logger = logging.getLogger(__name__)

SLACK_ID = re.compile(r"[A-Z0-9]{1,32}")
ZONE_LOOKUP_TIMEOUT = 1  # seconds, of the 3 a trigger_id lives, that asking Slack for someone's time zone may take
MAX_ID = 2**31 - 1  # the largest primary key an INTEGER column holds


@dataclass(frozen=True)
class Requester:
    """Who sent a request and from where, as Slack's envelope says (never as a value inside the payload)."""

    team_id: str
    user_id: str
    channel_id: str | None  # None for modal submissions, which come from no channel

    def channel(self) -> str:
        if self.channel_id is None:
            raise UserError("This only works from a channel.")
        return self.channel_id


def is_slack_id(value: object) -> TypeGuard[str]:
    """Slack's team, user and channel ids are short runs of capital letters and digits ("T0123", "C0456")."""
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


def requester(context: BoltContext) -> Requester:
    team, user, channel = context.team_id, context.user_id, context.channel_id
    if not is_slack_id(team) or not is_slack_id(user):
        raise UserError("Slack did not say who sent this, so nothing was done.")
    if channel is not None and not is_slack_id(channel):
        raise UserError("Slack did not say which channel this came from, so nothing was done.")
    return Requester(team, user, channel)


def text_value(action: Any) -> str:
    """A button's value; anything but a string is not one of the bot's buttons."""
    value = action.get("value") if isinstance(action, dict) else None
    if not isinstance(value, str):
        raise UserError("This button is not one the bot made; nothing was done.")
    return value


def ephemeral(respond: Respond, body: Any, message: dict[str, Any]) -> None:
    """Show ``message`` only to the person who clicked, where Slack gave the request a ``response_url``."""
    url = body.get("response_url") if isinstance(body, dict) else None
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        respond(response_type="ephemeral", replace_original=False, **message)


def trigger_id(body: Any) -> str:
    """The single-use id that lets the bot open a modal in answer to this request."""
    trigger = body.get("trigger_id") if isinstance(body, dict) else None
    if not isinstance(trigger, str) or not trigger:
        raise UserError("Slack did not send what is needed to open a form; please try again.")
    return trigger


def state_values(view: Any) -> Any:
    """``view.state.values`` of a submitted modal (read defensively by ``read_state`` and friends)."""
    state = view.get("state") if isinstance(view, dict) else None
    return state.get("values") if isinstance(state, dict) else None


def clicked_message_ts(body: Any) -> str:
    """The message a button was clicked on, from Slack's envelope."""
    container = body.get("container") if isinstance(body, dict) else None
    ts = container.get("message_ts") if isinstance(container, dict) else None
    if not isinstance(ts, str) or not ts:
        raise UserError("This button is not on a message; nothing was done.")
    return ts


def id_value(action: Any) -> int:
    """A button whose value is a database id (the bot writes it as ASCII digits)."""
    value = text_value(action)
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID):
        raise UserError("This button is not one the bot made; nothing was done.")
    return int(value)


def refresh_hub(client: WebClient, services: Services, state: PlanState) -> None:
    """Show new section status on the hub message; a deleted hub is not worth failing a save for."""
    if state.plan.hub_ts is None:
        return
    with read_only(services.sessions) as session:
        unsaved = plans.unsaved_changes(session, state)
    message = hub_message(state, unsaved)
    try:
        client.chat_update(channel=state.plan.channel_id, ts=state.plan.hub_ts, **message)
    except SlackApiError as exc:
        logger.warning("could not update the hub message of plan %s: %s", state.plan.id, exc.response.get("error"))


def retire_hub(client: WebClient, channel: str, old_ts: str, new_ts: str) -> None:
    """The previous hub becomes a one-line pointer to the new one, so a channel never has two live hubs."""
    try:
        link = str(client.chat_getPermalink(channel=channel, message_ts=new_ts)["permalink"])
    except SlackApiError:
        link = None
    try:
        client.chat_update(channel=channel, ts=old_ts, **moved_hub_message(link))
    except SlackApiError as exc:
        logger.info("the previous hub %s was not replaced: %s", old_ts, exc.response.get("error"))


def follow_milestones(services: Services, state: PlanState, section: Section) -> None:
    """Once a milestones save is acknowledged, customers' deadlines follow the plan's new milestones."""
    if section is Section.MILESTONES:
        with transaction(services.sessions) as session:
            ready = customers.runnable(session, state.plan)
            if ready is not None:
                customers.follow_milestones(session, ready, services.clock())


def section_form(
    session: Session,
    state: PlanState,
    form: plans.Form,
    opener: Requester,
    key: bytes,
    conflict: Conflict | None = None,
    typed: dict[str, Any] | None = None,
    zone: str | None = None,
) -> dict:
    """A form as saved now (answers, version, the latest replies in its section's thread), or with ``typed``
    values kept where they differ from the saved ones (a conflict); ``zone`` is the time zone offered where none
    is saved."""
    raw = state.raw(form.section)
    for path, value in (typed or {}).items():
        put(raw, path, value)
    meta = ModalMetadata(
        team_id=opener.team_id,
        user_id=opener.user_id,
        plan_id=state.plan.id,
        channel_id=state.plan.channel_id,
        plan_name=state.plan.name,
        section=form.section,
        milestone=form.milestone,
        adding=form.adding,
        milestone_count=len(state.milestones),
        factor_count=len(raw.get("custom_factors") or []),
        section_version=state.version(form.section),
    )
    replies = discussion.latest_replies(session, state.plan, form.section)
    return section_modal(meta, meta.dump(key), raw, replies, conflict, zone)


def slack_zone(client: WebClient, user_id: str) -> str | None:
    """The time zone ``user_id`` set in Slack (``users.info``), or None when Slack does not say, or not in time."""
    try:
        user = without_retries(client, ZONE_LOOKUP_TIMEOUT).users_info(user=user_id).get("user")
    except (SlackClientError, OSError) as exc:  # the form opens anyway, and asks for the zone
        logger.info("no Slack time zone for %s: %s", user_id, exc)
        return None
    zone = user.get("tz") if isinstance(user, dict) else None
    return zone if isinstance(zone, str) and zone else None


def client_key(client: WebClient) -> bytes:
    return sealing_key(client.token)
