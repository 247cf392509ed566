"""The real app talking to a fake Slack Web API, given Slack's requests signed as Slack signs them.

Requests go to the bot's front door (``bot.server.wsgi_app``: signature checks, then Bolt): in-process by
default, its WSGI app called with the request as waitress would hand it over; with ``over_http``, through waitress
on loopback, for the tests about request handling. ``request`` and ``url`` always use HTTP (the server starts on
first use).
"""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from wsgiref.util import setup_testing_defaults

import waitress
from waitress.server import BaseWSGIServer

from bot.api import api_app
from bot.app import create_app
from bot.scheduler import TickReport, tick
from bot.server import EVENTS_PATH, WsgiApp, wsgi_app
from bot.services import Services
from bot.slack_api import make_client
from sandbox import payloads as sr
from sandbox.slack_api import FakeSlack
from storage.db import make_engine, make_session_factory, upgrade
from tests.support import messages


class FakeClock:
    """The bot's notion of now, moved by tests instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept = 0.0

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


class TrackingExecutor(ThreadPoolExecutor):
    """Bolt runs listeners here after the ack; tests wait until that work is done instead of sleeping."""

    def __init__(self) -> None:
        super().__init__(max_workers=5, thread_name_prefix="listener")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 15) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise TimeoutError("listeners still running")


@dataclass
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Server:
    """The bot's WSGI front door served by waitress on a free loopback port, in a thread."""

    def __init__(self, application: WsgiApp) -> None:
        self.server = waitress.create_server(
            application, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:
            # waitress's select() loop sees its sockets closed under it when the harness stops.
            if not self._stopping:
                raise

    def close(self) -> None:
        # Let waitress finish the requests it is servicing before its sockets go away.
        self.server.task_dispatcher.shutdown()
        self._stopping = True
        self.server.close()
        self._thread.join(timeout=5)


class BotHarness:
    def __init__(
        self,
        fake: FakeSlack,
        database_url: str,
        clock: FakeClock,
        *,
        migrate: bool = True,
        over_http: bool = True,
        api_rate_limit: int = 10_000,
    ) -> None:
        """``migrate=False`` for a database already at head; ``over_http=False`` to skip waitress and sockets;
        ``api_rate_limit``: the HTTP API's requests a minute per token (``API_RATE_LIMIT``), high unless a test
        is about it."""
        self.fake = fake
        self.clock = clock
        if migrate:
            upgrade(database_url)
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.executor = TrackingExecutor()
        self.client = make_client("xoxb-test-token", fake.base_url)
        self.services = Services(self.sessions, clock)
        self.app = create_app(
            client=self.client,
            services=self.services,
            signing_secret=sr.SIGNING_SECRET,
            listener_executor=self.executor,
        )
        self.front_door = wsgi_app(self.app, self.engine, api=api_app(self.services, rate_per_minute=api_rate_limit))
        self.over_http = over_http
        self._server: _Server | None = None
        if over_http:
            self._serve()

    def _serve(self) -> _Server:
        if self._server is None:
            self._server = _Server(self.front_door)
        return self._server

    @property
    def server(self) -> BaseWSGIServer:
        return self._serve().server

    @property
    def url(self) -> str:
        return self._serve().url

    def close(self) -> None:
        self.executor.wait_idle()
        if self._server is not None:
            self._server.close()
        self.executor.shutdown()
        self.engine.dispose()

    # --- raw HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        req = urllib.request.Request(self.url + path, data=body.encode() if body else None, method=method)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                result = Response(resp.status, resp.read().decode())
        except urllib.error.HTTPError as err:
            result = Response(err.code, err.read().decode())
        self.executor.wait_idle()
        return result

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str = sr.SIGNING_SECRET,
    ) -> Response:
        all_headers = {"Content-Type": content_type, **sr.sign(body, timestamp, secret), **(headers or {})}
        if self.over_http:
            return self.request("POST", "/slack/events", body, all_headers)
        return self.dispatch(body, all_headers)

    def dispatch(self, body: str, headers: dict[str, str]) -> Response:
        """The request handed to the bot's front door in-process: its WSGI app called directly, no socket.

        Bolt dispatches it as it would behind waitress (signature checks on); the front door's own guarantees
        stay in the path, e.g. a 5xx from Bolt (its thread runner can answer 500 when a listener raises just
        after acking) still reaches Slack as a 200.
        """
        status, answer = self.call_front_door(body.encode(), headers)
        self.executor.wait_idle()
        return Response(status, answer.decode())

    def call_front_door(self, body: bytes, headers: Mapping[str, str | bytes]) -> tuple[int, bytes]:
        """One POST to /slack/events, with the environ a WSGI server such as waitress builds (PEP 3333).

        A header given as bytes arrives as waitress gives it: stripped of spaces and tabs at both ends, then decoded
        as latin-1, so a non-Latin-1 or non-ASCII value reaches the app exactly as from a hostile client over HTTP.
        """
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": EVENTS_PATH,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            text = value.strip(b" \t").decode("latin-1") if isinstance(value, bytes) else value
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = text
        setup_testing_defaults(environ)
        statuses: list[int] = []

        def start_response(status: str, _headers: list[tuple[str, str]], _exc_info: Any = None) -> None:
            statuses.append(int(status.split(" ", 1)[0]))

        answer = b"".join(self.front_door(environ, start_response))
        if not statuses:
            raise RuntimeError("the front door answered without calling start_response")
        return statuses[-1], answer

    # --- what people do in Slack ----------------------------------------------------------------

    @property
    def response_url(self) -> str:
        return self.fake.url + "/response/" + sr.next_id("r")

    def command(self, text: str, **kwargs: Any) -> Response:
        return self.post(sr.form_body(sr.slash_command(text, response_url=self.response_url, **kwargs)))

    def interact(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        return self.post(sr.interactive_body(payload), headers=headers)

    def click(self, message: dict[str, Any], action_id: str, value: str | None = None, **kwargs: Any) -> Response:
        return self.interact(
            sr.message_action(message, action_id, value=value, response_url=self.response_url, **kwargs)
        )

    def submit(self, view: dict[str, Any], values: dict[str, Any], **kwargs: Any) -> Response:
        return self.interact(sr.view_submission(view, values, **kwargs))

    def click_in_view(self, view: dict[str, Any], action_id: str, values: dict[str, Any], **kwargs: Any) -> Response:
        return self.interact(sr.view_action(view, action_id, values, **kwargs))

    def suggest(self, view: dict[str, Any], block_id: str, query: str, **kwargs: Any) -> Response:
        """Someone types ``query`` in the external select of input ``block_id``: Slack asks the app for options."""
        return self.interact(sr.block_suggestion(view, block_id, query, {}, **kwargs))

    def tick(self, now: datetime | None = None) -> TickReport:
        """`onboarding-bot tick --now` in-process: the scheduler's work for an instant, then delivery."""
        if now is not None:
            self.clock.set(now)
        return tick(self.services, self.client, self.clock(), sleep=self.clock.sleep)

    def event(self, event: dict[str, Any], *, team: str = sr.TEAM, event_id: str | None = None,
              headers: dict[str, str] | None = None) -> Response:  # fmt: skip
        body = sr.event_callback(event, team=team, event_id=event_id, event_time=int(self.clock().timestamp()))
        return self.post(json.dumps(body), content_type="application/json", headers=headers)

    # --- what Slack shows -----------------------------------------------------------------------

    def channel_messages(self, channel: str = sr.CHANNEL) -> list[dict[str, Any]]:
        return self.fake.messages(channel)

    def hub(self, channel: str = sr.CHANNEL) -> dict[str, Any]:
        hubs = messages.with_block(self.channel_messages(channel), messages.HUB)
        assert hubs, "no hub message was posted"
        return hubs[-1]

    def synthesis(self, channel: str = sr.CHANNEL) -> dict[str, Any]:
        """The latest synthesis nobody has confirmed or revised yet."""
        pending = messages.with_block(self.channel_messages(channel), messages.SYNTHESIS)
        assert pending, "no synthesis waiting for confirmation"
        return pending[-1]

    def last_view(self) -> dict[str, Any]:
        """The modal as Slack currently shows it after the latest views.open / views.update."""
        calls = [c for c in self.fake.calls if c.method in ("views.open", "views.update")]
        assert calls, "no modal was opened"
        if calls[-1].method == "views.update":
            return self.fake.views[calls[-1].args["view_id"]]
        return self.fake.views[max(v for v in self.fake.views if self.fake.views[v]["type"] == "modal")]


def post_raw(
    harness: BotHarness, body: bytes, headers: dict[str, str | bytes], content_type: str | None = None
) -> Response:
    """POST raw bytes to /slack/events with headers sent byte for byte (urllib refuses non-Latin-1 values)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", harness.server.effective_port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events", skip_accept_encoding=True)
        if content_type is not None:
            connection.putheader("Content-Type", content_type)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        result = Response(response.status, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()
    harness.executor.wait_idle()
    return result
