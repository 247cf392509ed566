"""The message shortcut "Add to onboarding plan": fold what someone said into a field of the plan."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import discussion, plans
from bot.blocks.help import notice
from bot.blocks.shortcut import add_to_plan_modal
from bot.ids import ADD_TO_PLAN, ADD_TO_PLAN_SUBMIT, COMMAND, VALUE
from bot.listeners.common import refresh_hub
from bot.metadata import ShortcutMetadata
from bot.services import Services
from steps.fields import current_text, text_fields, with_text
from steps.step3 import SECTION_MODELS, Section, parse_answers
from steps.validation import InvalidAnswers
from storage.db import transaction

# The message travels in the modal's private_metadata, which Slack caps at 3,000 characters.
MAX_METADATA = 3000


def _ephemeral(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, **notice(text))


def register(app: App, services: Services) -> None:
    @app.shortcut(ADD_TO_PLAN)
    def add_to_plan(ack: Ack, shortcut: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        message = shortcut.get("message") or {}
        author, text = message.get("user"), (message.get("text") or "").strip()
        if message.get("bot_id") or not author:
            _ephemeral(respond, "Only messages people wrote can be added to the plan.")
            return
        if not text:
            _ephemeral(respond, "This message has no text to add.")
            return
        channel = shortcut["channel"]["id"]
        with transaction(services.sessions) as session:
            state = plans.load(session, shortcut["team"]["id"], channel)
            if state is None:
                _ephemeral(respond, f"This channel has no onboarding plan. Start one with `{COMMAND} step3`.")
                return
            fields = {s: text_fields(s, state.raw(s)) for s in Section if s.value in state.rows}
            versions = {s: plans.version_of(state, s) for s in Section}
            plan_id = state.plan.id
        if not fields:
            _ephemeral(respond, "Answer a section of Step 3 first; then messages can be added to its answers.")
            return
        meta = ShortcutMetadata(
            plan_id=plan_id, channel_id=channel, message_ts=message["ts"], author=author, text=text, versions=versions
        )
        if len(meta.dump()) > MAX_METADATA:
            _ephemeral(respond, "This message is too long to add here; paste the key part into the section's form.")
            return
        client.views_open(trigger_id=shortcut["trigger_id"], view=add_to_plan_modal(author, text, fields, meta.dump()))

    @app.view(ADD_TO_PLAN_SUBMIT)
    def add(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = ShortcutMetadata.load(view["private_metadata"])
        values = view["state"]["values"]
        section_value, _, path = values["field"][VALUE]["selected_option"]["value"].partition(":")
        section = Section(section_value)
        mode = values["mode"][VALUE]["selected_option"]["value"]
        with transaction(services.sessions) as session:
            # A reply in a section's thread already has its link recorded; ask Slack only for other messages.
            known = discussion.find_reply(session, body["team"]["id"], meta.channel_id, meta.message_ts)
            permalink = known.permalink if known is not None else None
        if permalink is None:
            try:
                permalink = client.chat_getPermalink(channel=meta.channel_id, message_ts=meta.message_ts)["permalink"]
            except SlackApiError:
                permalink = None  # the value is still credited to its author
        with transaction(services.sessions) as session:
            state = plans.load(session, body["team"]["id"], meta.channel_id)
            if state is None or state.plan.id != meta.plan_id or section.value not in state.rows:
                ack(response_action="errors", errors={"field": "This plan or section no longer exists here."})
                return
            if plans.version_of(state, section) != meta.versions[section]:
                ack(
                    response_action="errors",
                    errors={"field": f"Someone changed {section.title} after you opened this, so nothing was saved. "
                                     "Run the shortcut again to add the message to the current answers."},
                )  # fmt: skip
                return
            raw = state.raw(section)
            if mode == "append" and current_text(raw, path) and meta.text in (current_text(raw, path) or ""):
                ack(response_action="errors", errors={"field": "This answer already contains the message."})
                return
            try:
                answers = parse_answers(SECTION_MODELS[section], with_text(raw, path, meta.text, mode))
            except InvalidAnswers as invalid:
                ack(response_action="errors", errors={"field": invalid.errors[0].message})
                return
            state, _ = plans.save_and_announce(
                session, state, section, answers, body["user"]["id"], services.clock(), (meta.author, permalink)
            )
        ack()
        refresh_hub(client, state)
        services.wake_delivery()
