"""Section threads: where they are, and the replies the team posts, edits and deletes in them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.blocks.modals import Reply
from steps.outline import DiscussionNote
from steps.step3 import Section
from storage.models import DiscussionMessage, Plan, SectionThread

SHOWN_IN_MODAL = 5


def threads(session: Session, plan: Plan) -> dict[Section, SectionThread]:
    rows = session.scalars(select(SectionThread).where(SectionThread.plan_id == plan.id))
    return {Section(row.section): row for row in rows}


def add_thread(session: Session, plan: Plan, section: Section, ts: str) -> None:
    try:
        with session.begin_nested():
            session.add(
                SectionThread(
                    team_id=plan.team_id, plan_id=plan.id, section=section.value, channel_id=plan.channel_id, ts=ts
                )
            )
    except IntegrityError:
        pass  # a concurrent /onboarding step3 started this section's thread first


def thread_at(session: Session, team_id: str, channel_id: str, thread_ts: str) -> SectionThread | None:
    return session.scalar(
        select(SectionThread).where(
            SectionThread.team_id == team_id, SectionThread.channel_id == channel_id, SectionThread.ts == thread_ts
        )
    )


def slack_time(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def record_reply(
    session: Session, thread: SectionThread, *, ts: str, user_id: str, text: str, permalink: str | None
) -> None:
    """Store a reply once, however often Slack delivers it."""
    values = {
        "team_id": thread.team_id, "plan_id": thread.plan_id, "section": thread.section,
        "channel_id": thread.channel_id, "ts": ts, "thread_ts": thread.ts, "user_id": user_id, "text": text,
        "permalink": permalink, "posted_at": slack_time(ts),
    }  # fmt: skip
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(DiscussionMessage).values(values).on_conflict_do_nothing(index_elements=["team_id", "channel_id", "ts"])
    )


def find_reply(session: Session, team_id: str, channel_id: str, ts: str) -> DiscussionMessage | None:
    return session.scalar(
        select(DiscussionMessage).where(
            DiscussionMessage.team_id == team_id, DiscussionMessage.channel_id == channel_id, DiscussionMessage.ts == ts
        )
    )


def latest_replies(session: Session, plan: Plan, section: Section, limit: int = SHOWN_IN_MODAL) -> list[Reply]:
    rows = session.scalars(
        select(DiscussionMessage)
        .where(
            DiscussionMessage.plan_id == plan.id,
            DiscussionMessage.section == section.value,
            DiscussionMessage.deleted_at.is_(None),
        )
        .order_by(DiscussionMessage.posted_at.desc(), DiscussionMessage.id.desc())
        .limit(limit)
    )
    return [Reply(r.user_id, r.text, r.posted_at, r.permalink, r.edited_at is not None) for r in rows]


def summaries(session: Session, plan: Plan) -> dict[Section, DiscussionNote]:
    """Sections whose thread has replies, with a link into the thread."""
    rows = session.execute(
        select(DiscussionMessage.section, func.count(), func.min(DiscussionMessage.permalink))
        .where(DiscussionMessage.plan_id == plan.id, DiscussionMessage.deleted_at.is_(None))
        .group_by(DiscussionMessage.section)
    )
    return {Section(section): DiscussionNote(count, link) for section, count, link in rows}
