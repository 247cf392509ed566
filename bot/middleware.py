"""Global Bolt middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.services import Services
from storage import repo
from storage.db import transaction

logger = logging.getLogger(__name__)

# processed_requests.team_id is a String(32); Slack's team ids are a dozen characters.
TEAM_ID_LENGTH = 32


class FirstAck(Ack):
    """Bolt's ``ack``, except that once a listener has acked, its answer stays the answer.

    When a listener raises after acking, Bolt's thread runner sets ``ack.response`` back to None (slack_bolt
    1.30, ``ThreadListenerRunner.run``). The request thread, still waiting for an ack, then sees none: it waits out
    the 3 s, treats the listener as not acking and answers 404 (or the 500 it had set aside). The request was
    acked, so it answers 200 now; the error itself still reaches the error handler.
    """

    _response: BoltResponse | None = None

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is None and self._response is not None:
            return
        self._response = value


class KeepFirstAck(Middleware):
    """Puts a ``FirstAck`` in every request's context.

    This and the bot's other middleware, global or per listener, are ``Middleware`` classes rather than functions:
    Bolt calls a class's ``process`` directly, where for a function it first builds every argument a listener could
    ask for (about 40) on each request: a quarter of `/onboarding help`'s CPU in a profile of the bot, with four such
    middleware in its path (bench/README.md, "Under load").
    """

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        req.context["ack"] = FirstAck()
        return next()


def _text(value: Any, limit: int) -> str:
    """An id from the payload as the database can store it: a string, without NUL (PostgreSQL refuses it)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).replace("\x00", "")[:limit]


def event_key(body: dict[str, Any]) -> str | None:
    """The ``event_id`` of an Events API delivery; None for anything else.

    Only the Events API redelivers: when an event is not answered within 3 s (or gets an error), Slack sends it
    again with ``X-Slack-Retry-Num``, up to three times. Slash commands, button clicks, shortcuts and view
    submissions are never resent: past 3 s Slack shows the person an error instead. So only events need
    remembering, and every other request is acked without a database write.
    """
    if body.get("type") != "event_callback":
        return None
    key = body.get("event_id")
    text = _text(key, 255) if key else ""
    return text or None


class Deduplicate(Middleware):
    """Handle each Events API delivery once: a redelivery of an event already handled is acked and skipped.

    Bolt acks events before running listeners, so a retry means the first delivery may or may not have
    arrived; the event's own id, not the retry header, decides.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        key = event_key(req.body) if isinstance(req.body, dict) else None
        if key is None:
            return next()
        with transaction(self.services.sessions) as session:
            fresh = repo.claim_request(session, _text(req.context.team_id, TEAM_ID_LENGTH), key)
        if not fresh:
            logger.info("skipping an event already handled (%s)", key)
            return BoltResponse(status=200, body="")
        return next()
