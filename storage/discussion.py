"""Section threads and the replies posted, edited and deleted in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DiscussionMessage, SectionThread
from storage.records import PlanRecord, ReplyRecord, ThreadRecord


def _thread(row: SectionThread) -> ThreadRecord:
    return ThreadRecord(row.team_id, row.plan_id, row.section, row.channel_id, row.ts)


def threads(session: Session, plan_id: int) -> dict[str, ThreadRecord]:
    """The plan's section threads by section."""
    rows = session.scalars(select(SectionThread).where(SectionThread.plan_id == plan_id))
    return {row.section: _thread(row) for row in rows}


def add_thread(session: Session, plan: PlanRecord, section: str, ts: str) -> None:
    try:
        with session.begin_nested():
            session.add(
                SectionThread(team_id=plan.team_id, plan_id=plan.id, section=section, channel_id=plan.channel_id, ts=ts)
            )
    except IntegrityError:
        pass  # a concurrent /onboarding step3 started this section's thread first


def thread_at(session: Session, team_id: str, channel_id: str, thread_ts: str) -> ThreadRecord | None:
    row = session.scalar(
        select(SectionThread).where(
            SectionThread.team_id == team_id, SectionThread.channel_id == channel_id, SectionThread.ts == thread_ts
        )
    )
    return None if row is None else _thread(row)


def add_reply(
    session: Session,
    thread: ThreadRecord,
    *,
    ts: str,
    user_id: str,
    text: str,
    permalink: str | None,
    posted_at: datetime,
) -> None:
    """Store a reply once, however often Slack delivers it."""
    values = {
        "team_id": thread.team_id, "plan_id": thread.plan_id, "section": thread.section,
        "channel_id": thread.channel_id, "ts": ts, "thread_ts": thread.ts, "user_id": user_id, "text": text,
        "permalink": permalink, "posted_at": posted_at,
    }  # fmt: skip
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(DiscussionMessage).values(values).on_conflict_do_nothing(index_elements=["team_id", "channel_id", "ts"])
    )


def _live_reply(team_id: str, channel_id: str, ts: str) -> tuple[ColumnElement[bool], ...]:
    return (
        DiscussionMessage.team_id == team_id,
        DiscussionMessage.channel_id == channel_id,
        DiscussionMessage.ts == ts,
        DiscussionMessage.deleted_at.is_(None),
    )


def edit_reply(session: Session, team_id: str, channel_id: str, ts: str, text: str, at: datetime) -> None:
    """A recorded reply's new text; a reply never recorded, or deleted since, stays as it is."""
    session.execute(
        update(DiscussionMessage).where(*_live_reply(team_id, channel_id, ts)).values(text=text, edited_at=at)
    )


def delete_reply(session: Session, team_id: str, channel_id: str, ts: str, at: datetime) -> None:
    session.execute(update(DiscussionMessage).where(*_live_reply(team_id, channel_id, ts)).values(deleted_at=at))


def reply_permalink(session: Session, team_id: str, channel_id: str, ts: str) -> str | None:
    """The link recorded with a reply, if the message is a reply the bot recorded."""
    return session.scalar(
        select(DiscussionMessage.permalink).where(
            DiscussionMessage.team_id == team_id, DiscussionMessage.channel_id == channel_id, DiscussionMessage.ts == ts
        )
    )


def latest_replies(session: Session, plan_id: int, section: str, limit: int) -> list[ReplyRecord]:
    rows = session.scalars(
        select(DiscussionMessage)
        .where(
            DiscussionMessage.plan_id == plan_id,
            DiscussionMessage.section == section,
            DiscussionMessage.deleted_at.is_(None),
        )
        .order_by(DiscussionMessage.posted_at.desc(), DiscussionMessage.id.desc())
        .limit(limit)
    )
    return [ReplyRecord(r.user_id, r.text, r.posted_at, r.permalink, r.edited_at is not None) for r in rows]


def reply_counts(session: Session, plan_id: int) -> dict[str, tuple[int, str | None]]:
    """Per section with replies: how many, and a link into its thread."""
    rows = session.execute(
        select(DiscussionMessage.section, func.count(), func.min(DiscussionMessage.permalink))
        .where(DiscussionMessage.plan_id == plan_id, DiscussionMessage.deleted_at.is_(None))
        .group_by(DiscussionMessage.section)
    )
    return {section: (count, link) for section, count, link in rows}
