"""What the bot posts on its own: rendered from ``bot.blocks`` and queued in the outbox, in the caller's transaction.

The use cases decide what happened and hand the facts here; the delivery worker sends the posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.blocks.changes import change_announcement
from steps.fields import FieldChange
from steps.step3 import Section
from storage import outbox
from storage.db import Session
from storage.records import PlanRecord, ThreadRecord


def section_changed(
    session: Session,
    plan: PlanRecord,
    thread: ThreadRecord,
    section: Section,
    version: int,
    changes: Sequence[FieldChange],
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> None:
    """The diff of one save, as a reply in the section's thread."""
    outbox.enqueue(
        session, team_id=plan.team_id, channel_id=thread.channel_id, plan_id=plan.id,
        key=f"change:{plan.id}:{section.value}:{version}", thread_ts=thread.ts, now=now,
        message=change_announcement(section, user_id, version, changes, source),
    )  # fmt: skip
