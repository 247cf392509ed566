"""The HTTP API: ``POST /api/v1/customers`` and ``POST /api/v1/signals`` (batches of up to 1,000 items, a bearer
token per plan), and ``GET /api/v1/openapi.json`` describing them. Served by the same front door as Slack's
requests (``bot.server``).

A request goes through, in this order (each refusal changes nothing):

1. ``Authorization: Bearer <token>``: a live token of some plan, else 401 with ``WWW-Authenticate: Bearer``.
2. ``?channel=C...`` (optional): when given, it must be the channel of the token's plan, else 403. The token alone
   says which plan a batch goes to; naming the channel lets a script make sure it writes where it means to.
3. The token's rate (``API_RATE_LIMIT`` requests a minute, a bucket per token in this process), else 429 with
   ``Retry-After``.
4. The body: over ``MAX_BODY_BYTES`` → 413 (by its Content-Length, before reading it); more than 1,000 items → 413;
   not JSON, or not shaped as a batch → 422 with the JSON path of each error.
5. ``Idempotency-Key`` (optional): a batch sent again with the same key gets the answer kept for the first one, and
   nothing is applied again; the same key with another batch gets 422. Keys are kept 24 hours.
6. The valid items are applied in one transaction (``bot.imports``); the answer has one result per item.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bot import customers, imports, tokens
from bot.openapi import OPENAPI_PATH, document
from bot.services import Services
from steps.api import (
    IDEMPOTENCY_KEY,
    MAX_BODY_BYTES,
    MAX_IDEMPOTENCY_KEY,
    MAX_ITEMS,
    BadBatch,
    RateLimiter,
    ShapeError,
    TooManyItems,
    batch_answer,
    parse_batch,
    request_hash,
)
from steps.errors import UserError
from steps.imports import Kind
from storage.db import transaction
from storage.records import ApiAnswer

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
BATCH_PATHS = {"/api/v1/customers": Kind.CUSTOMERS, "/api/v1/signals": Kind.SIGNALS}
JSON = ("Content-Type", "application/json")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]] = field(default_factory=list)


class Refusal(Exception):
    """A request refused as a whole, with its status and a machine-readable ``error`` code."""

    def __init__(self, status: int, error: str, message: str, headers: list[tuple[str, str]] | None = None,
                 errors: list[ShapeError] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        body: dict[str, Any] = {"error": error, "message": message}
        if errors is not None:
            body["errors"] = [{"path": e.path, "message": e.message} for e in errors]
        self.answer = Answer(status, body, headers or [])


class _Raced(Exception):
    """A concurrent request with the same Idempotency-Key kept its answer first: this one's work is rolled back."""


STATUS_TEXT = {
    200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error",
}  # fmt: skip


def api_app(services: Services, *, rate_per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> WsgiApp:
    """The WSGI app for every path under ``/api/``."""
    limiter = RateLimiter(rate_per_minute, monotonic)
    spec = json.dumps(document()).encode()

    def route(environ: dict[str, Any]) -> Answer | bytes:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == OPENAPI_PATH:
            if method not in ("GET", "HEAD"):
                raise Refusal(405, "method_not_allowed", "Use GET.", [("Allow", "GET, HEAD")])
            return spec
        kind = BATCH_PATHS.get(path)
        if kind is None:
            raise Refusal(404, "not_found", f"No such endpoint; see {OPENAPI_PATH}.")
        if method != "POST":
            raise Refusal(405, "method_not_allowed", "Use POST.", [("Allow", "POST")])
        return batch(environ, path, kind)

    def batch(environ: dict[str, Any], path: str, kind: Kind) -> Answer:
        bearer = _bearer(environ)
        with transaction(services.sessions) as session:
            caller = tokens.authenticate(session, bearer) if bearer else None
        if caller is None:
            raise _unauthorized(bearer)
        channel = _query(environ, "channel")
        if channel is not None and channel != caller.plan.channel_id:
            raise Refusal(403, "forbidden", "This token belongs to another channel's plan.")
        wait = limiter.take(caller.token.id)
        if wait:
            raise Refusal(429, "rate_limited", f"Too many requests for this token; retry in {wait} s.",
                          [("Retry-After", str(wait))])  # fmt: skip
        key = _idempotency_key(environ)
        items = _items(kind, _body(environ))
        digest = request_hash(path, items)
        try:
            return apply(bearer or "", kind, items, key, digest)
        except _Raced:
            with transaction(services.sessions) as session:
                kept = tokens.kept_answer(session, caller, key or "", services.clock())
            if kept is None:  # the other request's answer expired in the meantime: nothing sensible is left
                message = "Another request with this Idempotency-Key was applied; retry."
                raise Refusal(409, "conflict", message) from None
            return _replay(kept, digest)

    def apply(bearer: str, kind: Kind, items: list[dict[str, Any]], key: str | None, digest: str) -> Answer:
        now = services.clock()
        with transaction(services.sessions) as session:
            caller = tokens.authenticate(session, bearer)  # again: it may have been revoked while the body came
            if caller is None:
                raise _unauthorized(bearer)
            tokens.mark_used(session, caller, now)
            if key is not None:
                kept = tokens.kept_answer(session, caller, key, now)
                if kept is not None:
                    return _replay(kept, digest)
            ready = customers.require_runnable(session, caller.plan)  # a UserError answers 409
            rows = list(enumerate(items))
            user = caller.token.created_by
            if kind is Kind.CUSTOMERS:
                report = imports.import_customers(session, ready, rows, user_id=user, now=now)
            else:
                report = imports.import_signals(session, ready, rows, source=caller.source, user_id=user, now=now)
            answer = Answer(200, batch_answer(kind, items, report))
            if key is not None and not tokens.keep_answer(session, caller, key, ApiAnswer(digest, 200, answer.body),
                                                          now):  # fmt: skip
                raise _Raced
            return answer

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            routed = route(environ)
        except Refusal as refusal:
            routed = refusal.answer
        except UserError as error:
            routed = Answer(409, {"error": "conflict", "message": error.plain()})
        except Exception:
            ref = uuid.uuid4().hex[:8]
            logger.exception("API request failed, ref %s", ref)
            routed = Answer(500, {"error": "internal", "message": f"Nothing was applied; retry. (ref {ref})"})
        if isinstance(routed, bytes):
            start_response("200 OK", [JSON, ("Content-Length", str(len(routed)))])
            return [routed]
        body = json.dumps(routed.body).encode()  # ASCII: whatever text an item had, the answer can be sent
        status = f"{routed.status} {STATUS_TEXT.get(routed.status, '')}".rstrip()
        start_response(status, [JSON, ("Content-Length", str(len(body))), *routed.headers])
        return [body]

    return application


def _bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, credentials = (environ.get("HTTP_AUTHORIZATION") or "").strip().partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(bearer: str | None) -> Refusal:
    # RFC 6750: no credentials get a bare challenge; wrong ones say the token is invalid (never which way).
    challenge = 'Bearer realm="onboarding-bot"' + ("" if bearer is None else ', error="invalid_token"')
    message = "Send `Authorization: Bearer <token>`." if bearer is None else "This token is unknown or revoked."
    return Refusal(401, "unauthorized", message, [("WWW-Authenticate", challenge)])


def _query(environ: dict[str, Any], name: str) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=20).get(name)
    return values[-1] if values else None


def _idempotency_key(environ: dict[str, Any]) -> str | None:
    key = environ.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Refusal(422, "invalid_idempotency_key",
                      f"Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters, such as a UUID.",
                      errors=[ShapeError("header Idempotency-Key", "1 to 200 visible ASCII characters.")])  # fmt: skip
    return key


def _too_large() -> Refusal:
    return Refusal(413, "too_large", f"The body is over {MAX_BODY_BYTES} bytes; send at most {MAX_ITEMS} items.")


def _body(environ: dict[str, Any]) -> bytes:
    """The body, refused unread when its Content-Length is over the limit."""
    stream = environ.get("wsgi.input")
    length_header = environ.get("CONTENT_LENGTH")
    if length_header:
        try:
            length = int(length_header)
        except ValueError:
            raise Refusal(422, "invalid_body", "Content-Length is not a number.") from None
        if length > MAX_BODY_BYTES:
            raise _too_large()
        return stream.read(length) if stream is not None and length > 0 else b""
    raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    return raw


def _items(kind: Kind, raw: bytes) -> list[dict[str, Any]]:
    try:
        return parse_batch(kind, raw)
    except BadBatch as bad:
        raise Refusal(422, "invalid_body", "The body is not a batch of " + kind.value + ".",
                      errors=bad.errors) from None  # fmt: skip
    except TooManyItems as many:
        raise Refusal(413, "too_many_items", f"{many.count} items; a batch has at most {MAX_ITEMS}.") from None


def _replay(kept: ApiAnswer, digest: str) -> Answer:
    if kept.request_hash != digest:
        raise Refusal(422, "idempotency_key_reused",
                      "This Idempotency-Key was used for another batch; use a new key for a new batch.")  # fmt: skip
    return Answer(kept.status, kept.response, [("Idempotent-Replayed", "true")])
