"""The plan document outside Slack: posted to a channel as a Markdown file, and printed by ``export``.

The stored document names people by Slack mention (``<@U123>``): an identity that survives renames, which Slack and
the channel canvas show as the person's current name. A file or an export is read where a mention means nothing, so
there each one becomes the name Slack last gave for that person, kept in storage so ``export`` needs no Slack.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.synthesis import document_comment
from bot.services import Services
from steps.document import mentioned_users, with_names
from storage import people
from storage.db import Session, transaction
from storage.records import DocumentRecord, PlanRecord

logger = logging.getLogger(__name__)

# A name read from Slack is used for a day before it is read again: people rename themselves, rarely.
NAME_FRESH_FOR = timedelta(days=1)
MAX_NAME = 200  # the people table's column


def document_filename(plan_name: str, version: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan_name.lower()).strip("-") or "plan"
    return f"onboarding-flow-{slug}-v{version}.md"


def readable_document(session: Session, team_id: str, markdown: str) -> str:
    """The document with each mention shown as the person's stored name (or a readable stand-in)."""
    known = people.known(session, team_id, mentioned_users(markdown))
    return with_names(markdown, {user_id: person.name for user_id, person in known.items()})


def learn_names(client: WebClient, services: Services, team_id: str, markdown: str) -> None:
    """Read from Slack (``users.info``) the names of the people a saved document mentions that are not known yet or
    were read over a day ago. Slow Slack calls: only ever after the ack.

    A person Slack will not describe (deleted, an error, a rate limit that outlasts the retries) is skipped: the
    document shows a stand-in, and the next save asks again.
    """
    now = services.clock()
    user_ids = mentioned_users(markdown)
    with transaction(services.sessions) as session:
        known = people.known(session, team_id, user_ids)
    due = [user for user in user_ids if user not in known or now - known[user].updated_at >= NAME_FRESH_FOR]
    found: dict[str, str] = {}
    for user_id in due:
        try:
            name = _name(client.users_info(user=user_id).get("user"))
        except SlackApiError as exc:
            logger.warning("no name for %s: %s", user_id, exc.response.get("error"))
            continue
        if name is not None:
            found[user_id] = name
    if found:
        with transaction(services.sessions) as session:
            for user_id, name in found.items():
                people.remember(session, team_id, user_id, name, now)


def _name(user: Any) -> str | None:
    """The real name first: read outside Slack, "Alice Smith" says who it is where a handle such as "alice" may not."""
    if not isinstance(user, dict):
        return None
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    for candidate in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:MAX_NAME]
    return None


def upload_document(client: WebClient, services: Services, plan: PlanRecord, document: DocumentRecord) -> None:
    """Post the document as a file, naming people by the names stored for them."""
    with transaction(services.sessions) as session:
        content = readable_document(session, plan.team_id, document.markdown)
    # files_upload_v2 = files.getUploadURLExternal → upload → files.completeUploadExternal (files.upload is retired).
    client.files_upload_v2(
        channel=plan.channel_id,
        content=content,
        filename=document_filename(plan.name, document.version),
        title=f"Onboarding Flow: {plan.name} (version {document.version})",
        initial_comment=document_comment(plan.name, document.version, document.created_by, plan.steps_completed),
    )
