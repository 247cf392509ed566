"""Section threads: where they are, and the replies the team posts, edits and deletes in them."""

from __future__ import annotations

from datetime import UTC, datetime

from steps.fields import folded_text
from steps.outline import Credit, DiscussionNote
from steps.step3 import Section
from storage import discussion as store
from storage import repo
from storage.db import Session
from storage.records import PlanRecord, ReplyRecord, ThreadRecord

SHOWN_IN_MODAL = 5


def threads(session: Session, plan: PlanRecord) -> dict[Section, ThreadRecord]:
    return {Section(section): thread for section, thread in store.threads(session, plan.id).items()}


def add_thread(session: Session, plan: PlanRecord, section: Section, ts: str) -> None:
    store.add_thread(session, plan, section.value, ts)


def slack_time(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def is_section_thread(session: Session, team_id: str, channel_id: str, thread_ts: str) -> bool:
    return store.thread_at(session, team_id, channel_id, thread_ts) is not None


def record_reply(
    session: Session, team_id: str, channel_id: str, thread_ts: str, *, ts: str, user_id: str, text: str,
    permalink: str | None,
) -> None:  # fmt: skip
    """Keep a reply posted in a section's thread (once, however often Slack delivers it)."""
    thread = store.thread_at(session, team_id, channel_id, thread_ts)
    if thread is not None:
        store.add_reply(
            session, thread, ts=ts, user_id=user_id, text=text, permalink=permalink, posted_at=slack_time(ts)
        )


def edit_reply(session: Session, team_id: str, channel_id: str, ts: str, text: str, at_ts: str) -> None:
    store.edit_reply(session, team_id, channel_id, ts, text, slack_time(at_ts))


def delete_reply(session: Session, team_id: str, channel_id: str, ts: str, at_ts: str) -> None:
    store.delete_reply(session, team_id, channel_id, ts, slack_time(at_ts))


def known_permalink(session: Session, team_id: str, channel_id: str, ts: str) -> str | None:
    return store.reply_permalink(session, team_id, channel_id, ts)


def latest_replies(
    session: Session, plan: PlanRecord, section: Section, limit: int = SHOWN_IN_MODAL
) -> list[ReplyRecord]:
    return store.latest_replies(session, plan.id, section.value, limit)


def summaries(session: Session, plan: PlanRecord) -> dict[Section, DiscussionNote]:
    """Sections whose thread has replies, with a link into the thread."""
    return {
        Section(section): DiscussionNote(count, link)
        for section, (count, link) in store.reply_counts(session, plan.id).items()
    }


def credits(session: Session, plan: PlanRecord) -> dict[str, list[Credit]]:
    """Text folded into the answers from Slack messages (the message shortcut), by the answer's path, with its author
    and link; the document credits each piece of it that the answer still contains."""
    found: dict[str, list[Credit]] = {}
    for change in repo.sourced_changes(session, plan):
        if change.new:
            text = folded_text(change.old, change.new)
            found.setdefault(change.path, []).append(Credit(text, change.author, change.permalink))
    return found
