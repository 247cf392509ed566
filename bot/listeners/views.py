"""Modal submissions: validate every answer, refuse edits made on a stale form, save, announce the diff."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import plans
from bot.blocks.inputs import errors_for_view, read_state
from bot.blocks.modals import Conflict
from bot.ids import SECTION_CALLBACK
from bot.listeners.common import client_key, follow_milestones, refresh_hub, requester, section_form, state_values
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from bot.metadata import ModalMetadata
from steps.step3 import SECTION_MODELS, Section, parse_answers
from steps.validation import FieldError, InvalidAnswers
from storage.db import transaction


def answers_from_state(section: Section, values: Any) -> dict[str, Any]:
    raw = read_state(values)
    rows = raw.get("custom_factors")
    if section is Section.HEALTH and isinstance(rows, list):
        # Custom-factor rows are offered blank; a row nobody filled in is not a factor.
        raw["custom_factors"] = [
            row for row in rows if isinstance(row, dict) and any(v not in (None, "") for v in row.values())
        ]
    return raw


def submit_section(ack: Ack, context: BoltContext, view: dict[str, Any], client: WebClient) -> None:
    services, who, key = services_of(context), requester(context), client_key(client)
    meta = ModalMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
    try:
        answers = parse_answers(SECTION_MODELS[meta.section], answers_from_state(meta.section, state_values(view)))
    except InvalidAnswers as invalid:
        ack(response_action="errors", errors=errors_for_view(view, invalid.errors))
        return
    with transaction(services.sessions) as session:
        state = plans.load(session, meta.team_id, meta.channel_id)
        if state is None or state.plan.id != meta.plan_id:
            gone = [FieldError((), "This plan no longer exists in this workspace; nothing was saved.")]
            ack(response_action="errors", errors=errors_for_view(view, gone))
            return
        try:
            state, _ = plans.save_if_current(
                session, state, meta.section, answers, meta.section_version, who.user_id, services.clock()
            )
        except plans.StaleSection as stale:
            # Saved by someone else since this form opened: never overwrite it silently.
            conflict = Conflict(users=stale.users, fields=stale.fields)
            ack(response_action="update", view=section_form(session, state, meta.section, who, key, conflict))
            return
    ack()
    follow_milestones(services, state, meta.section)
    refresh_hub(client, services, state)
    services.wake_delivery()


def register(app: App) -> None:
    app.view(SECTION_CALLBACK)(replies_to_errors(submit_section))
