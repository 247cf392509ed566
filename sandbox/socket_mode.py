"""A fake Slack Socket Mode endpoint (the ``wss://wss-primary.slack.com/link`` side) on loopback.

``apps.connections.open`` on a :class:`~sandbox.slack_api.FakeSlack` with this server attached
returns a one-time URL from :meth:`FakeSocketModeServer.issue_url`. On each connection the server
says ``hello``; tests push envelopes with :meth:`send_envelope` and read the client's
acknowledgement with :meth:`wait_for_ack`, just as Slack waits for the 3-second ack.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from .blockkit import validate_message, validate_options, validate_view

APP_ID = "AHARNESS1"
ACK_DEADLINE_SECONDS = 3.0

JsonDict = dict[str, Any]

# Slack only lets the app answer with a payload for these envelope types.
_ACCEPTS_RESPONSE_PAYLOAD = frozenset({"slash_commands", "interactive"})


class FakeSocketModeServer:
    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._lock = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ticket_counter = itertools.count(1)
        self._tickets: dict[str, bool] = {}
        self._connections: list[ServerConnection] = []
        self.connection_count = 0
        self.envelopes: dict[str, JsonDict] = {}
        self._sent_at: dict[str, float] = {}
        self.acks: dict[str, JsonDict] = {}
        self.received: list[JsonDict] = []
        self.problems: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeSocketModeServer:
        if self._server is not None:
            return self
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            # The sdk's builtin client answers pings, but slow CI must not cause spurious closes.
            ping_interval=None,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.close_connections(1001, "server stopping")
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketModeServer is not started")
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def issue_url(self) -> str:
        """A single-use connection URL, as ``apps.connections.open`` hands out."""
        ticket = f"ticket-{next(self._ticket_counter)}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._tickets[ticket] = False
        return f"{self.url}/?ticket={ticket}&app_id={self.app_id}"

    # -- test API -----------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        with self._lock:
            return bool(self._connections)

    def wait_for_connection(self, timeout: float = 5) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: bool(self._connections), timeout=timeout):
                raise TimeoutError(f"no Socket Mode client connected within {timeout}s")

    def send_envelope(
        self,
        payload: JsonDict,
        type_: str = "slash_commands",
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5,
    ) -> str:
        """Deliver ``payload`` to the most recent connection; returns the envelope_id to ack."""
        self.wait_for_connection(timeout)
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type_ in _ACCEPTS_RESPONSE_PAYLOAD
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        with self._lock:
            conn = self._connections[-1]
            self.envelopes[envelope_id] = envelope
            self._sent_at[envelope_id] = time.monotonic()
        conn.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 5) -> JsonDict:
        with self._lock:
            if not self._lock.wait_for(lambda: envelope_id in self.acks, timeout=timeout):
                raise TimeoutError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
            return self.acks[envelope_id]

    def close_connections(self, code: int = 1000, reason: str = "") -> None:
        """Close every client connection with a WebSocket close frame (Slack going away)."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.close(code, reason)

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        with self._lock:
            conn = self._connections[-1] if self._connections else None
        if conn is not None:
            conn.send(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink"}}))

    # -- server internals ---------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != "/link":
            return conn.respond(404, "Not Found\n")
        tickets = parse_qs(parts.query).get("ticket")
        if tickets:
            with self._lock:
                used = self._tickets.get(tickets[0])
                if used is None or used:
                    self.problems.append(f"connection with unknown or reused ticket {tickets[0]!r}")
                    return conn.respond(401, "invalid ticket\n")
                self._tickets[tickets[0]] = True
        return None

    def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self.connection_count += 1
            hello = {
                "type": "hello",
                "num_connections": len(self._connections) + 1,
                "debug_info": {"host": "fake-applink", "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        conn.send(json.dumps(hello))
        with self._lock:
            self._connections.append(conn)
            self._lock.notify_all()
        try:
            for raw in conn:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
                self._lock.notify_all()

    def _on_message(self, raw: str | bytes) -> None:
        with self._lock:
            try:
                message = json.loads(raw)
            except ValueError:
                self.problems.append(f"client sent non-JSON text: {raw!r:.200}")
                return
            if not isinstance(message, dict):
                self.problems.append(f"client sent a non-object message: {message!r:.200}")
                return
            self.received.append(message)
            envelope_id = message.get("envelope_id")
            envelope = self.envelopes.get(envelope_id) if isinstance(envelope_id, str) else None
            if envelope is None:
                self.problems.append(f"ack for unknown envelope_id {envelope_id!r}")
                return
            assert isinstance(envelope_id, str)
            if envelope_id in self.acks:
                self.problems.append(f"envelope {envelope_id} acknowledged twice")
                return
            elapsed = time.monotonic() - self._sent_at[envelope_id]
            if elapsed > ACK_DEADLINE_SECONDS:
                self.problems.append(f"envelope {envelope_id} ({envelope['type']}) acked after {elapsed:.1f}s")
            for problem in _check_ack_payload(envelope, message.get("payload")):
                self.problems.append(f"ack of {envelope['type']} {envelope_id}: {problem}")
            self.acks[envelope_id] = message
            self._lock.notify_all()


def _check_ack_payload(envelope: JsonDict, payload: Any) -> list[str]:
    if envelope["payload"].get("type") == "block_suggestion":
        return validate_options(payload)  # the select shows only what the ack carries: nothing is an error
    if payload is None:
        return []
    if not envelope["accepts_response_payload"]:
        return ["payload given but this envelope does not accept a response payload"]
    if not isinstance(payload, dict):
        return [f"payload must be an object, got {type(payload).__name__}"]
    if envelope["type"] == "slash_commands":
        return validate_message(payload) if payload else []
    body = envelope["payload"]
    if body.get("type") != "view_submission" or "response_action" not in payload:
        return []
    action = payload["response_action"]
    if action == "errors":
        errors = payload.get("errors")
        if not isinstance(errors, dict) or not errors:
            return ["response_action=errors needs a non-empty 'errors' object"]
        input_ids = {b.get("block_id") for b in body.get("view", {}).get("blocks", []) if b.get("type") == "input"}
        return [
            f"errors key {key!r} is not an input block_id of the submitted view"
            for key in errors
            if key not in input_ids
        ]
    if action in ("update", "push"):
        return (
            validate_view(payload.get("view", {})) if "view" in payload else [f"response_action={action} needs 'view'"]
        )
    if action == "clear":
        return []
    return [f"unknown response_action {action!r}"]
