"""Small helpers the listeners share."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot import discussion, plans
from bot.blocks.hub import hub_message
from bot.blocks.modals import Conflict, section_modal
from bot.metadata import ModalMetadata
from bot.plans import PlanState
from steps.step3 import Section

logger = logging.getLogger(__name__)


def refresh_hub(client: WebClient, state: PlanState) -> None:
    """Show new section status on the hub message; a deleted hub is not worth failing a save for."""
    if state.plan.hub_ts is None:
        return
    message = hub_message(state.plan.name, state.statuses, state.plan.steps_completed)
    try:
        client.chat_update(channel=state.plan.channel_id, ts=state.plan.hub_ts, **message)
    except SlackApiError as exc:
        logger.warning("could not update the hub message of plan %s: %s", state.plan.id, exc.response.get("error"))


def section_form(session: Session, state: PlanState, section: Section, conflict: Conflict | None = None) -> dict:
    """A section's form as saved now: answers, version, and the latest replies in its thread."""
    raw = state.raw(section)
    meta = ModalMetadata(
        plan_id=state.plan.id,
        channel_id=state.plan.channel_id,
        plan_name=state.plan.name,
        section=section,
        milestone_count=len(raw.get("milestones") or []),
        section_version=plans.version_of(state, section),
    )
    return section_modal(meta, raw, discussion.latest_replies(session, state.plan, section), conflict)
