"""The Web API client: Slack's base URL from settings, and slack_sdk's retry handlers switched on."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


def make_client(token: str | None, base_url: str, timeout: int = 30) -> WebClient:
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    # slack_sdk only retries connection errors by default; a 429 (Retry-After) or a Slack 5xx should
    # delay a post, not lose it.
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    return client
