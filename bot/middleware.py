"""Global Bolt middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse

from bot.services import Services
from storage import repo
from storage.db import transaction


def request_key(body: dict[str, Any]) -> str | None:
    """Slack gives every event an event_id and every interaction a single-use trigger_id."""
    key = body.get("event_id") or body.get("trigger_id")
    return str(key) if key else None


def deduplicate(services: Services) -> Callable[..., BoltResponse | None]:
    """Handle each Slack request once: a redelivery (X-Slack-Retry-Num, or a replayed payload) is acked and skipped.

    Bolt acks events before running listeners, so a retry means the first delivery may or may not have
    arrived; the request's own id, not the retry header, decides.
    """

    def middleware(
        body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse], logger: logging.Logger
    ) -> BoltResponse | None:
        key = request_key(body)
        if key is None:
            return next()
        with transaction(services.sessions) as session:
            fresh = repo.claim_request(session, context.team_id or "", key)
        if not fresh:
            logger.info("skipping a request already handled (%s)", key)
            return BoltResponse(status=200, body="")
        return next()

    return middleware
