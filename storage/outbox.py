"""Outbox queries: posts are enqueued in the caller's transaction and claimed, sent and settled by a deliverer.

Statuses: ``pending`` (waiting for ``next_attempt_at``), ``sending`` (claimed by ``claimed_by``), ``sent``, ``failed``.
A ``sending`` item whose worker died (``claimed_at`` older than the lease, or its claim given back by
:func:`reclaim`) or whose last attempt ended without a verdict from Slack (``claimed_by`` cleared, see
:func:`mark_unknown`) may already be in Slack, so it is claimed back as ``recovered`` and must be looked up before
it is posted again.

Each channel is a queue: only its head, the oldest post not yet sent or failed, can be claimed (see
:func:`claim_due`), so a channel's posts reach Slack in the order they were queued, whatever fails, crashes or runs
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from storage.db import rowcount
from storage.models import OutboxMessage
from storage.records import Backlog

# Set by the deliverer itself; a message carrying them would clash with its own arguments.
RESERVED_MESSAGE_KEYS = frozenset({"channel", "thread_ts", "metadata"})
ERROR_LENGTH = 200  # OutboxMessage.error is String(200)
PARENT_FAILED = "parent failed: "


def undelivered(table: type[OutboxMessage] = OutboxMessage) -> ColumnElement[bool]:
    """``status IN ('pending', 'sending')`` with literal values, not bound parameters: that is what lets SQLite and
    PostgreSQL use the partial index ``ix_outbox_queue`` (models.UNDELIVERED_SQL), which holds only these rows."""
    return table.status.in_([literal_column("'pending'", String), literal_column("'sending'", String)])


def failed(table: type[OutboxMessage] = OutboxMessage) -> ColumnElement[bool]:
    """``status = 'failed'`` with a literal value. psycopg prepares a statement it runs often, and PostgreSQL then
    plans it once for any value of its parameters: not knowing which status it would be asked for, it scanned the
    whole outbox for a plan's failed posts (18 ms at 100,000 posts) instead of seeking ``ix_outbox_plan_status``."""
    return table.status == literal_column("'failed'", String)


FAILED_SHOWN = 10  # failed deliveries listed by `/onboarding status`


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
    if item is None:
        raise LookupError(f"outbox item {key!r} of team {team_id} is neither inserted nor already there")
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
    """Claim the due head of up to ``limit`` channels, oldest first.

    A channel's head is its oldest post not yet sent or failed; the posts queued after it wait until it is settled,
    so they can never overtake it (nor can a thread reply its parent, queued before it in the same channel). A head
    whose parent failed for good is failed here with the parent's reason instead of blocking its channel.
    On PostgreSQL, replicas skip the heads another one is claiming (``SKIP LOCKED``); a head claimed and committed
    by another worker is no longer due for its lease, so each channel has at most one post in flight.
    """
    heads = (
        select(func.min(OutboxMessage.id))
        .where(undelivered())
        .group_by(OutboxMessage.team_id, OutboxMessage.channel_id)
        .scalar_subquery()
    )
    recovered: dict[int, bool] = {}
    while len(recovered) < limit:
        candidates = session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.parent_id)
            .where(OutboxMessage.id.in_(heads), _due(now, lease))
            .order_by(OutboxMessage.id)
            .limit(limit - len(recovered))
            .with_for_update(skip_locked=True)
        ).all()
        parents = _statuses(session, {parent_id for _, _, parent_id in candidates if parent_id is not None})
        look_again = False
        by_status: dict[str, list[int]] = {"pending": [], "sending": []}
        for item_id, status, parent_id in candidates:
            if parent_id is not None:
                parent_status, parent_error = parents.get(parent_id, ("failed", "not found"))
                if parent_status == "failed":
                    _fail_with_parent(session, item_id, parent_error)
                    look_again = True  # the channel has a new head
                    continue
                if parent_status != "sent":
                    continue  # its parent is in another queue (not done by enqueue): it goes first
            by_status[status].append(item_id)
        for status, ids in by_status.items():
            if not ids:
                continue
            # Re-checked in the UPDATE: where rows cannot be locked (SQLite) another worker may have claimed them since.
            won = session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == status, _due(now, lease))
                .values(status="sending", claimed_by=worker_id, claimed_at=now, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
            recovered.update(dict.fromkeys(won, status == "sending"))
            if len(won) < len(ids):
                look_again = True  # losing a race to another worker does not mean nothing else is due
        if not look_again:
            break
    if not recovered:
        return []
    parent = aliased(OutboxMessage)
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


def _statuses(session: Session, item_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    if not item_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.error).where(OutboxMessage.id.in_(item_ids))
    )
    return {item_id: (status, error) for item_id, status, error in rows}


def _parent_failed(error: str | None) -> str:
    """The reason a reply fails with: its parent's own, said once however deep the thread."""
    reason = error or "unknown"
    return (reason if reason.startswith(PARENT_FAILED) else PARENT_FAILED + reason)[:ERROR_LENGTH]


def _set_failed(session: Session, item_ids: list[int], reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(item_ids), undelivered())
        .values(status="failed", error=reason, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def _fail_with_parent(session: Session, item_id: int, parent_error: str | None) -> None:
    reason = _parent_failed(parent_error)
    _set_failed(session, [item_id], reason)
    _fail_replies(session, item_id, reason)


def _fail_replies(session: Session, item_id: int, error: str) -> None:
    """Fail the undelivered replies in the thread of ``item_id`` (and theirs), which failed for good."""
    reason, parents = _parent_failed(error), [item_id]
    while parents:
        parents = list(
            session.scalars(select(OutboxMessage.id).where(OutboxMessage.parent_id.in_(parents), undelivered()))
        )
        if parents:
            _set_failed(session, parents, reason)


def mark_sent(session: Session, item_id: int, ts: str, now: datetime) -> bool:
    """Slack accepted it; whoever learns that first wins (a worker thought dead may still finish)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item_id, OutboxMessage.status != "sent")
        .values(status="sent", ts=ts, sent_at=now, error=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def _settle(session: Session, item_id: int, worker_id: str | None, **values: Any) -> bool:
    conditions = [OutboxMessage.id == item_id, OutboxMessage.status == "sending"]
    if worker_id is not None:
        # A worker that outlived its lease must not undo the outcome recorded by the one that took over.
        conditions.append(OutboxMessage.claimed_by == worker_id)
    result = session.execute(
        update(OutboxMessage).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


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
    """Slack refused it for good; its thread replies (queued behind it) fail with ``parent failed: <error>``."""
    settled = _settle(session, item_id, worker_id, status="failed", error=error[:ERROR_LENGTH])
    if settled:
        _fail_replies(session, item_id, error)
    return settled


def renew(session: Session, worker_id: str, now: datetime) -> int:
    """Extend the lease on every item ``worker_id`` holds: it is alive and still working on them."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker_id)
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def claimants(session: Session) -> list[str]:
    """The workers holding claims right now (live or dead)."""
    return list(
        session.scalars(
            select(OutboxMessage.claimed_by)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by.is_not(None))
            .distinct()
        )
    )


def reclaim(session: Session, worker_id: str, now: datetime) -> int:
    """Give back the claims of ``worker_id``, known to be dead, without waiting for their lease to expire.

    Its posts may be in Slack already, so they become due as recovered (looked up before being posted again).
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker_id)
        .values(claimed_by=None, claimed_at=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def failed_items(session: Session, team_id: str, plan_id: int | None = None, limit: int = 20) -> list[OutboxMessage]:
    """Posts that will never be delivered, newest first, to show to the team."""
    query = select(OutboxMessage).where(OutboxMessage.team_id == team_id, failed())
    if plan_id is not None:
        query = query.where(OutboxMessage.plan_id == plan_id)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def failed_summary(message: dict[str, Any], error: str | None) -> tuple[str, str]:
    """(what the post said, why Slack refused it), as status and the App Home list a failed delivery."""
    return str(message.get("text", ""))[:120], error or "unknown"


def failed_summaries(
    session: Session, team_id: str, plan_id: int | None, limit: int = FAILED_SHOWN
) -> list[tuple[str, str]]:
    """The team's failed deliveries, newest first (``failed_summary``)."""
    return [failed_summary(item.message, item.error) for item in failed_items(session, team_id, plan_id, limit=limit)]


def pending_count(session: Session, team_id: str) -> int:
    """Posts not delivered yet (waiting or in flight)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.team_id == team_id, OutboxMessage.status.in_(("pending", "sending")))
        )
        or 0
    )


def backlog(session: Session, team_id: str, plan_id: int | None = None) -> Backlog | None:
    """The team's (or one plan's) undelivered posts, or None when everything went out."""
    where = [OutboxMessage.team_id == team_id, undelivered()]
    if plan_id is not None:
        where.append(OutboxMessage.plan_id == plan_id)
    count, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at)).where(*where)).one()
    if not count:
        return None
    error = session.scalar(
        select(OutboxMessage.error).where(*where, OutboxMessage.error.is_not(None)).order_by(OutboxMessage.id).limit(1)
    )
    return Backlog(count=int(count), oldest_queued_at=oldest, error=error)


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
