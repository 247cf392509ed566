"""Posting the plan document to a channel as a Markdown file."""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk import WebClient

from bot.blocks.synthesis import document_comment
from storage.records import DocumentRecord


def document_filename(plan_name: str, version: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan_name.lower()).strip("-") or "plan"
    return f"onboarding-flow-{slug}-v{version}.md"


def upload_document(
    client: WebClient, channel_id: str, plan_name: str, document: DocumentRecord, steps_completed: Sequence[str]
) -> None:
    # files_upload_v2 = files.getUploadURLExternal → upload → files.completeUploadExternal (files.upload is retired).
    client.files_upload_v2(
        channel=channel_id,
        content=document.markdown,
        filename=document_filename(plan_name, document.version),
        title=f"Onboarding Flow: {plan_name} (version {document.version})",
        initial_comment=document_comment(plan_name, document.version, document.created_by, steps_completed),
    )
