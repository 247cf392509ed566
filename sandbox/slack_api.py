"""A fake Slack Web API served over real HTTP on loopback.

Point ``slack_sdk.WebClient(base_url=fake.base_url)`` at it. Every call is recorded in ``calls``;
anything Slack would reject is answered the way Slack answers and also recorded in ``problems``,
so a fixture can assert ``fake.problems == []`` at teardown.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import pickle
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .blockkit import escaping_problems, validate_message, validate_view

if TYPE_CHECKING:
    from .socket_mode import FakeSocketModeServer

TEAM_ID = "T0HARNESS"
TEAM_DOMAIN = "acme"
BOT_USER_ID = "UBOTHARNS"
BOT_ID = "BBOTHARNS"
APP_ID = "AHARNESS1"
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"

# Form-encoded calls carry these as JSON strings (slack_sdk sends e.g. `files` in the query string).
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "files", "metadata", "options"})
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
MAX_RESPONSE_URL_USES = 5
TRIGGER_LIFETIME = 3.0  # seconds a trigger_id can open a modal
MAX_VIEW_STACK = 3
# Canvas markdown: "limited to 1 MiB (1,048,576 characters)".
MAX_CANVAS_MARKDOWN = 1_048_576
CANVAS_OPERATIONS = frozenset(
    {"insert_after", "insert_before", "insert_at_start", "insert_at_end", "replace", "delete", "rename"}
)

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Call:
    method: str
    args: JsonDict
    token: str | None


@dataclass
class _Fault:
    error: str
    status: int
    remaining: int
    headers: dict[str, str]
    after_store: bool = False  # the method does its work (e.g. stores the post) before the fault
    drop: bool = False  # close the connection without an answer
    stall: float | threading.Event | None = None  # wait this long (or until set) before answering
    ok: bool = False  # a placeholder: the call is answered normally


@dataclass
class _Outage:
    error: str
    status: int
    until: datetime | None
    clock: Callable[[], datetime] | None

    def active(self) -> bool:
        return self.until is None or self.clock is None or self.clock() < self.until


@dataclass
class _Answer:
    """What the HTTP handler sends back, and how (faults are acted out outside the fake's lock)."""

    status: int
    body: JsonDict
    headers: dict[str, str]
    drop: bool = False
    stall: float | threading.Event | None = None


class SlackError(Exception):
    """Raised by method handlers to answer ``{"ok": false, "error": ...}`` and record a problem."""

    def __init__(self, error: str, detail: str = "", *, extra: JsonDict | None = None, problem: bool = True) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail
        self.extra = extra or {}
        self.problem = problem


@dataclass(frozen=True)
class _ResponseContext:
    channel: str
    user: str
    message_ts: str | None


@dataclass
class _Stack:
    view_ids: list[str] = field(default_factory=list)


class FakeSlack:
    def __init__(
        self,
        *,
        socket_mode: FakeSocketModeServer | None = None,
        valid_tokens: Collection[str] | None = None,
        first_ts: float | None = None,
    ) -> None:
        """``first_ts``: message timestamps start there (default: a fixed instant in November 2026), e.g.
        ``time.time()`` when a bot that uses the real clock looks its posts up by time."""
        self._first_micros = round(first_ts * 1_000_000) if first_ts is not None else 1_796_000_100_000_000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._socket_mode = socket_mode
        self._valid_tokens = set(valid_tokens) if valid_tokens is not None else None
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        # stop() waits up to one poll interval, in every test's teardown: 5 ms (about 1% of a core while serving)
        # instead of 20 ms took about 15 ms off each of several hundred tests.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.005}, name="fake-slack-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    def attach_socket_mode(self, server: FakeSocketModeServer) -> None:
        self._socket_mode = server

    # -- state and helpers --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all calls, problems and state (messages, views, uploads, faults)."""
        with self._lock:
            self.calls: list[Call] = []
            self.problems: list[str] = []
            self.responses: list[JsonDict] = []
            self.response_calls: list[tuple[str, JsonDict]] = []
            self.ephemerals: list[JsonDict] = []
            self.views: dict[str, JsonDict] = {}
            self.home_views: dict[str, str] = {}
            self.uploads: dict[str, JsonDict] = {}
            # canvas_id -> {"channel_id", "markdown", "edits"}
            self.canvases: dict[str, JsonDict] = {}
            self.channels: dict[str, JsonDict] = {}
            self.users: dict[str, JsonDict] = {}
            self._messages: dict[str, list[JsonDict]] = defaultdict(list)
            self._used_triggers: set[str] = set()
            self._trigger_roots: dict[str, str] = {}
            # Who a trigger_id was issued to, and so whose screen the modal it opens is on.
            self._trigger_users: dict[str, str] = {}
            self._trigger_times: dict[str, float] = {}  # when each trigger this fake issued was issued
            self.view_owners: dict[str, str] = {}
            # response_urls handed out with a channel and person: Slack acts on what is posted to them.
            self._response_contexts: dict[str, _ResponseContext] = {}
            self._stacks: dict[str, _Stack] = {}
            self._last_root: str | None = None
            self._faults: dict[str, list[_Fault]] = defaultdict(list)
            self._outage: _Outage | None = None
            self._response_url_uses: dict[str, int] = defaultdict(int)
            self._counters: dict[str, int] = defaultdict(int)
            self._ts_counter = 0
            self._seed_directory()

    # Everything reset() creates, i.e. all of the fake's state.
    STATE = (
        "calls", "problems", "responses", "response_calls", "ephemerals", "views", "home_views", "uploads",
        "canvases", "channels", "users", "_messages", "_used_triggers", "_trigger_roots", "_stacks", "_last_root",
        "_faults", "_outage", "_response_url_uses", "_counters", "_ts_counter", "_trigger_users", "view_owners",
        "_response_contexts", "_trigger_times",
    )  # fmt: skip

    def save_state(self) -> bytes:
        """All of the workspace's state (messages, views, files, canvases, calls...), to load into a new fake."""
        with self._lock:
            return pickle.dumps({name: getattr(self, name) for name in self.STATE})

    def load_state(self, saved: bytes) -> None:
        """Continue from ``save_state()``'s bytes (written by this same code: pickle trusts its input)."""
        with self._lock:
            for name, value in pickle.loads(saved).items():
                if name in self.STATE:
                    setattr(self, name, value)

    def _seed_directory(self) -> None:
        self.add_channel("C0PLAN001", name="onboarding-acme")
        self.add_user("U0ALICE01", name="alice", real_name="Alice Example")
        self.add_user("U0BOB0002", name="bob", real_name="Bob Example")
        self.add_user(BOT_USER_ID, name="onboarding-bot", real_name="Onboarding Bot", is_bot=True)

    def add_channel(self, channel_id: str, *, name: str | None = None, **fields: Any) -> None:
        with self._lock:
            self.channels[channel_id] = _channel_object(channel_id, name) | fields

    def add_user(self, user_id: str, *, name: str | None = None, **fields: Any) -> None:
        with self._lock:
            self.users[user_id] = _user_object(user_id, name, fields.pop("real_name", None)) | fields

    def add_channel_canvas(self, channel_id: str, markdown: str = "") -> str:
        """A channel canvas someone made in the Slack client (not through this bot); returns its id."""
        with self._lock:
            return self._new_channel_canvas(channel_id, markdown)

    def delete_canvas(self, canvas_id: str) -> None:
        """Someone deleted the canvas in the Slack client: it is gone, and so is its channel's canvas tab."""
        with self._lock:
            canvas = self.canvases.pop(canvas_id)
            channel = self.channels.get(canvas["channel_id"])
            if channel is not None and channel.get("properties", {}).get("canvas", {}).get("file_id") == canvas_id:
                del channel["properties"]["canvas"]
                if not channel["properties"]:
                    del channel["properties"]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> Call:
        calls = self.calls_to(method)
        if not calls:
            raise AssertionError(f"no call to {method}; methods called: {sorted({c.method for c in self.calls})}")
        return calls[-1]

    def messages(self, channel: str) -> list[JsonDict]:
        """Current state (after updates and deletes) of messages posted in ``channel``, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages.get(_dm_channel(channel), []) if not m.get("_deleted")]

    def message(self, channel: str, ts: str) -> JsonDict:
        for msg in self.messages(channel):
            if msg["ts"] == ts:
                return msg
        raise KeyError(f"no message {ts} in {channel}")

    def take_problems(self) -> list[str]:
        """Return and clear the recorded problems (for tests that provoke errors on purpose)."""
        with self._lock:
            problems, self.problems = self.problems, []
            return problems

    def fail(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 200,
        times: int = 1,
        headers: dict[str, str] | None = None,
        *,
        after_store: bool = False,
        drop: bool = False,
        stall: float | threading.Event | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail with ``error`` and HTTP ``status``.

        ``after_store``: the call does its work first (a post is stored, as Slack may do before an
        ``internal_error``), then fails. ``drop``: the connection is closed without any answer (``error`` and
        ``status`` are unused). ``stall``: the answer waits this many seconds, or until the event is set
        (a client with a shorter timeout sees a timeout).
        """
        with self._lock:
            self._faults[method].append(
                _Fault(error, status, times, dict(headers or {}), after_store=after_store, drop=drop, stall=stall)
            )

    def succeed(self, method: str, times: int = 1, *, stall: float | threading.Event | None = None) -> None:
        """The next ``times`` calls to ``method`` are answered normally (to space out the faults queued after),
        after ``stall`` (seconds, or until the event is set) when given: a slow Slack."""
        with self._lock:
            self._faults[method].append(_Fault("", 200, times, {}, stall=stall, ok=True))

    def store_then_fail(self, method: str = "chat.postMessage", times: int = 1, *, status: int = 500,
                        error: str = "internal_error") -> None:  # fmt: skip
        """Slack stores the post, then answers HTTP 500 ``internal_error`` ("some aspect may have succeeded")."""
        self.fail(method, error, status=status, times=times, after_store=True)

    def store_then_drop(self, method: str = "chat.postMessage", times: int = 1) -> None:
        """Slack stores the post, then the connection drops before any answer."""
        self.fail(method, times=times, after_store=True, drop=True)

    def outage(
        self,
        error: str = "service_unavailable",
        status: int = 503,
        *,
        until: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Every method answers ``status``/``error`` (storing nothing) until :meth:`end_outage`, or while
        ``clock()`` is before ``until`` when both are given."""
        with self._lock:
            self._outage = _Outage(error, status, until, clock)

    def end_outage(self) -> None:
        with self._lock:
            self._outage = None

    def faults_left(self, method: str) -> int:
        """Calls to ``method`` that will still fail (0 once every fault set up with :meth:`fail` was used)."""
        with self._lock:
            return sum(f.remaining for f in self._faults.get(method, []) if not f.ok)

    def issue_trigger_id(self, view_id: str | None = None, *, user: str | None = None) -> str:
        """A fresh trigger_id; bound to ``view_id``'s stack (for views.push) when given, and to the person whose
        action it comes from when ``user`` is given (the modal it opens is on their screen)."""
        with self._lock:
            n = self._next("trigger")
            trigger_id = f"{n}.{TEAM_ID}.trigger{n:04d}"
            if view_id is not None:
                self._trigger_roots[trigger_id] = self.views[view_id]["root_view_id"]
            if user is not None:
                self._trigger_users[trigger_id] = user
            self._trigger_times[trigger_id] = time.time()
            return trigger_id

    def issue_response_url(self, channel: str, user: str, *, message_ts: str | None = None) -> str:
        """A response_url for an action of ``user`` in ``channel`` (on the message ``message_ts``, if any).

        What the app posts to it shows up as Slack shows it: an ephemeral message to that person, a message in the
        channel (``in_channel``), or the original message replaced or deleted.
        """
        with self._lock:
            path = f"/response/{self._next('response_url'):06d}"
            self._response_contexts[path] = _ResponseContext(channel, user, message_ts)
            return f"{self.url}{path}"

    def modal_stack(self, user: str) -> list[JsonDict]:
        """The modals open on ``user``'s screen, bottom first (the newest stack they opened)."""
        with self._lock:
            for root in reversed(list(self._stacks)):
                if self.view_owners.get(root) == user:
                    return [json.loads(json.dumps(self.views[v])) for v in self._stacks[root].view_ids]
            return []

    def post_as_user(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> JsonDict:
        """A person posts ``text`` in ``channel`` (in the thread of ``thread_ts``); returns the message."""
        with self._lock:
            msg: JsonDict = {"type": "message", "user": user, "team": TEAM_ID, "text": text, "ts": self._next_ts()}
            if thread_ts:
                msg["thread_ts"] = thread_ts
            self._messages[_dm_channel(channel)].append(msg)
            return _public(msg)

    def post_as_app(self, channel: str, message: JsonDict) -> None:
        """An app's in_channel answer to a slash command: a message from the app in the channel."""
        with self._lock:
            problems = validate_message(message)
            for problem in problems:
                self._problem("in_channel reply", problem)
            if problems:
                return
            content: JsonDict = {k: message[k] for k in ("text", "blocks") if k in message}
            if "blocks" in content:
                content["blocks"] = _with_block_ids(content["blocks"])
            msg: JsonDict = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID,
                             "team": TEAM_ID, "text": "", **content, "ts": self._next_ts()}  # fmt: skip
            self._messages[_dm_channel(channel)].append(msg)

    def show_ephemeral(self, channel: str, user: str, message: JsonDict) -> None:
        """An app's ephemeral answer (a slash command's acknowledgement): recorded like chat.postEphemeral."""
        with self._lock:
            problems = validate_message(message)
            for problem in problems:
                self._problem("ephemeral reply", problem)
            if not problems:
                self._add_ephemeral(channel, user, message)

    def home_view(self, user: str) -> JsonDict | None:
        """The App Home the app last published for ``user``."""
        with self._lock:
            view_id = self.home_views.get(user)
            return json.loads(json.dumps(self.views[view_id])) if view_id is not None else None

    def user_file(self, user: str, filename: str, content: bytes) -> JsonDict:
        """A file ``user`` picked in a form's file input: uploaded to Slack, shared nowhere, readable by the app
        with files:read (files.info, then its url_private_download). Returns the file object the submission carries."""
        with self._lock:
            file_id = f"F{self._next('file'):06d}"
            self.uploads[file_id] = {
                "content": content, "filename": filename, "title": filename, "channel_id": None,
                "initial_comment": None, "thread_ts": None, "completed": True, "uploaded": True,
                "length": len(content), "user": user,
            }  # fmt: skip
            return self._file(file_id)

    def _file(self, file_id: str) -> JsonDict:
        upload = self.uploads[file_id]
        found = _file_object(file_id, upload)
        # Downloads come back to this server (Slack's files.slack.com), with the bot token, as Slack requires.
        found["url_private_download"] = f"{self.url}/files-pri/{TEAM_ID}-{file_id}/download/{upload['filename']}"
        return found

    def upload(self, file_id: str) -> JsonDict | None:
        with self._lock:
            found = self.uploads.get(file_id)
            return dict(found) if found is not None and found["completed"] else None

    def canvas(self, canvas_id: str) -> JsonDict | None:
        with self._lock:
            found = self.canvases.get(canvas_id)
            return dict(found) if found is not None else None

    def ephemerals_for(self, channel: str, user: str) -> list[JsonDict]:
        with self._lock:
            return [dict(e) for e in self.ephemerals if e.get("channel") == channel and e.get("user") == user]

    def answer_submission(self, view_id: str, answer: JsonDict | None) -> dict[str, str]:
        """Act on an app's answer to a view_submission as Slack does; returns the field errors to show, if any.

        No ``response_action``: the modal closes. ``errors``: it stays open with them (each key must be an input
        block of the view). ``update``/``push``: the modal is replaced, or a new one stacked. ``clear``: all close.
        """
        with self._lock:
            action = (answer or {}).get("response_action")
            view = self.views[view_id]
            if action == "errors":
                errors = answer.get("errors") if isinstance(answer, dict) else None
                inputs = {b.get("block_id") for b in view["blocks"] if b.get("type") == "input"}
                if not isinstance(errors, dict) or not errors:
                    self._problem("view_submission", "response_action errors needs a non-empty errors object")
                    return {}
                for key in errors:
                    if key not in inputs:
                        self._problem("view_submission", f"errors names {key!r}, which is not an input block")
                return {str(k): str(v) for k, v in errors.items()}
            if action in ("update", "push"):
                new = self._check_view("view_submission", (answer or {}).get("view"), kind="modal")
                if action == "update":
                    self._store_view(new, view_id=view_id, root=view["root_view_id"], previous=view["previous_view_id"])
                else:
                    stack = self._stacks[view["root_view_id"]]
                    if len(stack.view_ids) >= MAX_VIEW_STACK:
                        self._problem("view_submission", "push_limit_reached")
                        return {}
                    pushed = self._new_view_id()
                    self._store_view(new, view_id=pushed, root=view["root_view_id"], previous=stack.view_ids[-1])
                    stack.view_ids.append(pushed)
                return {}
            if action == "clear":
                self.close_view(view["root_view_id"])
                return {}
            if action is not None:
                self._problem("view_submission", f"unknown response_action {action!r}")
            self.close_view(view_id)
            return {}

    def _add_ephemeral(self, channel: str, user: str, message: JsonDict) -> str:
        ts = self._next_ts()
        shown: JsonDict = {k: message[k] for k in ("text", "blocks") if k in message}
        if "blocks" in shown:
            shown["blocks"] = _with_block_ids(shown["blocks"])
        self.ephemerals.append({"channel": channel, "user": user, **shown, "message_ts": ts})
        return ts

    def close_view(self, view_id: str) -> None:
        """Simulate the user closing/submitting ``view_id``: it and views pushed above it leave the stack."""
        with self._lock:
            root = self.views[view_id]["root_view_id"]
            stack = self._stacks.get(root)
            if stack is None or view_id not in stack.view_ids:
                return
            del stack.view_ids[stack.view_ids.index(view_id) :]
            if not stack.view_ids:
                del self._stacks[root]
                if self._last_root == root:
                    self._last_root = next(reversed(self._stacks), None)

    def _next(self, kind: str) -> int:
        self._counters[kind] += 1
        return self._counters[kind]

    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = self._first_micros + self._ts_counter * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _problem(self, where: str, detail: str) -> None:
        self.problems.append(f"{where}: {detail}")

    # -- HTTP entry points (called from handler threads) ---------------------------------------

    def _handle_api(self, method: str, args: JsonDict, token: str | None) -> _Answer:
        with self._lock:
            self.calls.append(Call(method, args, token))
            if self._outage is not None:
                if self._outage.active():
                    return _Answer(self._outage.status, {"ok": False, "error": self._outage.error}, {})
                self._outage = None
            fault = None
            faults = self._faults.get(method)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
                if not fault.ok and not fault.after_store:
                    return self._faulty(fault)
            try:
                self._authorize(method, token)
                handler = _METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method", f"{method} is not implemented by Slack (or by this fake)")
                body = handler(self, args)
            except SlackError as exc:
                if exc.problem:
                    self._problem(method, f"{exc.error}: {exc.detail}" if exc.detail else exc.error)
                return _Answer(200, {"ok": False, "error": exc.error, **exc.extra}, {})
            if fault is not None and not fault.ok:
                return self._faulty(fault)
            return _Answer(200, {"ok": True, **body}, {}, stall=fault.stall if fault is not None else None)

    @staticmethod
    def _faulty(fault: _Fault) -> _Answer:
        return _Answer(fault.status, {"ok": False, "error": fault.error}, fault.headers, fault.drop, fault.stall)

    def _authorize(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed", "no token in Authorization header or 'token' field")
        if self._valid_tokens is not None and token not in self._valid_tokens:
            raise SlackError("invalid_auth", "token is not one of the workspace's tokens")
        wants_app = method in APP_TOKEN_METHODS
        if token.startswith("xapp-"):
            if not wants_app:
                raise SlackError("not_allowed_token_type", f"{method} needs a bot token (xoxb-), got an app token")
        elif token.startswith("xoxb-"):
            if wants_app:
                raise SlackError("not_allowed_token_type", f"{method} needs an app-level token (xapp-)")
        elif token.startswith(("xoxp-", "xoxe-", "xoxa-")):
            raise SlackError("not_allowed_token_type", f"{method} called with a non-bot token")
        else:
            raise SlackError("invalid_auth", f"malformed token {token[:8]!r}...")

    def _handle_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                self._problem("upload", f"POST to unknown upload URL for {file_id}")
                return 404, "Not Found"
            if upload["completed"]:
                self._problem("upload", f"{file_id} uploaded after files.completeUploadExternal")
            if upload["length"] != len(content):
                self._problem(
                    "upload",
                    f"{file_id}: files.getUploadURLExternal said length={upload['length']}, got {len(content)} bytes",
                )
            upload["content"] = content
            upload["uploaded"] = True
            return 200, f"OK - {len(content)}"

    def _handle_response_url(self, path: str, body: JsonDict | None) -> tuple[int, JsonDict]:
        with self._lock:
            where = f"response_url {path}"
            if body is None:
                self._problem(where, "body is not a JSON object")
                return 400, {"ok": False, "error": "invalid_payload"}
            self.responses.append(body)
            self.response_calls.append((path, body))
            self._response_url_uses[path] += 1
            if self._response_url_uses[path] > MAX_RESPONSE_URL_USES:
                self._problem(where, f"used more than {MAX_RESPONSE_URL_USES} times")
                return 404, {"ok": False, "error": "used_url"}
            context = self._response_contexts.get(path)
            if body.get("delete_original") and context is not None:
                self._delete_original(context)
                return 200, {"ok": True}
            self._lint(where, {k: v for k, v in body.items() if k in ("text", "blocks", "mrkdwn")})
            problems = validate_message(body)
            if body.get("response_type") not in (None, "in_channel", "ephemeral"):
                problems.append(f"response_type: must be in_channel or ephemeral, got {body['response_type']!r}")
            if problems:
                for p in problems:
                    self._problem(where, p)
                return 400, {"ok": False, "error": _message_error(problems), "errors": problems}
            if context is not None:
                self._show_response(context, body)
            return 200, {"ok": True}

    def _original(self, context: _ResponseContext) -> tuple[str, JsonDict] | None:
        """The message a response_url's action came from: ("message", msg) or ("ephemeral", entry)."""
        if context.message_ts is None:
            return None
        for entry in self.ephemerals:
            if entry.get("message_ts") == context.message_ts and entry.get("user") == context.user:
                return "ephemeral", entry
        for msg in self._messages.get(_dm_channel(context.channel), []):
            if msg["ts"] == context.message_ts and not msg.get("_deleted"):
                return "message", msg
        return None

    def _delete_original(self, context: _ResponseContext) -> None:
        original = self._original(context)
        if original is None:
            return
        kind, found = original
        if kind == "ephemeral":
            self.ephemerals.remove(found)
        else:
            found["_deleted"] = True

    def _show_response(self, context: _ResponseContext, body: JsonDict) -> None:
        original = self._original(context) if body.get("replace_original") else None
        content: JsonDict = {k: body[k] for k in ("text", "blocks") if k in body}
        if "blocks" in content:
            content["blocks"] = _with_block_ids(content["blocks"])
        if original is not None:
            kind, found = original
            if kind == "message":
                found.pop("blocks", None)
                found.update(content, edited={"user": BOT_USER_ID, "ts": self._next_ts()})
            else:
                found.pop("blocks", None)
                found.update(content)
        elif body.get("response_type") == "in_channel":
            self.post_as_app(context.channel, content)
        else:
            self._add_ephemeral(context.channel, context.user, content)

    # -- method implementations (called with the lock held) ------------------------------------

    def _lint(self, where: str, payload: Any) -> None:
        """Slack accepts these, but shows them wrongly: recorded as problems, the call still succeeds."""
        for problem in escaping_problems(payload):
            self._problem(where, problem)

    def _check_message(self, method: str, args: JsonDict) -> None:
        self._lint(method, {k: v for k, v in args.items() if k in ("text", "blocks", "mrkdwn")})
        problems = validate_message(args)
        if problems:
            messages = [f"[ERROR] {p}" for p in problems]
            for p in problems:
                self._problem(method, p)
            raise SlackError(
                _message_error(problems),
                extra={"errors": problems, "response_metadata": {"messages": messages}},
                problem=False,
            )

    def _check_view(self, method: str, view: Any, *, kind: str) -> JsonDict:
        if view is None:
            raise SlackError("invalid_arguments", "missing 'view'")
        self._lint(method, {"blocks": view.get("blocks")} if isinstance(view, dict) else None)
        problems = validate_view(view)
        if isinstance(view, dict) and not problems and view.get("type") != kind:
            problems.append(f"view.type: {method} needs a {kind} view, got {view.get('type')!r}")
        if problems:
            for p in problems:
                self._problem(method, p)
            raise SlackError(
                "invalid_arguments",
                extra={"response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]}},
                problem=False,
            )
        return view

    def _require(self, args: JsonDict, *keys: str, error: str = "invalid_arguments") -> None:
        for key in keys:
            if args.get(key) in (None, ""):
                raise SlackError(error, f"missing required argument {key!r}")

    def _find_message(self, channel: Any, ts: Any) -> JsonDict:
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found", "missing 'channel'")
        for msg in self._messages.get(_dm_channel(channel), []):
            if msg["ts"] == ts and not msg.get("_deleted"):
                return msg
        raise SlackError("message_not_found", f"no message ts={ts!r} posted by the bot in {channel}")

    def m_auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": WORKSPACE_URL,
            "team": TEAM_DOMAIN,
            "user": "onboarding-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _check_metadata(self, method: str, args: JsonDict) -> None:
        metadata = args.get("metadata")
        if metadata is None:
            return
        ok = (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and bool(metadata["event_type"])
            and isinstance(metadata.get("event_payload"), dict)
        )
        if not ok:
            raise SlackError(
                "invalid_metadata_format", f"metadata needs event_type and an event_payload object, got {metadata!r}"
            )

    def m_chat_postMessage(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel", error="channel_not_found")
        self._check_message("chat.postMessage", args)
        self._check_metadata("chat.postMessage", args)
        channel = _dm_channel(args["channel"])
        ts = self._next_ts()
        msg: JsonDict = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": args.get("text", ""),
            "ts": ts,
        }
        if "blocks" in args:
            msg["blocks"] = _with_block_ids(args["blocks"])
        for key in ("thread_ts", "metadata", "attachments"):
            if args.get(key) is not None:
                msg[key] = args[key]
        self._messages[channel].append(msg)
        return {"channel": channel, "ts": ts, "message": _public(msg)}

    def m_chat_update(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel", error="channel_not_found")
        self._require(args, "ts", error="message_not_found")
        msg = self._find_message(args["channel"], args["ts"])
        self._check_message("chat.update", args)
        self._check_metadata("chat.update", args)
        if "text" in args:
            msg["text"] = args["text"]
        if "blocks" in args:
            msg["blocks"] = _with_block_ids(args["blocks"])
        if "metadata" in args:
            msg["metadata"] = args["metadata"]
        msg["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        channel = _dm_channel(args["channel"])
        return {"channel": channel, "ts": msg["ts"], "text": msg["text"], "message": _public(msg)}

    def m_chat_postEphemeral(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel", error="channel_not_found")
        self._require(args, "user", error="user_not_found")
        self._check_message("chat.postEphemeral", args)
        ts = self._next_ts()
        self.ephemerals.append({**args, "blocks": _with_block_ids(args["blocks"]), "message_ts": ts} if "blocks" in args
                               else {**args, "message_ts": ts})  # fmt: skip
        return {"message_ts": ts}

    def m_chat_delete(self, args: JsonDict) -> JsonDict:
        msg = self._find_message(args.get("channel"), args.get("ts"))
        msg["_deleted"] = True
        return {"channel": _dm_channel(args["channel"]), "ts": msg["ts"]}

    def m_chat_getPermalink(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel", error="channel_not_found")
        self._require(args, "message_ts", error="message_not_found")
        channel, ts = _dm_channel(args["channel"]), str(args["message_ts"])
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": link}

    def _use_trigger(self, args: JsonDict) -> str:
        self._require(args, "trigger_id")
        trigger_id = str(args["trigger_id"])
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id", f"trigger_id {trigger_id!r} was already used")
        issued = self._trigger_times.get(trigger_id)
        if issued is not None and time.time() - issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id", f"trigger_id {trigger_id!r} is more than 3 seconds old")
        self._used_triggers.add(trigger_id)
        return trigger_id

    def _check_external_id(self, view: JsonDict, own_id: str | None = None) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        for view_id, existing in self.views.items():
            if view_id != own_id and existing.get("external_id") == external_id:
                raise SlackError("duplicate_external_id", f"external_id {external_id!r} is used by {view_id}")

    def _store_view(self, view: JsonDict, *, view_id: str, root: str, previous: str | None) -> JsonDict:
        stored: JsonDict = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view["type"],
            "blocks": _with_block_ids(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{self._next_ts()}.{view_id.lower()}",
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        if view["type"] == "modal":
            stored["title"] = view["title"]
            stored["submit_disabled"] = view.get("submit_disabled", False)
        self.views[view_id] = stored
        return json.loads(json.dumps(stored))

    def _new_view_id(self) -> str:
        return f"V{self._next('view'):06d}"

    def m_views_open(self, args: JsonDict) -> JsonDict:
        trigger_id = self._use_trigger(args)
        view = self._check_view("views.open", args.get("view"), kind="modal")
        self._check_external_id(view)
        view_id = self._new_view_id()
        stored = self._store_view(view, view_id=view_id, root=view_id, previous=None)
        self._stacks[view_id] = _Stack([view_id])
        self._last_root = view_id
        self._trigger_roots.pop(trigger_id, None)
        owner = self._trigger_users.pop(trigger_id, None)
        if owner is not None:
            self.view_owners[view_id] = owner
        return {"view": stored}

    def m_views_push(self, args: JsonDict) -> JsonDict:
        trigger_id = self._use_trigger(args)
        view = self._check_view("views.push", args.get("view"), kind="modal")
        self._check_external_id(view)
        root = self._trigger_roots.get(trigger_id, self._last_root)
        stack = self._stacks.get(root) if root is not None else None
        if stack is None or root is None:
            raise SlackError("invalid_arguments", "views.push with no modal open (use views.open)")
        if len(stack.view_ids) >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached", f"stack of {root} already holds {len(stack.view_ids)} views")
        view_id = self._new_view_id()
        stored = self._store_view(view, view_id=view_id, root=root, previous=stack.view_ids[-1])
        stack.view_ids.append(view_id)
        return {"view": stored}

    def m_views_update(self, args: JsonDict) -> JsonDict:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", "views.update needs view_id or external_id")
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise SlackError("not_found", f"no view with view_id={view_id!r} external_id={external_id!r}")
        view = self._check_view("views.update", args.get("view"), kind=current["type"])
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict", f"hash {args['hash']!r} is stale (current {current['hash']!r})")
        self._check_external_id(view, current["id"])
        return {
            "view": self._store_view(
                view, view_id=current["id"], root=current["root_view_id"], previous=current["previous_view_id"]
            )
        }

    def m_views_publish(self, args: JsonDict) -> JsonDict:
        self._require(args, "user_id", error="user_not_found")
        view = self._check_view("views.publish", args.get("view"), kind="home")
        user_id = str(args["user_id"])
        view_id = self.home_views.get(user_id)
        if view_id is not None and args.get("hash") and args["hash"] != self.views[view_id]["hash"]:
            raise SlackError("hash_conflict", f"hash {args['hash']!r} is stale")
        if view_id is None:
            view_id = self._new_view_id()
            self.home_views[user_id] = view_id
        self._check_external_id(view, view_id)
        return {"view": self._store_view(view, view_id=view_id, root=view_id, previous=None)}

    def m_files_getUploadURLExternal(self, args: JsonDict) -> JsonDict:
        self._require(args, "filename", "length")
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", f"length must be an integer, got {args['length']!r}") from None
        if length < 1:
            raise SlackError("invalid_arguments", f"length must be positive, got {length}")
        file_id = f"F{self._next('file'):06d}"
        self.uploads[file_id] = {
            "content": b"",
            "filename": args["filename"],
            "title": None,
            "channel_id": None,
            "initial_comment": None,
            "thread_ts": None,
            "completed": False,
            "uploaded": False,
            "length": length,
        }
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, args: JsonDict) -> JsonDict:
        self._require(args, "files")
        files = args["files"]
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and "id" in f for f in files):
            raise SlackError(
                "invalid_arguments", f"files must be a non-empty JSON list of {{id, title}}, got {files!r}"
            )
        for entry in files:
            upload = self.uploads.get(entry["id"])
            if upload is None or not upload["uploaded"]:
                raise SlackError("invalid_arguments", f"file {entry['id']!r} was never uploaded to its upload_url")
            if upload["completed"]:
                raise SlackError("invalid_arguments", f"file {entry['id']!r} was already completed")
        channel_id = args.get("channel_id")
        if args.get("channels"):
            channel_id = str(args["channels"]).split(",")[0]
        if args.get("thread_ts") and not channel_id:
            raise SlackError("invalid_arguments", "thread_ts needs channel_id")
        result = []
        for entry in files:
            upload = self.uploads[entry["id"]]
            upload.update(
                title=entry.get("title") or upload["filename"],
                channel_id=channel_id,
                initial_comment=args.get("initial_comment"),
                thread_ts=args.get("thread_ts"),
                completed=True,
            )
            result.append(_file_object(entry["id"], upload))
        if channel_id:
            msg: JsonDict = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": args.get("initial_comment") or "",
                "ts": self._next_ts(),
                "files": result,
                "upload": True,
            }
            if args.get("thread_ts"):
                msg["thread_ts"] = args["thread_ts"]
            self._messages[_dm_channel(str(channel_id))].append(msg)
        return {"files": result}

    def _thread_replies(self, channel: str, parent_ts: str) -> list[JsonDict]:
        return [
            m
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts and not m.get("_deleted")
        ]

    def _listed(self, channel: str, msg: JsonDict, include_metadata: bool) -> JsonDict:
        """A message as conversations.history/replies show it: metadata only when asked for, thread counts."""
        shown = _public(msg)
        if not include_metadata:
            shown.pop("metadata", None)
        if not msg.get("thread_ts") or msg["thread_ts"] == msg["ts"]:
            replies = self._thread_replies(channel, msg["ts"])
            if replies:
                shown.update(thread_ts=msg["ts"], reply_count=len(replies), latest_reply=replies[-1]["ts"])
        else:
            parent = next((m for m in self._messages.get(channel, []) if m["ts"] == msg["thread_ts"]), None)
            if parent is not None:
                shown["parent_user_id"] = parent.get("user")
        return shown

    def _page(self, channel: str, found: list[JsonDict], args: JsonDict, *, default: int, most: int) -> JsonDict:
        limit = _int_arg(args, "limit", default)
        if limit < 1:
            limit = default
        limit = min(limit, most)
        cursor = args.get("cursor") or ""
        offset = 0
        if cursor:
            if not str(cursor).startswith("offset:") or not str(cursor)[7:].isdigit():
                raise SlackError("invalid_cursor", f"cursor {cursor!r} was not returned by this method")
            offset = int(str(cursor)[7:])
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        include_metadata = _flag(args.get("include_all_metadata"))
        return {
            "messages": [self._listed(channel, m, include_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": f"offset:{offset + limit}" if more else ""},
        }

    def m_conversations_history(self, args: JsonDict) -> JsonDict:
        """Top-level messages (thread parents included, replies not), newest first."""
        self._require(args, "channel", error="channel_not_found")
        channel = _dm_channel(str(args["channel"]))
        found = [
            m
            for m in self._messages.get(channel, [])
            if not m.get("_deleted")
            and (not m.get("thread_ts") or m["thread_ts"] == m["ts"])
            and _in_range(m["ts"], args)
        ]
        return self._page(channel, found[::-1], args, default=100, most=999)

    def m_conversations_replies(self, args: JsonDict) -> JsonDict:
        """The thread's parent, then its replies oldest first."""
        self._require(args, "channel", error="channel_not_found")
        self._require(args, "ts", error="thread_not_found")
        channel = _dm_channel(str(args["channel"]))
        msg = next(
            (m for m in self._messages.get(channel, []) if m["ts"] == str(args["ts"]) and not m.get("_deleted")),
            None,
        )
        if msg is None:
            raise SlackError("thread_not_found", f"no message ts={args['ts']!r} in {channel}")
        parent_ts = msg.get("thread_ts") or msg["ts"]
        parent = next((m for m in self._messages.get(channel, []) if m["ts"] == parent_ts), msg)
        replies = [m for m in self._thread_replies(channel, parent_ts) if _in_range(m["ts"], args)]
        return self._page(channel, [parent, *replies], args, default=1000, most=1000)

    def m_conversations_info(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel", error="channel_not_found")
        channel = _dm_channel(str(args["channel"]))
        info = self.channels.get(channel)
        if info is None:
            if channel[:1] not in ("C", "G", "D"):
                raise SlackError("channel_not_found", f"{channel!r} is not a channel id")
            info = _channel_object(channel, None)
        return {"channel": info}

    def m_conversations_members(self, args: JsonDict) -> JsonDict:
        """Members of a channel: those given as ``members=[...]`` to add_channel, else every known user."""
        self._require(args, "channel", error="channel_not_found")
        channel = str(args["channel"])
        info = self.channels.get(channel)
        if info is None:
            raise SlackError("channel_not_found", f"{channel!r} is not a channel the bot knows", problem=False)
        members = list(info.get("members") or self.users)
        limit = _int_arg(args, "limit", 100) or 100
        start = int(args.get("cursor") or 0)
        page = members[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(members) else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def m_users_conversations(self, args: JsonDict) -> JsonDict:
        """The channels ``user`` is in (see m_conversations_members), one page of ``limit`` at a time."""
        self._require(args, "user", error="user_not_found")
        user = str(args["user"])
        ids = [cid for cid, info in self.channels.items() if user in (info.get("members") or self.users)]
        limit = _int_arg(args, "limit", 100) or 100
        start = int(args.get("cursor") or 0)
        page = [self.channels[cid] for cid in ids[start : start + limit]]
        next_cursor = str(start + limit) if start + limit < len(ids) else ""
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def m_files_info(self, args: JsonDict) -> JsonDict:
        self._require(args, "file", error="file_not_found")
        upload = self.uploads.get(str(args["file"]))
        if upload is None or not upload["completed"]:
            raise SlackError("file_not_found", f"no file {args['file']!r}")
        return {"file": self._file(str(args["file"]))}

    def m_conversations_open(self, args: JsonDict) -> JsonDict:
        """The app's DM with one person (``users``): where it sends what only they should get as a file."""
        self._require(args, "users", error="users_list_not_supplied")
        users = str(args["users"]).split(",")
        if len(users) != 1 or users[0][:1] not in ("U", "W"):
            raise SlackError("not_implemented", f"only a DM with one user is modelled, got {args['users']!r}")
        return {"channel": {"id": _dm_channel(users[0])}}

    def download(self, file_id: str, token: str | None) -> tuple[int, bytes]:
        """GET of a file's url_private_download: the bytes, for a bot token only (Slack answers others with a
        login page, never the file)."""
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is None or not upload["completed"]:
                return 404, b"Not Found"
            if (
                not token
                or not token.startswith("xoxb-")
                or (self._valid_tokens is not None and token not in self._valid_tokens)
            ):
                self._problem("download", f"{file_id} downloaded without the bot token")
                return 403, b"<html>Sign in to Slack</html>"
            return 200, bytes(upload["content"])

    def m_users_info(self, args: JsonDict) -> JsonDict:
        self._require(args, "user", error="user_not_found")
        user = str(args["user"])
        info = self.users.get(user)
        if info is None:
            if user[:1] not in ("U", "W"):
                raise SlackError("user_not_found", f"{user!r} is not a user id")
            info = _user_object(user, None, None)
        return {"user": info}

    def _canvas_markdown(self, content: Any, *, required: bool) -> str | None:
        """The markdown of a ``document_content`` argument (an object, or its JSON text in a form)."""
        if content in (None, ""):
            if required:
                raise SlackError("invalid_arguments", "missing 'document_content'")
            return None
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                raise SlackError("invalid_arguments", f"document_content is not JSON: {content[:80]!r}") from None
        if not isinstance(content, dict) or content.get("type") != "markdown":
            raise SlackError("invalid_arguments", f"document_content must be {{type: markdown, markdown}}: {content!r}")
        markdown = content.get("markdown")
        if not isinstance(markdown, str):
            raise SlackError("invalid_arguments", "document_content.markdown must be a string")
        if len(markdown) > MAX_CANVAS_MARKDOWN:
            raise SlackError(
                "invalid_arguments", f"canvas markdown is {len(markdown)} characters, at most {MAX_CANVAS_MARKDOWN}"
            )
        return markdown

    def _new_channel_canvas(self, channel_id: str, markdown: str) -> str:
        channel = self.channels.get(channel_id)
        if channel is None:
            if channel_id[:1] not in ("C", "G"):
                raise SlackError("channel_not_found", f"{channel_id!r} is not a channel id")
            channel = self.channels[channel_id] = _channel_object(channel_id, None)
        if channel.get("properties", {}).get("canvas"):
            raise SlackError(
                "channel_canvas_already_exists",
                f"{channel_id} already has channel canvas {channel['properties']['canvas']['file_id']}",
            )
        canvas_id = f"F0CANVAS{self._next('canvas'):02d}"
        self.canvases[canvas_id] = {"channel_id": channel_id, "markdown": markdown, "edits": 0}
        channel.setdefault("properties", {})["canvas"] = {
            "file_id": canvas_id,
            "is_empty": not markdown,
            "quip_thread_id": f"Q{canvas_id[1:]}",
        }
        return canvas_id

    def m_conversations_canvases_create(self, args: JsonDict) -> JsonDict:
        self._require(args, "channel_id")
        markdown = self._canvas_markdown(args.get("document_content"), required=False)
        return {"canvas_id": self._new_channel_canvas(str(args["channel_id"]), markdown or "")}

    def m_canvases_edit(self, args: JsonDict) -> JsonDict:
        self._require(args, "canvas_id")
        self._require(args, "changes")
        changes = args["changes"]
        if isinstance(changes, str):
            try:
                changes = json.loads(changes)
            except ValueError:
                raise SlackError("invalid_arguments", f"changes is not JSON: {changes[:80]!r}") from None
        if not isinstance(changes, list) or len(changes) != 1 or not isinstance(changes[0], dict):
            raise SlackError("invalid_arguments", f"changes must be a list of exactly one operation, got {changes!r}")
        change = changes[0]
        operation = change.get("operation")
        if operation not in CANVAS_OPERATIONS:
            raise SlackError("invalid_arguments", f"unknown canvas operation {operation!r}")
        canvas = self.canvases.get(str(args["canvas_id"]))
        if canvas is None:
            raise SlackError("canvas_not_found", f"no canvas {args['canvas_id']!r}")
        if operation not in ("replace", "insert_at_start", "insert_at_end") or change.get("section_id"):
            where = f" at section {change['section_id']!r}" if change.get("section_id") else ""
            raise SlackError("invalid_arguments", f"{operation!r}{where} is not implemented by this fake")
        markdown = self._canvas_markdown(change.get("document_content"), required=True) or ""
        if operation == "insert_at_start":
            markdown = f"{markdown}\n{canvas['markdown']}"
        elif operation == "insert_at_end":
            markdown = f"{canvas['markdown']}\n{markdown}"
        if len(markdown) > MAX_CANVAS_MARKDOWN:
            raise SlackError("canvas_editing_failed", f"the canvas would hold {len(markdown)} characters")
        canvas["markdown"] = markdown
        canvas["edits"] += 1
        channel = self.channels.get(canvas["channel_id"], {})
        if channel.get("properties", {}).get("canvas", {}).get("file_id") == args["canvas_id"]:
            channel["properties"]["canvas"]["is_empty"] = not markdown
        return {}

    def m_apps_connections_open(self, args: JsonDict) -> JsonDict:
        if self._socket_mode is None:
            raise SlackError("socket_mode_not_enabled", "no FakeSocketModeServer attached to this FakeSlack")
        return {"url": self._socket_mode.issue_url()}


def _collect_methods() -> dict[str, Callable[[FakeSlack, JsonDict], JsonDict]]:
    methods: dict[str, Callable[[FakeSlack, JsonDict], JsonDict]] = {}
    for name in dir(FakeSlack):
        if name.startswith("m_"):
            methods[name[2:].replace("_", ".")] = getattr(FakeSlack, name)
    return methods


_METHODS = _collect_methods()


@dataclass(frozen=True)
class Queued:
    """A post as the bot queued it: its outbox key, channel, and the key of the post whose thread it replies in."""

    key: str
    channel: str
    parent: str | None = None


@dataclass
class Audit:
    """What Slack holds compared with what was queued (in queue order)."""

    queued: int = 0
    delivered: int = 0  # queued posts found in Slack at least once
    lost: int = 0  # queued posts not in Slack
    duplicated: int = 0  # extra copies
    out_of_order: int = 0  # posts that arrived after a post queued later in their channel
    wrong_thread: int = 0  # replies not in their parent's thread (or top-level posts in a thread)

    @property
    def perfect(self) -> bool:
        return self.delivered == self.queued and not (
            self.lost or self.duplicated or self.out_of_order or self.wrong_thread
        )

    def __str__(self) -> str:
        return (
            f"queued {self.queued}, delivered {self.delivered}, lost {self.lost}, duplicated {self.duplicated}, "
            f"out of order {self.out_of_order}, wrong thread {self.wrong_thread}"
        )


def audit(fake: FakeSlack, queued: list[Queued], event_type: str = "onboarding_outbox") -> Audit:
    """Compare the messages in the channels with ``queued``, matched by the key in their metadata."""
    result = Audit(queued=len(queued))
    position = {q.key: n for n, q in enumerate(queued)}
    by_key = {q.key: q for q in queued}
    first_ts: dict[str, str] = {}
    for channel in dict.fromkeys(q.channel for q in queued):
        latest = -1  # queue position of the latest-queued post seen so far in this channel
        for message in fake.messages(channel):
            metadata = message.get("metadata") or {}
            key = (metadata.get("event_payload") or {}).get("key")
            if metadata.get("event_type") != event_type or key not in by_key:
                continue
            if key in first_ts:
                result.duplicated += 1
                continue
            first_ts[key] = message["ts"]
            if position[key] < latest:
                result.out_of_order += 1
            latest = max(latest, position[key])
    for q in queued:
        if q.key not in first_ts:
            result.lost += 1
            continue
        result.delivered += 1
        message = fake.message(q.channel, first_ts[q.key])
        expected_thread = first_ts.get(q.parent) if q.parent else None
        if message.get("thread_ts") != expected_thread or (q.parent and expected_thread is None):
            result.wrong_thread += 1
    return result


def _public(msg: JsonDict) -> JsonDict:
    return json.loads(json.dumps({k: v for k, v in msg.items() if not k.startswith("_")}))


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _int_arg(args: JsonDict, key: str, default: int) -> int:
    value = args.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments", f"{key} must be an integer, got {value!r}") from None


def _in_range(ts: str, args: JsonDict) -> bool:
    """Slack's oldest/latest bounds: exclusive unless ``inclusive`` is set."""
    inclusive = _flag(args.get("inclusive"))
    try:
        value = Decimal(ts)
        oldest = Decimal(str(args["oldest"])) if args.get("oldest") not in (None, "") else None
        latest = Decimal(str(args["latest"])) if args.get("latest") not in (None, "") else None
    except InvalidOperation:
        raise SlackError("invalid_ts_oldest", f"oldest/latest must be timestamps, got {args!r}") from None
    if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
        return False
    return latest is None or value < latest or (value == latest and inclusive)


def _dm_channel(channel: str) -> str:
    # Posting to a user id lands in the app's DM with that user.
    if channel[:1] in ("U", "W"):
        return "D" + channel[1:]
    return channel


def _with_block_ids(blocks: Any) -> Any:
    """Slack assigns a block_id to every block that comes without one."""
    if not isinstance(blocks, list):
        return blocks
    result = []
    for i, block in enumerate(blocks):
        if isinstance(block, dict) and "block_id" not in block:
            block = {**block, "block_id": f"auto{i:03d}"}
        result.append(block)
    return json.loads(json.dumps(result))


def _message_error(problems: list[str]) -> str:
    if any(p.startswith("blocks") for p in problems):
        return "invalid_blocks"
    if any("at most" in p for p in problems if p.startswith("text")):
        return "msg_too_long"
    return "no_text"


def _channel_object(channel_id: str, name: str | None) -> JsonDict:
    is_im = channel_id.startswith("D")
    return {
        "id": channel_id,
        "name": name or f"channel-{channel_id.lower()}",
        "is_channel": not is_im,
        "is_group": False,
        "is_im": is_im,
        "is_private": channel_id.startswith("G"),
        "is_archived": False,
        "is_member": True,
        "context_team_id": TEAM_ID,
        "created": 1796000000,
    }


def _user_object(user_id: str, name: str | None, real_name: str | None) -> JsonDict:
    handle = name or f"user-{user_id.lower()}"
    real = real_name or handle.title()
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": handle,
        "real_name": real,
        "deleted": False,
        "is_bot": False,
        "tz": "Europe/Berlin",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": {"real_name": real, "display_name": handle, "email": f"{handle}@example.com"},
    }


def _file_object(file_id: str, upload: JsonDict) -> JsonDict:
    filename = upload["filename"]
    return {
        "id": file_id,
        "name": filename,
        "title": upload["title"],
        "user": upload.get("user", BOT_USER_ID),
        "size": len(upload["content"]),
        "mimetype": "text/markdown" if str(filename).endswith(".md") else "application/octet-stream",
        "filetype": str(filename).rsplit(".", 1)[-1].lower() if "." in str(filename) else "binary",
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{filename}",
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{file_id}/{filename}",
        "channels": [upload["channel_id"]] if upload["channel_id"] else [],
        "shares": {},
    }


# -- HTTP plumbing -------------------------------------------------------------------------------


def _decode_form_value(key: str, value: Any) -> Any:
    if key in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_multipart(content_type: str, body: bytes) -> tuple[JsonDict, bytes | None]:
    """Fields and the first file part of a multipart/form-data body."""
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: JsonDict = {}
    file_content: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if part.get_filename() is not None:
            if file_content is None:
                file_content = payload
        elif isinstance(name, str):
            fields[name] = _decode_form_value(name, payload.decode("utf-8"))
    return fields, file_content


def _make_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeSlack/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _send_json(self, status: int, payload: JsonDict, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

        def do_GET(self) -> None:
            self._dispatch(b"")

        def do_POST(self) -> None:
            self._dispatch(self._body())

        def _dispatch(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path.startswith("/api/"):
                self._api(path.removeprefix("/api/"), parts.query, body)
            elif path.startswith("/files-pri/") and self.command == "GET":
                self._download(path)
            elif path.startswith("/upload/") and self.command == "POST":
                self._upload(path.removeprefix("/upload/"), body)
            elif path.startswith("/response/") and self.command == "POST":
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                status, answer = fake._handle_response_url(path, payload if isinstance(payload, dict) else None)
                self._send_json(status, answer)
            else:
                self._send(404, b"Not Found", "text/plain; charset=utf-8")

        def _api(self, method: str, query: str, body: bytes) -> None:
            args: JsonDict = {k: _decode_form_value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)}
            content_type = self.headers.get("Content-Type", "")
            malformed = None
            if body:
                if content_type.startswith("application/json"):
                    try:
                        decoded = json.loads(body)
                    except ValueError as exc:
                        decoded, malformed = None, f"body is not valid JSON: {exc}"
                    if isinstance(decoded, dict):
                        args.update({k: _decode_form_value(k, v) for k, v in decoded.items()})
                    elif malformed is None:
                        malformed = "JSON body is not an object"
                elif content_type.startswith("multipart/form-data"):
                    fields, _ = _parse_multipart(content_type, body)
                    args.update(fields)
                else:
                    form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    args.update({k: _decode_form_value(k, v) for k, v in form})
            token = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                token = auth.removeprefix("Bearer ").strip()
            if "token" in args:
                form_token = args.pop("token")
                token = token or (str(form_token) if form_token else None)
            if malformed is not None:
                with fake._lock:
                    fake.calls.append(Call(method, args, token))
                    fake._problem(method, malformed)
                self._send_json(200, {"ok": False, "error": "invalid_json"})
                return
            answer = fake._handle_api(method, args, token)
            if isinstance(answer.stall, threading.Event):
                answer.stall.wait(timeout=60)
            elif answer.stall:
                threading.Event().wait(answer.stall)
            try:
                if answer.drop:
                    # No status line, no body: the client sees the connection closed under it.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._send_json(answer.status, answer.body, answer.headers)
            except OSError:
                pass  # the client gave up (timeout) or died while we stalled

        def _download(self, path: str) -> None:
            # /files-pri/<team>-<file id>/download/<name>
            parts = path.split("/")
            file_id = parts[2].rpartition("-")[2] if len(parts) > 2 else ""
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
            status, content = fake.download(file_id, token)
            kind = "text/csv" if status == 200 else "text/html; charset=utf-8"
            self._send(status, content, kind)

        def _upload(self, file_id: str, body: bytes) -> None:
            content_type = self.headers.get("Content-Type", "")
            content = body
            if content_type.startswith("multipart/form-data"):
                _, file_content = _parse_multipart(content_type, body)
                content = file_content if file_content is not None else b""
            status, text = fake._handle_upload(file_id, content)
            self._send(status, text.encode(), "text/plain; charset=utf-8")

    return Handler
