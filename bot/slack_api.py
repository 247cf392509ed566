"""The Web API client: Slack's base URL from settings, and slack_sdk's retry handlers for the calls they may repeat.

An HTTP 5xx, a timeout or a dropped connection does not say whether Slack did what was asked: Slack documents that
``internal_error`` and ``fatal_error`` may follow a partial success. Sending the call again is safe only when doing
it twice is the same as doing it once (reads, ``chat.update``, ``views.update`` / ``views.publish``, a canvas
``replace``). Anything else (``chat.postMessage``, ``views.open`` with its single-use trigger id, uploads, canvas
creation) is never repeated blindly: its caller decides. The outbox looks a post up by its metadata before posting
it again (``bot.delivery``). A 429 means "not done": it is retried after ``Retry-After`` for every method.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# Methods for which a second identical call changes nothing the first did not.
IDEMPOTENT_METHODS = frozenset(
    {
        # reads
        "auth.test",
        "bots.info",
        "chat.getPermalink",
        "conversations.history",
        "conversations.open",  # the same DM every time
        "conversations.info",
        "conversations.members",
        "conversations.replies",
        "files.info",
        "team.info",
        "users.conversations",
        "users.info",
        # writes that set a state rather than add something
        "chat.update",
        "views.publish",
        "views.update",
        # a fresh upload URL or Socket Mode URL; an unused one is invisible and expires
        "apps.connections.open",
        "files.getUploadURLExternal",
    }
)


def method_of(request: HttpRequest) -> str:
    """The Web API method a request calls: the last segment of its URL path (``.../api/chat.postMessage``)."""
    return urlsplit(request.url).path.rsplit("/", 1)[-1]


def _replaces_whole_canvas(request: HttpRequest) -> bool:
    """A ``canvases.edit`` whose every change is a ``replace`` of the whole canvas (what the bot sends) is idempotent;
    an insert is not."""
    try:
        body: Any = json.loads(request.data or b"")
    except ValueError:
        return False
    changes = body.get("changes") if isinstance(body, dict) else None
    return (
        isinstance(changes, list)
        and bool(changes)
        and all(
            isinstance(change, dict) and change.get("operation") == "replace" and not change.get("section_id")
            for change in changes
        )
    )


def safe_to_repeat(request: HttpRequest) -> bool:
    method = method_of(request)
    return method in IDEMPOTENT_METHODS or (method == "canvases.edit" and _replaces_whole_canvas(request))


class OnlySafeToRepeat(RetryHandler):
    """Mixed in before one of slack_sdk's retry handlers: it retries only calls that are safe to repeat."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return safe_to_repeat(request) and super()._can_retry(
            state=state, request=request, response=response, error=error
        )


class IdempotentConnectionErrorRetryHandler(OnlySafeToRepeat, ConnectionErrorRetryHandler):
    """slack_sdk's connection-error retries, only for calls that are safe to repeat."""


class IdempotentServerErrorRetryHandler(OnlySafeToRepeat, ServerErrorRetryHandler):
    """slack_sdk's 500/503 retries, only for calls that are safe to repeat."""


def make_client(token: str | None, base_url: str, timeout: int = 30) -> WebClient:
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    # slack_sdk only retries connection errors by default (whatever the method); a 429 (Retry-After) or a Slack
    # 5xx should delay a read or an update, not fail it, and must never post a message twice.
    client.retry_handlers = [
        IdempotentConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        IdempotentServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


def without_retries(client: WebClient, timeout: int) -> WebClient:
    """``client`` for a call made while a trigger_id's 3 seconds run: a retry, or a 429's Retry-After, would outlast
    the trigger, and the form must open with or without the answer."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        retry_handlers=[],
    )
