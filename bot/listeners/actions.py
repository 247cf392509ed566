"""Buttons: the hub's sections, milestone rows and menu, the synthesis, and custom factor rows inside a form."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import discussion, plans
from bot.blocks.help import (
    menu_help_message,
    missing_sections_message,
    next_step_unavailable_message,
    save_first_message,
)
from bot.blocks.hub import revise_message
from bot.blocks.inputs import read_state
from bot.blocks.modals import ZONE, section_modal
from bot.blocks.synthesis import saved_outcome, synthesis_blocks, synthesis_message, synthesis_modal
from bot.canvas import mirror_document, unavailable_notice
from bot.documents import learn_names, upload_document
from bot.ids import (
    ADD_FACTOR,
    ADD_MILESTONE,
    CONFIRM_SAVE,
    EDIT_MILESTONE,
    MENU_CONTINUE,
    MENU_HELP,
    MENU_REVISE,
    OPEN_SECTION,
    REMOVE_FACTOR,
    REMOVE_MILESTONE,
    REVIEW_SAVE,
    VIEW_SYNTHESIS,
)
from bot.listeners.common import (
    clicked_message_ts,
    client_key,
    ephemeral,
    follow_milestones,
    refresh_hub,
    requester,
    section_form,
    slack_zone,
    state_values,
    text_value,
    trigger_id,
)
from bot.listeners.context import channel_plan, later, plan_of, services_of
from bot.listeners.errors import replies_to_errors
from bot.listeners.request_thread import InRequestThread
from bot.metadata import ModalMetadata
from bot.plans import PlanState
from bot.services import Services
from steps.errors import UserError
from steps.step3 import MAX_MILESTONES, STEP_ID, Section
from storage.db import read_only, transaction

logger = logging.getLogger(__name__)


def _section(action: dict[str, Any]) -> Section:
    try:
        return Section(text_value(action))
    except ValueError:
        raise UserError("This button is not one the bot made; nothing was done.") from None


def _open_form(context: BoltContext, body: dict[str, Any], client: WebClient, form: plans.Form) -> None:
    who, state = requester(context), plan_of(context)
    # Only the health model asks for a time zone: until one is saved, it starts at the opener's own.
    asks_zone = form.section is Section.HEALTH and not state.raw(form.section).get(ZONE)
    zone = slack_zone(client, who.user_id) if asks_zone else None
    with read_only(services_of(context).sessions) as session:
        view = section_form(session, state, form, who, client_key(client), zone=zone)
    client.views_open(trigger_id=trigger_id(body), view=view)


def open_section(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
) -> None:
    """A section's form; for milestones, the questions asked across all milestones (each milestone has its own)."""
    ack()
    _open_form(context, body, client, plans.Form(_section(action)))


def edit_milestone(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
) -> None:
    ack()
    value, count = text_value(action), len(plan_of(context).milestones)
    if not (value.isascii() and value.isdigit() and int(value[:2]) < count):
        raise UserError("This milestone is no longer in the plan; the Step 3 message lists the current ones.")
    _open_form(context, body, client, plans.Form(Section.MILESTONES, milestone=int(value)))


def add_milestone(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient) -> None:
    ack()
    count = len(plan_of(context).milestones)
    if count >= MAX_MILESTONES:
        raise UserError(f"The plan already has {MAX_MILESTONES} milestones, the most it can have.")
    _open_form(context, body, client, plans.Form(Section.MILESTONES, milestone=count, adding=True))


def remove_milestone(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
) -> None:
    """Remove the milestone picked in the hub's menu, as of the version the menu showed."""
    ack()
    services, who = services_of(context), requester(context)
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    index, _, version = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not (index.isascii() and index.isdigit() and version.isascii() and version.isdigit() and len(version) < 10):
        raise UserError("This menu is not one the bot made; nothing was done.")
    state = plan_of(context)
    try:
        with transaction(services.sessions) as session:
            state = plans.remove_milestone(session, state, int(index[:2]), int(version), who.user_id, services.clock())
    except UserError:
        refresh_hub(client, services, state)  # the menu was out of date: show the milestones as they are
        raise
    follow_milestones(services, state, Section.MILESTONES)
    refresh_hub(client, services, state)
    services.wake_delivery()


def change_rows(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
) -> None:
    """Add or remove a custom factor in an open form, keeping everything typed so far."""
    ack()
    who, view = requester(context), body.get("view")
    if not isinstance(view, dict):
        raise UserError("This button belongs in a form; nothing was done.")
    key = client_key(client)
    meta = ModalMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
    step = 1 if action["action_id"] == ADD_FACTOR else -1
    meta = ModalMetadata.model_validate({**meta.model_dump(), "factor_count": meta.factor_count + step})
    # Rebuild from what is typed so far: nothing the person entered is lost.
    raw = read_state(state_values(view))
    with transaction(services_of(context).sessions) as session:
        plan = plans.in_team(session, meta.team_id, meta.plan_id)
        replies = discussion.latest_replies(session, plan, meta.section)
    updated = section_modal(meta, meta.dump(key), raw, replies)
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("hash_conflict", "not_found"):
            raise
        # A second click landed before Slack showed the first one's rows, or the form was closed: either way
        # there is nothing left to update.
        logger.info("custom factor rows not changed: %s", exc.response.get("error"))


def _all_answered(state: PlanState, respond: Respond, body: dict[str, Any]) -> bool:
    """Whether every section is answered; if not, the person who clicked hears which are missing."""
    if state.missing:
        ephemeral(respond, body, missing_sections_message(state.missing))
        return False
    return True


def review(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Review and save: the synthesis, for the team to confirm."""
    ack()
    state = plan_of(context)
    if _all_answered(state, respond, body):
        client.chat_postMessage(channel=state.plan.channel_id, **_synthesis(state))


def continue_(ack: Ack, context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
    """[C]: on to Step 4, which this version does not have yet; only the person who clicked needs to hear it."""
    ack()
    state = plan_of(context)
    if STEP_ID not in state.plan.steps_completed:
        missing = state.missing
        ephemeral(respond, body, missing_sections_message(missing) if missing else save_first_message())
        return
    ephemeral(respond, body, next_step_unavailable_message())


def revise(ack: Ack, context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
    ack()
    ephemeral(respond, body, revise_message(plan_of(context)))


def menu_help(ack: Ack, context: BoltContext, body: dict[str, Any], respond: Respond) -> None:
    ack()
    later(context, ephemeral, respond, body, menu_help_message())


answer_menu_help = replies_to_errors(menu_help)


def confirm(ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
    ack()
    services, who, fingerprint = services_of(context), requester(context), text_value(action)
    message_ts = clicked_message_ts(body)
    with transaction(services.sessions) as session:
        state = plans.reload(session, plan_of(context))
        result = plans.confirm(session, state, fingerprint, who.user_id, services.today())
        state = plans.reload(session, state)
        outcome = saved_outcome(state.plan.name, result.document.version, who.user_id, unchanged=not result.created)
        updated = _synthesis(state, outcome)
    channel = state.plan.channel_id
    client.chat_update(channel=channel, ts=message_ts, **updated)
    if result.created:
        refresh_hub(client, services, state)
        learn_names(client, services, state.plan.team_id, result.document.markdown)
        upload_document(client, services, state.plan, result.document)
        mirror_to_canvas(client, services, state.plan.team_id, state.plan.id, result.document.markdown)


def mirror_to_canvas(client: WebClient, services: Services, team_id: str, plan_id: int, markdown: str) -> None:
    """Keep the channel canvas equal to the document; where canvases are not possible, say so once."""
    with transaction(services.sessions) as session:
        plan = plans.in_team(session, team_id, plan_id)
    result = mirror_document(client, plan.channel_id, plan.canvas_id, plan.canvas_unavailable, markdown)
    with transaction(services.sessions) as session:
        plans.set_canvas(session, plan, result.canvas_id, result.unavailable)
    if result.newly_unavailable and result.unavailable:
        client.chat_postMessage(channel=plan.channel_id, **unavailable_notice(result.unavailable))


def _synthesis(state: PlanState, outcome: str | None = None) -> dict[str, Any]:
    return synthesis_message(state.plan.name, *state.complete_answers(), state.fingerprint, outcome)


def view_synthesis(ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Every answer of the synthesis, in a modal for whoever wants to read it all before confirming."""
    ack()
    state = plan_of(context)
    if not _all_answered(state, respond, body):
        return
    with transaction(services_of(context).sessions) as session:
        notes = discussion.summaries(session, state.plan)
    blocks = synthesis_blocks(*state.complete_answers(), notes)
    client.views_open(trigger_id=trigger_id(body), view=synthesis_modal(state.plan.name, blocks))


def register(app: App) -> None:
    app.action(re.compile(f"^{OPEN_SECTION}:"), middleware=[channel_plan])(replies_to_errors(open_section))
    app.action(re.compile(f"^{EDIT_MILESTONE}:"), middleware=[channel_plan])(replies_to_errors(edit_milestone))
    app.action(ADD_MILESTONE, middleware=[channel_plan])(replies_to_errors(add_milestone))
    app.action(REMOVE_MILESTONE, middleware=[channel_plan])(replies_to_errors(remove_milestone))
    app.action(re.compile(f"^({ADD_FACTOR}|{REMOVE_FACTOR})$"))(replies_to_errors(change_rows))
    app.action(MENU_CONTINUE, middleware=[channel_plan])(replies_to_errors(continue_))
    app.action(REVIEW_SAVE, middleware=[channel_plan])(replies_to_errors(review))
    app.action(VIEW_SYNTHESIS, middleware=[channel_plan])(replies_to_errors(view_synthesis))
    app.action(MENU_REVISE, middleware=[channel_plan])(replies_to_errors(revise))
    # Acked in its request's thread; the help goes to the response_url from the pool (``later``).
    app.action(MENU_HELP, middleware=[InRequestThread(answer_menu_help)])(answer_menu_help)
    app.action(CONFIRM_SAVE, middleware=[channel_plan])(replies_to_errors(confirm))
