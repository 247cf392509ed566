"""Delivers the outbox to Slack: every post exactly once, in each channel in the order it was queued.

Each channel is a queue and only its head (its oldest post not yet sent or failed) is claimed, in one short
transaction; it is posted outside any transaction and its outcome recorded in another short transaction, so a slow
Slack never holds database locks. Every post carries its outbox key in its metadata: a post that may already be in
Slack is looked up by that key before it is posted again. That is the case when its worker died mid-send, and after
every answer that leaves the outcome unknown: an HTTP 5xx (Slack documents that ``internal_error`` may follow a
partial success), ``fatal_error``, a timeout, a dropped connection. The Web API client never repeats a post itself
(``bot.slack_api``).

Errors are of three kinds. Slack's permanent errors (``channel_not_found``, ``not_in_channel``, ...) fail the post
for good, and with it the replies queued in its thread (``parent failed: <error>``); they are shown to the team.
A 429 waits for ``Retry-After``. Anything else is transient and never turns into a failure: the post is tried
again with a backoff capped at ``MAX_BACKOFF``, so delivery resumes within that long of Slack's recovery.

A worker renews the lease on its claims while it works (:class:`_Heartbeat`), so a short lease is enough: claims of
a worker that died are taken over after ``LEASE``, and at once when that worker was a process of this host that no
longer exists (a restarted ``onboarding-bot run``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from storage import outbox
from storage.db import Sessions, transaction
from storage.models import utcnow
from storage.outbox import Claimed

logger = logging.getLogger(__name__)

# Slack's answers that will not change by trying again: the post fails and the team is shown why.
PERMANENT_ERRORS = frozenset(
    {
        "access_denied",
        "account_inactive",
        "as_user_not_supported",
        "cannot_reply_to_message",
        "channel_not_found",
        "deprecated_endpoint",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "invalid_arg_name",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_charset",
        "invalid_form_data",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "invalid_post_type",
        "is_archived",
        "metadata_must_be_sent_from_app",
        "metadata_too_large",
        "method_deprecated",
        "missing_post_type",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "restricted_action_non_threadable_channel",
        "restricted_action_read_only_channel",
        "restricted_action_thread_locked",
        "restricted_action_thread_only_channel",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "two_factor_setup_required",
    }
)
# Answers after which the post may or may not be in Slack ("it's possible some aspect of the operation succeeded").
UNKNOWN_OUTCOME_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})
RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
# No answer at all: http.client.HTTPException covers a response cut short (IncompleteRead, BadStatusLine).
NETWORK_ERRORS = (URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException)
METADATA_EVENT_TYPE = "onboarding_outbox"
# A 429 waits for Retry-After, and at least this long, so that one pass does not hammer a channel Slack is limiting.
MIN_RATE_LIMIT_WAIT = timedelta(seconds=1)
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=15)
# A worker renews its claims every LEASE / 6 while it holds some, so only a dead (or frozen) worker loses them.
LEASE = timedelta(seconds=30)
CLAIM_BATCH = 100  # channel heads claimed at a time
# Our post is at or after the item's creation; the margin covers clock skew between us and Slack.
LOOKUP_MARGIN = timedelta(seconds=60)
LOOKUP_PAGE_SIZE = 100
LOOKUP_MAX_PAGES = 5


def _host() -> str:
    """This machine, as worker ids name it: the host name, and on Linux the PID namespace, so that processes with
    the same host name but another process table (containers sharing the host network) are not taken for ours."""
    host = socket.gethostname()[:32].replace(":", "_") or "localhost"
    with contextlib.suppress(OSError):
        host += f"~{os.stat('/proc/self/ns/pid').st_ino}"
    return host


HOST = _host()
# Tells this process from an earlier one that had the same PID (a restarted container is often PID 1 again).
_INCARNATION = secrets.token_hex(4)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # back to waiting, including items not attempted because Slack was unreachable
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """30 s after the first attempt, doubling, at most ``MAX_BACKOFF``."""
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


def outcome_unknown(exc: SlackApiError) -> bool:
    """Slack may have done what was asked before this error (HTTP 5xx, ``internal_error``, ``fatal_error``...)."""
    return exc.response.status_code >= 500 or error_name(exc) in UNKNOWN_OUTCOME_ERRORS


def retry_after(exc: SlackApiError) -> timedelta | None:
    """Slack's ``Retry-After`` on a 429, if it gave one."""
    if exc.response.status_code != 429 and error_name(exc) not in RATE_LIMITED:
        return None
    headers = exc.response.headers or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return timedelta(seconds=max(0, int(str(value))))
    except (TypeError, ValueError):
        return None


def slack_unreachable(exc: BaseException) -> bool:
    """No answer because Slack could not be reached or did not answer in time: every other call would fare the same,
    so nothing more is tried for a while. One connection cut short (reset, closed without an answer) holds only its
    own channel."""
    return isinstance(exc, (URLError, TimeoutError)) and not isinstance(exc, ConnectionResetError)


def default_worker_id() -> str:
    return f"{HOST}:{os.getpid()}:{_INCARNATION}"


def died_on_this_host(worker_id: str) -> bool:
    """Whether ``worker_id`` names a process of this host that no longer exists (never true for another host)."""
    host, _, rest = worker_id.partition(":")
    pid_text, _, incarnation = rest.partition(":")
    if host != HOST or not pid_text.isdigit() or os.name != "posix":  # on Windows, os.kill(pid, 0) is not a probe
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return incarnation != _INCARNATION  # an earlier process that had our PID
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists (another user's)
    return False


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock seconds of the last refill


class _Unknown(Exception):
    """Whether the item is in Slack is unknown (no answer, or the lookup failed): the next attempt looks first."""

    def __init__(self, error: str, *, unreachable: bool) -> None:
        super().__init__(error)
        self.error = error
        self.unreachable = unreachable


class _Heartbeat:
    """Renews a worker's leases every ``every`` seconds from a thread, also while a Slack call blocks the worker."""

    def __init__(self, renew: Callable[[], None], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception:  # the next beat tries again; a lease outliving us is the worst case
                logger.exception("outbox: renewing the lease on our claims failed")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Deliverer:
    def __init__(
        self,
        sessions: Sessions,
        client: WebClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        worker_id: str | None = None,
        per_channel_interval: float = 1.0,
        burst: int = 3,
        lease: timedelta = LEASE,
        heartbeat: float | None = None,
        after_send: Callable[[Claimed], None] | None = None,
    ) -> None:
        """``heartbeat``: real seconds between lease renewals while holding claims (default: a sixth of the lease)."""
        self.sessions = sessions
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.worker_id = worker_id or default_worker_id()
        self.per_channel_interval = per_channel_interval
        self.burst = burst
        self.lease = lease
        self.heartbeat = heartbeat if heartbeat is not None else lease.total_seconds() / 6
        self.after_send = after_send
        self._buckets: dict[str, _Bucket] = {}
        self._renewed_at: datetime | None = None

    def deliver_due(self, limit: int = 500) -> DeliveryReport:
        report = DeliveryReport()
        self.reclaim_dead()
        claimed = 0
        with contextlib.ExitStack() as holding:  # the heartbeat runs while we hold claims
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
                if not claimed:
                    holding.enter_context(_Heartbeat(self._renew, self.heartbeat))
                self._renewed_at = self.clock()
                claimed += len(batch)
                unreachable: datetime | None = None  # Slack did not answer: nothing more is tried until then
                for item in batch:  # one per channel
                    if unreachable is not None:
                        with transaction(self.sessions) as session:
                            outbox.release(
                                session, item.item_id, unreachable, recovered=item.recovered, worker_id=self.worker_id
                            )
                        report.retried += 1
                    else:
                        unreachable = self._deliver(item, report)
                if unreachable is not None:
                    break
        return report

    def reclaim_dead(self) -> int:
        """Take back at once the claims of processes of this host that died (their lease would take ``LEASE``)."""
        with transaction(self.sessions) as session:
            dead = [w for w in outbox.claimants(session) if w != self.worker_id and died_on_this_host(w)]
            reclaimed = sum(outbox.reclaim(session, worker, self.clock()) for worker in dead)
        if reclaimed:
            logger.info("outbox: took over %d claim(s) of dead worker(s) %s", reclaimed, ", ".join(dead))
        return reclaimed

    def _renew(self) -> None:
        now = self.clock()
        with transaction(self.sessions) as session:
            outbox.renew(session, self.worker_id, now)
        self._renewed_at = now

    def _renew_if_due(self) -> None:
        """Before each Slack call: the clock may have moved on more than the heartbeat saw (pacing, a slow call)."""
        if self._renewed_at is None or self.clock() - self._renewed_at >= self.lease / 6:
            self._renew()

    def _deliver(self, item: Claimed, report: DeliveryReport) -> datetime | None:
        """Post ``item`` and record the outcome; when Slack could not be reached, the time to try anything again."""
        try:
            ts = self._send(item)
        except SlackApiError as exc:
            error = error_name(exc)
            if error in PERMANENT_ERRORS:
                self._fail(item, error, report)
            elif (wait := retry_after(exc)) is not None:
                self._retry(item, error, report, maybe_posted=False, at=self.clock() + max(wait, MIN_RATE_LIMIT_WAIT))
            else:
                self._retry(item, error, report, maybe_posted=outcome_unknown(exc))
            return None
        except _Unknown as exc:
            at = self._retry(item, exc.error, report, maybe_posted=True)
            return at if exc.unreachable else None
        with transaction(self.sessions) as session:
            outbox.mark_sent(session, item.item_id, ts, self.clock())
        report.sent += 1
        return None

    def _send(self, item: Claimed) -> str:
        try:
            if item.recovered:
                self._renew_if_due()
                ts = self._find_posted(item)
                if ts is not None:
                    logger.info("outbox %s was already posted (ts %s); not posting it again", item.key, ts)
                    return ts
        except NETWORK_ERRORS as exc:
            raise _Unknown(f"{type(exc).__name__}: {exc}", unreachable=slack_unreachable(exc)) from exc
        except SlackApiError as exc:
            raise _Unknown(f"lookup: {error_name(exc)}", unreachable=False) from exc
        self._wait_turn(item.channel_id)
        self._renew_if_due()
        thread: dict[str, Any] = {"thread_ts": item.parent_ts} if item.parent_ts else {}
        try:
            response = self.client.chat_postMessage(
                channel=item.channel_id, metadata=metadata_for(item.key), **thread, **item.message
            )
        except NETWORK_ERRORS as exc:
            raise _Unknown(f"{type(exc).__name__}: {exc}", unreachable=slack_unreachable(exc)) from exc
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

    def _retry(
        self, item: Claimed, error: str, report: DeliveryReport, *, maybe_posted: bool, at: datetime | None = None
    ) -> datetime:
        """Try ``item`` again later: at ``at``, else after the backoff for its attempts. It never fails for this."""
        next_attempt_at = at or self.clock() + backoff(item.attempts)
        mark = outbox.mark_unknown if maybe_posted else outbox.mark_retry
        with transaction(self.sessions) as session:
            mark(session, item.item_id, error, next_attempt_at, worker_id=self.worker_id)
        logger.info(
            "outbox %s: %s%s; attempt %d at %s",
            item.key,
            error,
            " (may be in Slack: looked up first)" if maybe_posted else "",
            item.attempts + 1,
            next_attempt_at,
        )
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
