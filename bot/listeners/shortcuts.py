"""The message shortcut "Add to onboarding plan": fold what someone said into a field of the plan."""

from __future__ import annotations

import logging
from typing import Any, Literal

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import discussion, plans
from bot.blocks.shortcut import add_to_plan_modal
from bot.ids import ADD_TO_PLAN, ADD_TO_PLAN_SUBMIT, VALUE
from bot.listeners.common import client_key, follow_milestones, refresh_hub, requester, state_values, trigger_id
from bot.listeners.context import channel_plan, plan_of, services_of
from bot.listeners.errors import replies_to_errors
from bot.metadata import ShortcutMetadata
from steps.errors import UserError
from steps.fields import current_text, text_fields, with_text
from steps.step3 import SECTION_MODELS, Section, parse_answers
from steps.validation import InvalidAnswers
from storage.db import transaction

logger = logging.getLogger(__name__)

# The message travels in the modal's private_metadata, which Slack caps at 3,000 characters.
MAX_METADATA = 3000
Mode = Literal["append", "replace"]
MODES: tuple[Mode, ...] = ("append", "replace")  # the options of the form's "mode" select


def add_to_plan(ack: Ack, context: BoltContext, shortcut: dict[str, Any], client: WebClient) -> None:
    ack()
    who, state = requester(context), plan_of(context)
    message = shortcut.get("message")
    message = message if isinstance(message, dict) else {}
    author, text, ts = message.get("user"), message.get("text"), message.get("ts")
    if message.get("bot_id") or not isinstance(author, str) or not author:
        raise UserError("Only messages people wrote can be added to the plan.")
    if not isinstance(text, str) or not text.strip() or not isinstance(ts, str):
        raise UserError("This message has no text to add.")
    fields = {s: text_fields(s, state.raw(s)) for s in Section if s.value in state.rows}
    if not fields:
        raise UserError("Answer a section of Step 3 first; then messages can be added to its answers.")
    meta = ShortcutMetadata(
        team_id=who.team_id, user_id=who.user_id, plan_id=state.plan.id, channel_id=who.channel(), message_ts=ts,
        author=author, text=text.strip(), versions={s: state.version(s) for s in Section},
        permalink=_permalink(context, client, who.team_id, who.channel(), ts),
    )  # fmt: skip
    sealed = meta.dump(client_key(client))
    if len(sealed) > MAX_METADATA:
        raise UserError("This message is too long to add here; paste the key part into the section's form.")
    client.views_open(trigger_id=trigger_id(shortcut), view=add_to_plan_modal(author, text.strip(), fields, sealed))


def _permalink(context: BoltContext, client: WebClient, team_id: str, channel_id: str, ts: str) -> str | None:
    """A reply in a section's thread already has its link recorded; Slack is asked only for other messages."""
    with transaction(services_of(context).sessions) as session:
        known = discussion.known_permalink(session, team_id, channel_id, ts)
    if known is not None:
        return known
    try:
        return str(client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"])
    except SlackApiError as exc:  # the value is still credited to its author
        logger.warning("no permalink for %s/%s: %s", channel_id, ts, exc.response.get("error"))
        return None


def add(ack: Ack, context: BoltContext, view: dict[str, Any], client: WebClient) -> None:
    services, who = services_of(context), requester(context)
    meta = ShortcutMetadata.load(
        view.get("private_metadata"), client_key(client), team_id=who.team_id, user_id=who.user_id
    )
    field, mode = _choices(state_values(view))
    if field is None or mode is None:
        ack(response_action="errors", errors={"field": "Pick the answer to add the message to, and how."})
        return
    section, path = field
    with transaction(services.sessions) as session:
        state = plans.load(session, meta.team_id, meta.channel_id)
        if state is None or state.plan.id != meta.plan_id or section.value not in state.rows:
            ack(response_action="errors", errors={"field": "This plan or section no longer exists here."})
            return
        try:
            plans.ensure_current(session, state, section, meta.versions.get(section, -1))
        except plans.StaleSection:
            ack(
                response_action="errors",
                errors={"field": f"Someone changed {section.label} after you opened this, so nothing was saved. "
                                 "Run the shortcut again to add the message to the current answers."},
            )  # fmt: skip
            return
        raw = state.raw(section)
        if path not in dict(text_fields(section, raw)):
            ack(response_action="errors", errors={"field": "Pick one of the answers in the list."})
            return
        if mode == "append" and current_text(raw, path) and meta.text in (current_text(raw, path) or ""):
            ack(response_action="errors", errors={"field": "This answer already contains the message."})
            return
        try:
            answers = parse_answers(SECTION_MODELS[section], with_text(raw, path, meta.text, mode))
            state, _ = plans.save_if_current(
                session, state, section, answers, meta.versions.get(section, -1), who.user_id, services.clock(),
                (meta.author, meta.permalink),
            )  # fmt: skip
        except InvalidAnswers as invalid:
            ack(response_action="errors", errors={"field": invalid.errors[0].message})
            return
    ack()
    follow_milestones(services, state, section)
    refresh_hub(client, services, state)
    services.wake_delivery()


def _choices(values: Any) -> tuple[tuple[Section, str] | None, Mode | None]:
    """The field (section and path) and the mode picked in the form; None for anything the form cannot send."""

    def picked(block_id: str) -> str | None:
        entry = values.get(block_id) if isinstance(values, dict) else None
        element = entry.get(VALUE) if isinstance(entry, dict) else None
        option = element.get("selected_option") if isinstance(element, dict) else None
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    field, mode = picked("field"), picked("mode")
    section_value, _, path = (field or "").partition(":")
    section = next((s for s in Section if s.value == section_value), None)
    chosen = next((m for m in MODES if m == mode), None)
    return ((section, path) if section is not None and path else None), chosen


def register(app: App) -> None:
    app.shortcut(ADD_TO_PLAN, middleware=[channel_plan])(replies_to_errors(add_to_plan))
    app.view(ADD_TO_PLAN_SUBMIT)(replies_to_errors(add))
