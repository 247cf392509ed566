"""Modal submissions: validate every answer, save the section, refresh the hub."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import customers, plans
from bot.blocks.inputs import errors_for_view, read_state
from bot.ids import SECTION_CALLBACK
from bot.listeners.common import refresh_hub
from bot.metadata import ModalMetadata
from bot.services import Services
from steps.step3 import SECTION_MODELS, Section, parse_answers
from steps.validation import FieldError, InvalidAnswers
from storage.db import transaction


def answers_from_state(section: Section, values: dict[str, Any]) -> dict[str, Any]:
    raw = read_state(values)
    if section is Section.HEALTH:
        # Custom-factor rows are offered blank; a row nobody filled in is not a factor.
        raw["custom_factors"] = [
            row for row in raw.get("custom_factors") or [] if row and any(v not in (None, "") for v in row.values())
        ]
    return raw


def register(app: App, services: Services) -> None:
    @app.view(SECTION_CALLBACK)
    def submit_section(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = ModalMetadata.load(view["private_metadata"])
        team_id = body["team"]["id"]
        try:
            answers = parse_answers(
                SECTION_MODELS[meta.section], answers_from_state(meta.section, view["state"]["values"])
            )
        except InvalidAnswers as invalid:
            ack(response_action="errors", errors=errors_for_view(view, invalid.errors))
            return
        with transaction(services.sessions) as session:
            state = plans.load(session, team_id, meta.channel_id)
            if state is None or state.plan.id != meta.plan_id:
                gone = [FieldError((), "This plan no longer exists in this workspace; nothing was saved.")]
                ack(response_action="errors", errors=errors_for_view(view, gone))
                return
            now = services.clock()
            state = plans.save_section(session, state, meta.section, answers, body["user"]["id"], now)
            ready = customers.runnable(session, state.plan) if meta.section is Section.MILESTONES else None
            if ready is not None:
                customers.reschedule_after_plan_edit(session, ready, now)
        ack()
        refresh_hub(client, state)
