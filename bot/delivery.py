"""Delivers the outbox to Slack, at least once and (through message metadata) normally exactly once.

Each item is claimed in one short transaction, posted outside any transaction, and its outcome recorded in another
short transaction, so a slow Slack never holds database locks. Every post carries its outbox key in its metadata:
an item that may already be in Slack (its worker died mid-send, or a network error left the outcome unknown) is
looked up by that key before it is posted again.

A thread reply is posted only once its parent is sent; the reply of a parent that failed for good stays pending
(it is counted by ``outbox.pending_count`` and its parent is listed by ``outbox.failed_items``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from storage import outbox
from storage.db import transaction
from storage.models import utcnow
from storage.outbox import Claimed

logger = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "not_authed",
        "restricted_action",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)
NETWORK_ERRORS = (URLError, TimeoutError, ConnectionError, OSError)
METADATA_EVENT_TYPE = "onboarding_outbox"
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# Claims stay well inside the lease even for one channel at one post a second (100 s of 300 s).
CLAIM_BATCH = 100
# Our post is at or after the item's creation; the margin covers clock skew between us and Slack.
LOOKUP_MARGIN = timedelta(seconds=60)
LOOKUP_PAGE_SIZE = 100
LOOKUP_MAX_PAGES = 5


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # back to waiting, including items not attempted because their channel is backing off
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """30 s after the first attempt, doubling, at most an hour."""
    return min(FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 20), MAX_BACKOFF)


def metadata_for(key: str) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": key}}


def carries_key(message: dict[str, Any], key: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == METADATA_EVENT_TYPE and payload.get("key") == key


def error_name(exc: SlackApiError) -> str:
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else f"http_{exc.response.status_code}"


def interleave(batch: list[Claimed]) -> list[Claimed]:
    """Round-robin over channels, each channel's posts still in order: channels wait for their turn together."""
    queues: dict[str, list[Claimed]] = {}
    for item in batch:
        queues.setdefault(item.channel_id, []).append(item)
    ordered: list[Claimed] = []
    while queues:
        for channel in list(queues):
            ordered.append(queues[channel].pop(0))
            if not queues[channel]:
                del queues[channel]
    return ordered


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock seconds of the last refill


class _Unknown(Exception):
    """Whether the item is in Slack is unknown (no answer, or the lookup failed): the next attempt looks first."""

    def __init__(self, error: str, *, network: bool) -> None:
        super().__init__(error)
        self.error = error
        self.network = network


class Deliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: WebClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        worker_id: str | None = None,
        per_channel_interval: float = 1.0,
        burst: int = 3,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=5),
        after_send: Callable[[Claimed], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.worker_id = worker_id or default_worker_id()
        self.per_channel_interval = per_channel_interval
        self.burst = burst
        self.max_attempts = max_attempts
        self.lease = lease
        self.after_send = after_send
        self._buckets: dict[str, _Bucket] = {}

    def deliver_due(self, limit: int = 500) -> DeliveryReport:
        report = DeliveryReport()
        held: dict[str | None, datetime] = {}  # channel (None: every channel) -> when it may be tried again
        claimed = 0
        while claimed < limit:
            with transaction(self.sessions) as session:
                batch = outbox.claim_due(
                    session,
                    worker_id=self.worker_id,
                    now=self.clock(),
                    limit=min(CLAIM_BATCH, limit - claimed),
                    lease=self.lease,
                )
            if not batch:
                break
            claimed += len(batch)
            for item in interleave(batch):
                hold = held.get(None) or held.get(item.channel_id)
                if hold is not None:
                    # Keeps the channel's order and spares Slack (and us) a run of doomed calls.
                    with transaction(self.sessions) as session:
                        outbox.release(session, item.item_id, hold, recovered=item.recovered, worker_id=self.worker_id)
                    report.retried += 1
                else:
                    self._deliver(item, report, held)
        return report

    def _deliver(self, item: Claimed, report: DeliveryReport, held: dict[str | None, datetime]) -> None:
        try:
            ts = self._send(item)
        except SlackApiError as exc:
            error = error_name(exc)
            if error in PERMANENT_ERRORS:
                self._fail(item, error, report)
            else:
                held[item.channel_id] = self._retry(item, error, report, maybe_posted=False)
            return
        except _Unknown as exc:
            # Slack unreachable: every channel waits; a failed lookup only holds its own channel.
            held[None if exc.network else item.channel_id] = self._retry(item, exc.error, report, maybe_posted=True)
            return
        with transaction(self.sessions) as session:
            outbox.mark_sent(session, item.item_id, ts, self.clock())
        report.sent += 1

    def _send(self, item: Claimed) -> str:
        try:
            if item.recovered:
                ts = self._find_posted(item)
                if ts is not None:
                    logger.info("outbox %s was already posted (ts %s); not posting it again", item.key, ts)
                    return ts
        except NETWORK_ERRORS as exc:
            raise _Unknown(f"{type(exc).__name__}: {exc}", network=True) from exc
        except SlackApiError as exc:
            raise _Unknown(f"lookup: {error_name(exc)}", network=False) from exc
        self._wait_turn(item.channel_id)
        thread = {"thread_ts": item.parent_ts} if item.parent_ts else {}
        try:
            response = self.client.chat_postMessage(
                channel=item.channel_id, metadata=metadata_for(item.key), **thread, **item.message
            )
        except NETWORK_ERRORS as exc:
            raise _Unknown(f"{type(exc).__name__}: {exc}", network=True) from exc
        ts = str(response["ts"])
        if self.after_send is not None:
            self.after_send(item)
        return ts

    def _find_posted(self, item: Claimed) -> str | None:
        """The ts of our earlier post of ``item``, found by the key in its metadata."""
        cursor: str | None = None
        try:
            for _ in range(LOOKUP_MAX_PAGES):
                if item.parent_ts:
                    response = self.client.conversations_replies(
                        channel=item.channel_id, ts=item.parent_ts, include_all_metadata=True, cursor=cursor
                    )
                else:
                    oldest = item.created_at - LOOKUP_MARGIN
                    response = self.client.conversations_history(
                        channel=item.channel_id,
                        oldest=f"{oldest.timestamp():.6f}",
                        include_all_metadata=True,
                        limit=LOOKUP_PAGE_SIZE,
                        cursor=cursor,
                    )
                for message in response.get("messages") or []:
                    if carries_key(message, item.key):
                        return str(message["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return None
        except SlackApiError as exc:
            if error_name(exc) not in PERMANENT_ERRORS:
                raise
            # We cannot look (e.g. no history scope): posting again risks a duplicate, not posting risks a loss.
            logger.warning("outbox %s: cannot check Slack for an earlier post (%s)", item.key, error_name(exc))
        return None

    def _retry(self, item: Claimed, error: str, report: DeliveryReport, *, maybe_posted: bool) -> datetime:
        next_attempt_at = self.clock() + backoff(item.attempts)
        if item.attempts >= self.max_attempts:
            self._fail(item, f"gave up after {item.attempts} attempts: {error}", report)
            return next_attempt_at
        mark = outbox.mark_unknown if maybe_posted else outbox.mark_retry
        with transaction(self.sessions) as session:
            mark(session, item.item_id, error, next_attempt_at, worker_id=self.worker_id)
        logger.info("outbox %s: %s; attempt %d at %s", item.key, error, item.attempts + 1, next_attempt_at)
        report.retried += 1
        return next_attempt_at

    def _fail(self, item: Claimed, error: str, report: DeliveryReport) -> None:
        with transaction(self.sessions) as session:
            outbox.mark_failed(session, item.item_id, error, worker_id=self.worker_id)
        logger.warning("outbox %s failed for good: %s", item.key, error)
        report.failed += 1

    def _wait_turn(self, channel_id: str) -> None:
        """A token bucket per channel: ``burst`` posts at once, then one per ``per_channel_interval`` seconds."""
        if self.per_channel_interval <= 0:
            return
        now = self.clock().timestamp()
        bucket = self._buckets.setdefault(channel_id, _Bucket(tokens=float(self.burst), at=now))
        bucket.tokens = min(float(self.burst), bucket.tokens + max(0.0, now - bucket.at) / self.per_channel_interval)
        bucket.at = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) * self.per_channel_interval
            self.sleep(wait)
            bucket.tokens, bucket.at = 1.0, now + wait
        bucket.tokens -= 1
