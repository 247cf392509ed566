"""Buttons: the hub's section buttons and menu, the synthesis, and the milestone rows inside a modal."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot import discussion, plans
from bot.arguments import ArgumentError
from bot.blocks.help import menu_help_message, missing_sections_message, next_step_unavailable_message
from bot.blocks.hub import revise_message
from bot.blocks.inputs import read_state
from bot.blocks.modals import section_modal
from bot.blocks.synthesis import saved_outcome, synthesis_message
from bot.canvas import mirror_document, unavailable_notice
from bot.documents import upload_document
from bot.ids import (
    ADD_MILESTONE,
    CONFIRM_SAVE,
    MENU_CONTINUE,
    MENU_HELP,
    MENU_REVISE,
    OPEN_SECTION,
    REMOVE_MILESTONE,
)
from bot.listeners.common import (
    NO_PLAN,
    clicked_message_ts,
    client_key,
    ephemeral,
    refresh_hub,
    requester,
    section_form,
    state_values,
    text_value,
    trigger_id,
)
from bot.listeners.errors import replies_to_errors
from bot.metadata import ModalMetadata
from bot.services import Services
from steps.step3 import Section
from storage import repo
from storage.db import transaction

logger = logging.getLogger(__name__)


def _section(action: dict[str, Any]) -> Section:
    try:
        return Section(text_value(action))
    except ValueError:
        raise ArgumentError("This button is not one the bot made; nothing was done.") from None


def register(app: App, services: Services) -> None:
    @app.action(re.compile(f"^{OPEN_SECTION}:"))
    @replies_to_errors
    def open_section(
        ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient,
        respond: Respond,
    ) -> None:  # fmt: skip
        ack()
        who, section = requester(context), _section(action)
        with transaction(services.sessions) as session:
            state = plans.load(session, who.team_id, who.channel())
            if state is None:
                raise ArgumentError(NO_PLAN)
            view = section_form(session, state, section, who, client_key(client))
        client.views_open(trigger_id=trigger_id(body), view=view)

    @app.action(re.compile(f"^({ADD_MILESTONE}|{REMOVE_MILESTONE})$"))
    @replies_to_errors
    def change_milestone_rows(
        ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        who, view = requester(context), body.get("view")
        if not isinstance(view, dict):
            raise ArgumentError("This button belongs in a form; nothing was done.")
        key = client_key(client)
        meta = ModalMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
        step = 1 if action["action_id"] == ADD_MILESTONE else -1
        meta = meta.model_copy(update={"milestone_count": meta.milestone_count + step})
        # Rebuild from what is typed so far: nothing the person entered is lost.
        raw = read_state(state_values(view))
        with transaction(services.sessions) as session:
            plan = repo.get_plan(session, meta.plan_id)
            if plan is None or plan.team_id != meta.team_id:
                raise ArgumentError("This plan no longer exists; nothing was changed.")
            replies = discussion.latest_replies(session, plan, meta.section)
        updated = section_modal(meta, meta.dump(key), raw, replies)
        try:
            client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=updated)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("hash_conflict", "not_found"):
                raise
            # A second click landed before Slack showed the first one's rows, or the form was closed: either way
            # there is nothing left to update.
            logger.info("milestone rows not changed: %s", exc.response.get("error"))

    @app.action(MENU_CONTINUE)
    @replies_to_errors
    def continue_(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        who = requester(context)
        with transaction(services.sessions) as session:
            state = plans.load(session, who.team_id, who.channel())
            if state is None:
                raise ArgumentError(NO_PLAN)
            if state.missing:
                ephemeral(respond, body, missing_sections_message(state.missing))
                return
            message = _synthesis(session, state)
        client.chat_postMessage(channel=state.plan.channel_id, **message)

    @app.action(MENU_REVISE)
    @replies_to_errors
    def revise(ack: Ack, context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = requester(context)
        with transaction(services.sessions) as session:
            state = plans.load(session, who.team_id, who.channel())
        if state is None:
            raise ArgumentError(NO_PLAN)
        ephemeral(respond, body, revise_message(state.statuses))

    @app.action(MENU_HELP)
    @replies_to_errors
    def menu_help(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        ephemeral(respond, body, menu_help_message())

    @app.action(CONFIRM_SAVE)
    @replies_to_errors
    def confirm(
        ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient,
        respond: Respond,
    ) -> None:  # fmt: skip
        ack()
        who, fingerprint = requester(context), text_value(action)
        message_ts = clicked_message_ts(body)
        with transaction(services.sessions) as session:
            state = plans.load(session, who.team_id, who.channel())
            if state is None:
                raise ArgumentError(NO_PLAN)
            try:
                result = plans.confirm(session, state, fingerprint, who.user_id, services.today())
            except plans.StaleSynthesis:
                raise ArgumentError(
                    "The sections changed after this synthesis was posted, so it was not saved. "
                    "Press *[C]* on the Step 3 message for an up-to-date synthesis."
                ) from None
            outcome = saved_outcome(state.plan.name, result.document.version, who.user_id, unchanged=not result.created)
            updated = _synthesis(session, state, outcome)
            steps = list(state.plan.steps_completed)
        channel = state.plan.channel_id
        client.chat_update(channel=channel, ts=message_ts, **updated)
        if result.created:
            refresh_hub(client, state)
            upload_document(client, channel, state.plan.name, result.document, steps)
            mirror_to_canvas(client, services, state.plan.id, result.document.markdown)
        client.chat_postMessage(channel=channel, **next_step_unavailable_message())


def mirror_to_canvas(client: WebClient, services: Services, plan_id: int, markdown: str) -> None:
    """Keep the channel canvas equal to the document; where canvases are not possible, say so once."""
    with transaction(services.sessions) as session:
        plan = repo.get_plan(session, plan_id)
        assert plan is not None
        channel, canvas_id, unavailable = plan.channel_id, plan.canvas_id, plan.canvas_unavailable
    result = mirror_document(client, channel, canvas_id, unavailable, markdown)
    with transaction(services.sessions) as session:
        plan = repo.get_plan(session, plan_id)
        assert plan is not None
        plan.canvas_id, plan.canvas_unavailable = result.canvas_id, result.unavailable
    if result.newly_unavailable and result.unavailable:
        client.chat_postMessage(channel=channel, **unavailable_notice(result.unavailable))


def _synthesis(session: Session, state: plans.PlanState, outcome: str | None = None) -> dict[str, Any]:
    notes = discussion.summaries(session, state.plan)
    return synthesis_message(state.plan.name, *state.complete_answers(), state.fingerprint, outcome, notes)
