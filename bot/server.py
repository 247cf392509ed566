"""HTTP mode: Bolt behind waitress, a front door that checks Slack's signature first, a health check, and the HTTP
API under ``/api/`` (``bot.api``: bearer tokens, not Slack signatures).

Order for ``POST /slack/events``:

1. The signature and its timestamp window are checked on the raw bytes, before anything is parsed: an unsigned,
   forged, stale or oddly-timestamped request gets 401 whatever its body (Bolt's own check runs after parsing
   the body, so a body it cannot parse used to answer 500).
2. A signed body Bolt cannot read (not UTF-8, not JSON or form-encoded, not an object, or an envelope whose
   parts are not where Slack puts them) gets 400.
3. Bolt dispatches it, with its own signature check still in place (defence in depth: a second HMAC is cheap).
   Nothing Bolt raises or answers reaches waitress as a 5xx: it is logged once with a reference and answered
   with a 200 the person can read (see ``bot.listeners.errors.failure_reply``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request.payload_utils import (
    is_block_actions,
    is_event,
    is_shortcut,
    is_view,
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from slack_sdk.signature import SignatureVerifier

from bot.api import API_PREFIX
from bot.app import failure_response
from steps.api import MAX_BODY_BYTES as MAX_API_BODY_BYTES
from storage.db import Engine, ping

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack's largest payloads (a 100-block modal with its state) are a few hundred kilobytes.
MAX_BODY_BYTES = 4 * 1024 * 1024

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RawBodySignatureVerifier(SignatureVerifier):
    """slack_sdk's verifier (timestamp window, constant-time compare) over the raw bytes of the body.

    slack_sdk decodes a bytes body as UTF-8 before signing it, which raises on a body that is not UTF-8.
    """

    def generate_signature(self, *, timestamp: str, body: str | bytes) -> str | None:
        if timestamp is None:
            return None
        raw = body.encode() if isinstance(body, str) else body or b""
        base = b"v0:" + timestamp.encode() + b":" + raw
        return "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signature_ok(verifier: SignatureVerifier, raw: bytes, timestamp: str | None, signature: str | None) -> bool:
    """Slack's signature over ``v0:{timestamp}:{raw body}``, with the timestamp within 5 minutes of now.

    A missing or non-numeric timestamp (``int()`` would raise, or accept " 12" and "١٢") or a signature that is
    not ASCII (``hmac.compare_digest`` would raise) is simply not valid.
    """
    if not timestamp or not signature or not signature.isascii():
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    return verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)


def is_ssl_check(raw: bytes) -> bool:
    """Slack's unsigned certificate check for slash command URLs (``ssl_check=1&token=...``).

    Bolt answers it with an empty 200 before verifying signatures; so does this front door, and nothing else:
    the request is never dispatched.
    """
    try:
        fields = parse_qsl(raw.decode("ascii"), keep_blank_values=True, max_num_fields=10)
    except ValueError:  # not ASCII, or too many fields
        return False
    return dict(fields).get("ssl_check") == "1"


_EXTRACTORS = (to_options, to_shortcut, to_action, to_view, to_command, to_event, to_message, to_step)


def readable(body: Any) -> bool:
    """Whether Bolt can route ``body`` without tripping over its shape (as Slack's payloads always allow).

    Bolt's payload helpers index into the envelope (``body["actions"][0]``, ``body["event"]["type"]``, ...) and its
    matchers compare ids as strings; those run for every request, before any listener can refuse it.
    """
    if not isinstance(body, dict) or not body:
        return False
    try:
        for extract in _EXTRACTORS:
            extract(body)
        for part in ("event", "view"):  # read as objects by Bolt's middleware and its "unhandled" warning
            if part in body and not isinstance(body[part], dict):
                return False
        if is_event(body) and not isinstance(body["event"]["type"], str):
            return False
        if is_block_actions(body):
            action = to_action(body)
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                return False
        if is_view(body) and not (isinstance(body["view"], dict) and isinstance(body["view"]["callback_id"], str)):
            return False
        if is_shortcut(body) and not isinstance(body["callback_id"], str):
            return False
        if "command" in body and not isinstance(body["command"], str):
            return False
        if body.get("type") == "block_suggestion" and not isinstance(body.get("action_id"), str):
            return False
    except (KeyError, IndexError, TypeError, AttributeError):
        return False
    return True


def _answer(start_response: Callable[..., Any], response: BoltResponse) -> Iterable[bytes]:
    wsgi = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
    start_response(wsgi.status, wsgi.get_headers())
    return wsgi.get_body()


def _plain(status: int, body: dict[str, str]) -> BoltResponse:
    return BoltResponse(status=status, body=body)


def _read_body(environ: dict[str, Any]) -> bytes | BoltResponse:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(400, {"error": "bad content length"})
    if length > MAX_BODY_BYTES:
        return _plain(413, {"error": "body too large"})
    if length <= 0 or "wsgi.input" not in environ:
        return b""
    return environ["wsgi.input"].read(length)


def slack_events(app: App, signing_secret: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """``POST /slack/events``: verify, parse, dispatch; never a 5xx."""
    verifier = RawBodySignatureVerifier(signing_secret)

    def handle(environ: dict[str, Any]) -> BoltResponse:
        raw = _read_body(environ)
        if isinstance(raw, BoltResponse):
            return raw
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if not signature_ok(verifier, raw, timestamp, signature):
            if is_ssl_check(raw):
                return BoltResponse(status=200, body="")
            logger.info("refused a request without a valid Slack signature (%d bytes)", len(raw))
            return _plain(401, {"error": "invalid request"})
        try:
            request = BoltRequest(
                body=raw.decode("utf-8"),
                query=environ.get("QUERY_STRING", ""),
                headers=WsgiHttpRequest(environ).get_headers(),
            )
        except Exception as exc:  # not UTF-8, bad JSON, a payload that is not an object, ...
            logger.info("refused a signed request Bolt cannot parse: %s", type(exc).__name__)
            return _plain(400, {"error": "malformed payload"})
        if not readable(request.body):
            logger.info("refused a signed request whose payload is not shaped like Slack's")
            return _plain(400, {"error": "malformed payload"})
        try:
            response = app.dispatch(request)
        except Exception as exc:
            return failure_response(request.body, exc)
        if response.status >= 500:
            failure = RuntimeError(f"Bolt answered HTTP {response.status} to a signed request: {response.body[:200]}")
            return failure_response(request.body, failure)
        return response

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            response = handle(environ)
        except Exception:  # the last line of defence: whatever happened, waitress never answers 500
            logger.exception("the front door failed")
            response = _plain(400, {"error": "bad request"})
        return _answer(start_response, response)

    return application


def wsgi_app(app: App, engine: Engine, signing_secret: str | None = None, *, api: WsgiApp | None = None) -> WsgiApp:
    """The WSGI app for waitress. ``signing_secret`` defaults to the one ``bot.app.create_app`` was given; ``api``
    (``bot.api.api_app``) serves every path under ``/api/``."""
    secret = signing_secret if signing_secret is not None else getattr(app, "signing_secret", None)
    if not secret:
        raise ValueError("HTTP mode needs the signing secret to verify requests from Slack")
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    events = slack_events(app, secret)

    def health(start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            ping(engine)
            status, body = "200 OK", {"status": "ok"}
        except Exception as exc:  # a health check reports failure, it does not raise
            logger.warning("health check failed: %s", exc)
            status, body = "503 Service Unavailable", {"status": "error", "database": "unreachable"}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return health(start_response)
        if path == EVENTS_PATH and method == "POST":
            return events(environ, start_response)
        if api is not None and isinstance(path, str) and path.startswith(API_PREFIX):
            return api(environ, start_response)
        return slack(environ, start_response)

    return application


def serve(application: WsgiApp, port: int, host: str = "0.0.0.0") -> None:
    from waitress import serve as waitress_serve

    logger.info("listening on http://%s:%s%s", host, port, EVENTS_PATH)
    # waitress refuses (413) a body over this before receiving it all; the app refuses smaller ones of its own kind.
    largest = max(MAX_BODY_BYTES, MAX_API_BODY_BYTES)
    waitress_serve(application, host=host, port=port, threads=8, ident="onboarding-bot", max_request_body_size=largest)
