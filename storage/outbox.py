"""Outbox queries: posts are enqueued in the caller's transaction and claimed, sent and settled by a deliverer.

Statuses: ``pending`` (waiting for ``next_attempt_at``), ``sending`` (claimed by ``claimed_by``), ``sent``, ``failed``.
A ``sending`` item whose worker died (``claimed_at`` older than the lease) or whose last attempt ended without a
verdict from Slack (``claimed_by`` cleared, see :func:`mark_unknown`) may already be in Slack, so it is claimed back
as ``recovered`` and must be looked up before it is posted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from storage.models import OutboxMessage

# Set by the deliverer itself; a message carrying them would clash with its own arguments.
RESERVED_MESSAGE_KEYS = frozenset({"channel", "thread_ts", "metadata"})
ERROR_LENGTH = 200  # OutboxMessage.error is String(200)


@dataclass(frozen=True)
class Claimed:
    """What a sender needs once the claiming session is closed."""

    item_id: int
    key: str
    channel_id: str
    message: dict[str, Any]
    parent_ts: str | None
    recovered: bool  # it may already be in Slack: look it up before posting
    attempts: int  # including this one
    created_at: datetime


def find(session: Session, team_id: str, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.team_id == team_id, OutboxMessage.key == key))


def find_posted(session: Session, team_id: str, channel_id: str, ts: str) -> OutboxMessage | None:
    """The outbox item that became Slack message ``ts`` (to reply in its thread)."""
    return session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.team_id == team_id, OutboxMessage.channel_id == channel_id, OutboxMessage.ts == ts
        )
    )


def enqueue(
    session: Session,
    *,
    team_id: str,
    channel_id: str,
    key: str,
    message: dict[str, Any],
    now: datetime,
    plan_id: int | None = None,
    parent: OutboxMessage | None = None,
    thread_ts: str | None = None,
) -> OutboxMessage:
    """Add a post to the outbox in the caller's transaction; the same ``key`` again returns the existing item.

    A reply goes in the thread of ``parent`` (another outbox item, posted first) or of ``thread_ts`` (a message
    the bot posted directly, such as a section's thread).
    """
    if parent is not None and thread_ts is not None:
        raise ValueError("a reply has one parent: an outbox item or a thread_ts, not both")
    reserved = RESERVED_MESSAGE_KEYS & message.keys()
    if reserved:
        raise ValueError(f"message must not set {sorted(reserved)}: the deliverer sets them")
    if parent is not None and parent.channel_id != channel_id:
        raise ValueError(f"a thread reply goes to its parent's channel {parent.channel_id}, not {channel_id}")
    existing = find(session, team_id, key)
    if existing is not None:
        return existing
    if parent is not None and parent.id is None:
        session.flush([parent])
    values = {
        "team_id": team_id,
        "plan_id": plan_id,
        "channel_id": channel_id,
        "key": key,
        "parent_id": parent.id if parent is not None else None,
        "thread_ts": thread_ts,
        "message": message,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    # ON CONFLICT instead of a savepoint: losing the race to a concurrent enqueue must not abort the caller's
    # transaction, and with pysqlite's default transaction handling a SAVEPOINT opened before any other write
    # commits on release, escaping the caller's rollback.
    dialect = session.get_bind().dialect.name
    insert: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"outbox.enqueue supports PostgreSQL and SQLite, not {dialect}")
    session.execute(insert(OutboxMessage).values(values).on_conflict_do_nothing(index_elements=["team_id", "key"]))
    item = find(session, team_id, key)
    assert item is not None
    return item


def _due(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by.is_(None),
            OutboxMessage.next_attempt_at <= now,
        ),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease),
    )


def claim_due(session: Session, *, worker_id: str, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``limit`` due items, oldest first; a thread reply only once its parent is sent."""
    parent = aliased(OutboxMessage)
    parent_sent = exists().where(parent.id == OutboxMessage.parent_id, parent.status == "sent")
    recovered: dict[int, bool] = {}
    while len(recovered) < limit:
        candidates = session.execute(
            select(OutboxMessage.id, OutboxMessage.status)
            .where(_due(now, lease), or_(OutboxMessage.parent_id.is_(None), parent_sent))
            .order_by(OutboxMessage.id)
            .limit(limit - len(recovered))
            .with_for_update(skip_locked=True)
        ).all()
        lost = False
        for item_id, status in candidates:
            # Re-checked in the UPDATE: where rows cannot be locked (SQLite) another worker may have claimed it since.
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item_id, OutboxMessage.status == status, _due(now, lease))
                .values(
                    status="sending",
                    claimed_by=worker_id,
                    claimed_at=now,
                    attempts=OutboxMessage.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                recovered[item_id] = status == "sending"
            else:
                lost = True
        if not lost:
            break  # otherwise look again: losing races to another worker does not mean nothing else is due
    if not recovered:
        return []
    rows = session.execute(
        select(OutboxMessage, parent.ts)
        .outerjoin(parent, parent.id == OutboxMessage.parent_id)
        .where(OutboxMessage.id.in_(recovered))
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    return [
        Claimed(
            item_id=item.id,
            key=item.key,
            channel_id=item.channel_id,
            message=dict(item.message),
            parent_ts=parent_ts or item.thread_ts,
            recovered=recovered[item.id],
            attempts=item.attempts,
            created_at=item.created_at,
        )
        for item, parent_ts in rows
    ]


def mark_sent(session: Session, item_id: int, ts: str, now: datetime) -> bool:
    """Slack accepted it; whoever learns that first wins (a worker thought dead may still finish)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item_id, OutboxMessage.status != "sent")
        .values(status="sent", ts=ts, sent_at=now, error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _settle(session: Session, item_id: int, worker_id: str | None, **values: Any) -> bool:
    conditions = [OutboxMessage.id == item_id, OutboxMessage.status == "sending"]
    if worker_id is not None:
        # A worker that outlived its lease must not undo the outcome recorded by the one that took over.
        conditions.append(OutboxMessage.claimed_by == worker_id)
    result = session.execute(
        update(OutboxMessage).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_retry(
    session: Session, item_id: int, error: str, next_attempt_at: datetime, *, worker_id: str | None = None
) -> bool:
    """Slack said no for now (rate limit, server error): post again at ``next_attempt_at``."""
    return _settle(
        session, item_id, worker_id, status="pending", error=error[:ERROR_LENGTH], next_attempt_at=next_attempt_at
    )


def mark_unknown(
    session: Session, item_id: int, error: str, next_attempt_at: datetime, *, worker_id: str | None = None
) -> bool:
    """No verdict from Slack (e.g. a timeout): it may have been posted, so the next attempt looks it up first."""
    return _settle(
        session,
        item_id,
        worker_id,
        claimed_by=None,
        claimed_at=None,
        error=error[:ERROR_LENGTH],
        next_attempt_at=next_attempt_at,
    )


def mark_failed(session: Session, item_id: int, error: str, *, worker_id: str | None = None) -> bool:
    return _settle(session, item_id, worker_id, status="failed", error=error[:ERROR_LENGTH])


def failed_items(session: Session, team_id: str, plan_id: int | None = None, limit: int = 20) -> list[OutboxMessage]:
    """Posts that will never be delivered, newest first, to show to the team."""
    query = select(OutboxMessage).where(OutboxMessage.team_id == team_id, OutboxMessage.status == "failed")
    if plan_id is not None:
        query = query.where(OutboxMessage.plan_id == plan_id)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def failed_summaries(session: Session, team_id: str, plan_id: int | None, limit: int = 10) -> list[tuple[str, str]]:
    """(what the post said, why Slack refused it) for the team's failed deliveries, newest first."""
    return [
        (str(item.message.get("text", ""))[:120], item.error or "unknown")
        for item in failed_items(session, team_id, plan_id, limit=limit)
    ]


def pending_count(session: Session, team_id: str) -> int:
    """Posts not delivered yet (waiting or in flight), including thread replies held back by a failed parent."""
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.team_id == team_id, OutboxMessage.status.in_(("pending", "sending")))
        )
        or 0
    )


def release(
    session: Session, item_id: int, next_attempt_at: datetime, *, recovered: bool, worker_id: str | None = None
) -> bool:
    """Give back a claimed item that was not attempted (its channel is backing off); the claim does not count."""
    return _settle(
        session,
        item_id,
        worker_id,
        # A recovered item keeps its "may already be in Slack" state (sending, no claimant).
        status="sending" if recovered else "pending",
        claimed_by=None,
        claimed_at=None,
        attempts=OutboxMessage.attempts - 1,
        next_attempt_at=next_attempt_at,
    )
