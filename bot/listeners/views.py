"""Modal submissions: validate every answer, refuse edits made on a stale form, save, announce the diff."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot import customers, discussion, plans
from bot.blocks.changes import change_announcement
from bot.blocks.inputs import errors_for_view, read_state
from bot.blocks.modals import Conflict
from bot.ids import SECTION_CALLBACK
from bot.listeners.common import refresh_hub, section_form
from bot.metadata import ModalMetadata
from bot.services import Services
from steps.fields import FieldChange, diff_answers
from steps.step3 import SECTION_MODELS, Answers, Section, parse_answers
from steps.validation import FieldError, InvalidAnswers
from storage import outbox
from storage.db import transaction


def answers_from_state(section: Section, values: dict[str, Any]) -> dict[str, Any]:
    raw = read_state(values)
    if section is Section.HEALTH:
        # Custom-factor rows are offered blank; a row nobody filled in is not a factor.
        raw["custom_factors"] = [
            row for row in raw.get("custom_factors") or [] if row and any(v not in (None, "") for v in row.values())
        ]
    return raw


def save_and_announce(
    session: Session,
    state: plans.PlanState,
    section: Section,
    answers: Answers,
    user_id: str,
    services: Services,
    source: tuple[str, str | None] | None = None,
) -> tuple[plans.PlanState, list[FieldChange]]:
    """Save a section; record each changed field in the history and announce the diff in the section's thread."""
    now = services.clock()
    before = state.raw(section)
    state = plans.save_section(session, state, section, answers, user_id, now)
    changes = diff_answers(before or None, state.raw(section))
    plans.record_changes(session, state, section, changes, user_id, now, source)
    thread = discussion.threads(session, state.plan).get(section)
    if changes and thread is not None:
        version = plans.version_of(state, section)
        outbox.enqueue(
            session, team_id=state.plan.team_id, channel_id=thread.channel_id, plan_id=state.plan.id,
            key=f"change:{state.plan.id}:{section.value}:{version}", thread_ts=thread.ts, now=now,
            message=change_announcement(section, user_id, version, changes, source),
        )  # fmt: skip
    if section is Section.MILESTONES:
        ready = customers.runnable(session, state.plan)
        if ready is not None:
            customers.reschedule_after_plan_edit(session, ready, now)
    return state, changes


def register(app: App, services: Services) -> None:
    @app.view(SECTION_CALLBACK)
    def submit_section(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = ModalMetadata.load(view["private_metadata"])
        team_id, user_id = body["team"]["id"], body["user"]["id"]
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
            if plans.version_of(state, meta.section) != meta.section_version:
                # Saved by someone else since this form opened: never overwrite it silently.
                newer = plans.changes_since(session, state.plan, meta.section, meta.section_version)
                conflict = Conflict(
                    users=list(dict.fromkeys(c.user_id for c in newer)),
                    fields=list(dict.fromkeys((c.path, c.label) for c in newer)),
                )
                ack(response_action="update", view=section_form(session, state, meta.section, conflict))
                return
            state, _ = save_and_announce(session, state, meta.section, answers, user_id, services)
        ack()
        refresh_hub(client, state)
        services.wake_delivery()
