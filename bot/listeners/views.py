"""Modal submissions: validate every answer, refuse edits made on a stale form, save, announce the diff."""

from __future__ import annotations

from dataclasses import replace
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
from steps.errors import UserError
from steps.step3 import Section
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
    typed = answers_from_state(meta.section, state_values(view))
    form = plans.Form(meta.section, meta.milestone, meta.adding, meta.milestone_count)
    with transaction(services.sessions) as session:
        state = plans.load(session, meta.team_id, meta.channel_id)
        if state is None or state.plan.id != meta.plan_id:
            gone = [FieldError((), "This plan no longer exists in this workspace; nothing was saved.")]
            ack(response_action="errors", errors=errors_for_view(view, gone))
            return
        try:
            saved = plans.save_form(session, state, form, typed, meta.section_version, who.user_id, services.clock())
        except InvalidAnswers as invalid:
            ack(response_action="errors", errors=errors_for_view(view, _on_this_form(invalid.errors, meta)))
            return
        except UserError as refused:
            ack(response_action="errors", errors=errors_for_view(view, [FieldError((), refused.plain())]))
            return
        state = saved.state
        if saved.refused:
            # Saved by someone else too: their values stay, this person's are kept in the form to save or drop.
            again = replace(form, milestone=saved.index, adding=False) if saved.index is not None else form
            conflict = Conflict(users=list(saved.others), saved={r.path: r.saved for r in saved.refused})
            typed_back = {r.path: r.typed for r in saved.refused}
            ack(response_action="update", view=section_form(session, state, again, who, key, conflict, typed_back))
    if not saved.refused:
        ack()
    follow_milestones(services, state, meta.section)
    refresh_hub(client, services, state)
    services.wake_delivery()


def _on_this_form(errors: list[FieldError], meta: ModalMetadata) -> list[FieldError]:
    """A new milestone is saved after the last one there is then, which may not be the row the form shows."""
    if meta.milestone is None:
        return errors
    return [
        FieldError(("milestones", meta.milestone, *e.loc[2:]), e.message) if e.loc[:1] == ("milestones",) else e
        for e in errors
    ]


def register(app: App) -> None:
    app.view(SECTION_CALLBACK)(replies_to_errors(submit_section))
