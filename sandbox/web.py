"""The sandbox's page: a Slack-like client in the browser, served on loopback.

The server renders every part of the page (sidebar, channel, thread, modal, App Home, banner) to HTML from the local
Slack's state; ``static/sandbox.js`` asks for them about once a second, swaps in what changed, and turns clicks and
keystrokes into ``POST /ui/act``, which ``Workspace`` carries out as Slack would.
"""

from __future__ import annotations

import base64
import html
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import render
from .slack_api import BOT_USER_ID
from .workspace import CHANNELS, PEOPLE, SHORTCUTS, Workspace

JsonDict = dict[str, Any]
HOME = "home"
STATIC = files("sandbox") / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


class Page:
    """Renders the parts of the page for one person looking at one channel (or the App Home) and thread."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.fake = workspace.fake

    def _directory(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return dict(self.fake.users), dict(self.fake.channels)

    def state(self, user: str, channel: str, thread: str | None) -> JsonDict:
        users, channels = self._directory()
        parts = {
            "sidebar": self.sidebar(channel),
            "header": self.header(channel),
            "banner": self.banner(),
            "modal": self.modal(user, users, channels),
        }
        if channel == HOME:
            parts["messages"] = self.home(user, users, channels)
            parts["thread"] = ""
        else:
            parts["messages"] = self.messages(user, channel, users, channels)
            parts["thread"] = self.thread(user, channel, thread, users, channels) if thread else ""
        return parts

    def sidebar(self, current: str) -> str:
        rows = ['<div class="sb-section">Channels</div>']
        for channel in CHANNELS:
            active = " sb-active" if channel.id == current else ""
            rows.append(
                f'<button type="button" class="sb-nav{active}" data-nav="{_esc(channel.id)}"># {_esc(channel.name)}'
                "</button>"
            )
        active = " sb-active" if current == HOME else ""
        rows.append('<div class="sb-section">Apps</div>')
        rows.append(f'<button type="button" class="sb-nav{active}" data-nav="{HOME}">onboarding-bot</button>')
        return "".join(rows)

    def header(self, channel: str) -> str:
        if channel == HOME:
            return '<h1 class="sb-title">onboarding-bot</h1><span class="sb-purpose">Home</span>'
        info = self.fake.channels.get(channel, {})
        purpose = (info.get("purpose") or {}).get("value", "")
        canvas = (info.get("properties") or {}).get("canvas", {}).get("file_id")
        link = (
            f'<a class="sb-canvas-link" href="/canvas/{_esc(canvas)}" target="_blank" rel="noopener">Canvas</a>'
            if canvas
            else ""
        )
        return (
            f'<h1 class="sb-title"># {_esc(info.get("name", channel))}</h1>'
            f'<span class="sb-purpose">{_esc(purpose)}</span>{link}'
        )

    def banner(self) -> str:
        notices = [(n.kind, n.text) for n in self.workspace.notices]
        notices += [("error", f"Slack rejected a call from the app: {p}") for p in self.fake.problems[-5:]]
        if not notices:
            return ""
        rows = "".join(
            f'<div class="sb-notice sb-{_esc(kind)}" role="alert">{_esc(text)}</div>' for kind, text in notices
        )
        return f'{rows}<button type="button" class="sb-dismiss" data-act="dismiss">Dismiss</button>'

    def messages(self, user: str, channel: str, users: JsonDict, channels: JsonDict) -> str:
        everything = self.fake.messages(channel)
        replies: dict[str, int] = {}
        for message in everything:
            parent = message.get("thread_ts")
            if parent and parent != message["ts"]:
                replies[parent] = replies.get(parent, 0) + 1
        shown: list[tuple[str, str]] = []
        for message in everything:
            parent = message.get("thread_ts")
            if parent and parent != message["ts"]:
                continue
            html_ = render.message_html(
                message, users=users, channels=channels, channel_id=channel, reply_count=replies.get(message["ts"], 0)
            )
            shown.append((message["ts"], html_))
        for ephemeral in self.fake.ephemerals_for(channel, user):
            if ephemeral.get("thread_ts"):
                continue
            message = _ephemeral_message(ephemeral)
            shown.append(
                (
                    message["ts"],
                    render.message_html(message, users=users, channels=channels, channel_id=channel, ephemeral=True),
                )
            )
        shown.sort(key=lambda pair: float(pair[0]))
        if not shown:
            return '<div class="sb-empty">No messages yet. Type <code>/onboarding step3</code> below to start.</div>'
        return "".join(html_ for _, html_ in shown)

    def thread(self, user: str, channel: str, thread: str, users: JsonDict, channels: JsonDict) -> str:
        found = [m for m in self.fake.messages(channel) if m["ts"] == thread or m.get("thread_ts") == thread]
        found += [
            _ephemeral_message(e) for e in self.fake.ephemerals_for(channel, user) if e.get("thread_ts") == thread
        ]
        found.sort(key=lambda m: float(m["ts"]))
        body = "".join(
            render.message_html(
                m, users=users, channels=channels, channel_id=channel, in_thread=True, ephemeral="_ephemeral" in m
            )
            for m in found
        )
        return (
            '<div class="sb-thread-head"><strong>Thread</strong>'
            '<button type="button" class="sb-close" data-act="close-thread" title="Close">×</button></div>'
            f'<div class="sb-thread-messages">{body}</div>'
            f'<form class="sb-composer" data-thread="{_esc(thread)}">'
            '<textarea name="text" rows="2" placeholder="Reply…" aria-label="Reply in thread"></textarea>'
            '<button type="submit" class="sb-send">Send</button></form>'
        )

    def modal(self, user: str, users: JsonDict, channels: JsonDict) -> str:
        stack = self.fake.modal_stack(user)
        if not stack:
            return ""
        view = stack[-1]
        errors = self.workspace.view_errors.get(view["id"], {})
        blocks = render.blocks_html(view["blocks"], users=users, channels=channels, surface="modal", errors=errors)
        back = (
            '<button type="button" class="sb-back" data-act="close-view" title="Back">‹</button>'
            if len(stack) > 1
            else ""
        )
        submit = view.get("submit")
        close = render.plain_text(view.get("close") or "Cancel")
        footer = f'<button type="button" class="sb-cancel" data-act="close-view">{close}</button>'
        if submit:
            footer += f'<button type="submit" class="sb-submit">{render.plain_text(submit)}</button>'
        return (
            f'<div class="sb-backdrop"><form class="sb-modal" data-view-id="{_esc(view["id"])}"'
            f' data-hash="{_esc(view["hash"])}" role="dialog" aria-modal="true">'
            f'<div class="sb-modal-head">{back}<h2>{render.plain_text(view.get("title"))}</h2>'
            '<button type="button" class="sb-close" data-act="close-view" title="Close">×</button></div>'
            f'<div class="sb-modal-body">{blocks}</div><div class="sb-modal-foot">{footer}</div></form></div>'
        )

    def home(self, user: str, users: JsonDict, channels: JsonDict) -> str:
        view = self.fake.home_view(user)
        if view is None:
            return '<div class="sb-empty">Opening the App Home…</div>'
        blocks = render.blocks_html(view["blocks"], users=users, channels=channels, surface="home")
        return f'<div class="sb-home" data-view-id="{_esc(view["id"])}">{blocks}</div>'

    def document(self, kind: str, item_id: str) -> tuple[int, str]:
        """A file the app uploaded, or a canvas, as a readable page."""
        if kind == "files":
            upload = self.fake.upload(item_id)
            if upload is None:
                return 404, _document_page("Not found", "No such file.")
            text = upload["content"].decode("utf-8", errors="replace")
            return 200, _document_page(str(upload["title"] or upload["filename"]), text)
        canvas = self.fake.canvas(item_id)
        if canvas is None:
            return 404, _document_page("Not found", "No such canvas.")
        name = self.fake.channels.get(canvas["channel_id"], {}).get("name", canvas["channel_id"])
        return 200, _document_page(f"Canvas of #{name}", str(canvas["markdown"]))


def _ephemeral_message(entry: JsonDict) -> JsonDict:
    message = {"type": "message", "user": BOT_USER_ID, "bot_id": "B", "ts": entry["message_ts"], "_ephemeral": True}
    message.update({k: entry[k] for k in ("text", "blocks", "thread_ts") if k in entry})
    return message


def _document_page(title: str, text: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/sandbox.css"></head>'
        f'<body class="sb-document"><h1>{_esc(title)}</h1><pre>{_esc(text)}</pre></body></html>'
    )


def shell(user: str, channel: str) -> str:
    people = "".join(
        f'<option value="{_esc(p.id)}"{" selected" if p.id == user else ""}>{_esc(p.real_name)}</option>'
        for p in PEOPLE
    )
    shortcuts = json.dumps([{"callback_id": c, "name": n} for c, n in SHORTCUTS])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>onboarding-bot sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/blockkit.css"><link rel="stylesheet" href="/static/sandbox.css"></head>
<body><div class="sb-app" data-user="{_esc(user)}" data-channel="{_esc(channel)}" data-shortcuts="{_esc(shortcuts)}">
<header class="sb-topbar">
  <button type="button" class="sb-menu-toggle" data-act="toggle-sidebar" aria-label="Channels">☰</button>
  <strong class="sb-workspace">Acme <span>sandbox</span></strong>
  <label class="sb-who">You are <select id="sb-user" aria-label="You are">{people}</select></label>
  <form class="sb-scheduler" id="sb-scheduler">
    <label>Run the scheduler at <input type="datetime-local" name="at" required></label>
    <button type="submit">Run</button>
  </form>
</header>
<nav class="sb-sidebar" id="sb-sidebar"></nav>
<main class="sb-main">
  <div class="sb-banner" id="sb-banner"></div>
  <div class="sb-header" id="sb-header"></div>
  <div class="sb-messages" id="sb-messages" aria-live="polite"></div>
  <form class="sb-composer" id="sb-composer">
    <textarea name="text" rows="2" aria-label="Message" placeholder="Message, or /onboarding help"></textarea>
    <button type="submit" class="sb-send">Send</button>
  </form>
</main>
<aside class="sb-thread" id="sb-thread"></aside>
<div id="sb-modal"></div>
<div class="sb-popup" id="sb-popup" hidden></div>
</div>
<script src="/static/sandbox.js"></script></body></html>"""


def make_server(workspace: Workspace, host: str, port: int) -> ThreadingHTTPServer:
    page = Page(workspace)
    actions = _actions(workspace)
    allowed_hosts = {"127.0.0.1", "localhost", "::1", host}

    class Handler(BaseHTTPRequestHandler):
        server_version = "onboarding-bot-sandbox"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str | bytes, content_type: str) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            # A name that resolves to 127.0.0.1 (DNS rebinding) must not make another site's page same-origin.
            name = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if name not in allowed_hosts:
                self.send_error(403, "Unknown host")
                return False
            return True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            asked = query.get("user", "")
            user = asked if asked in {p.id for p in PEOPLE} else PEOPLE[0].id
            channel = query.get("channel") or CHANNELS[0].id
            if parts.path == "/":
                self._send(200, shell(user, channel), "text/html; charset=utf-8")
            elif parts.path == "/ui/state":
                state = page.state(user, channel, query.get("thread") or None)
                self._send(200, json.dumps(state), "application/json")
            elif parts.path.startswith("/static/"):
                name = parts.path.removeprefix("/static/")
                resource = STATIC / name
                suffix = "." + name.rsplit(".", 1)[-1]
                if "/" in name or suffix not in STATIC_TYPES or not resource.is_file():
                    self._send(404, "Not found", "text/plain")
                else:
                    self._send(200, resource.read_bytes(), STATIC_TYPES[suffix])
            elif parts.path.startswith(("/files/", "/canvas/")):
                kind, _, item = parts.path.strip("/").partition("/")
                status, body = page.document(kind, item)
                self._send(status, body, "text/html; charset=utf-8")
            else:
                self._send(404, "Not found", "text/plain")

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/ui/act":
                self._send(404, "Not found", "text/plain")
                return
            # JSON only: a page on another site cannot send it without a CORS preflight, which is never granted,
            # so it cannot act in the sandbox on someone's behalf.
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                self._send(415, "JSON only", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                act = json.loads(self.rfile.read(length))
                handler = actions[act["kind"]]
                if act.get("user") not in {p.id for p in PEOPLE}:
                    raise ValueError("unknown person")
                shown = handler(act)
            except (KeyError, ValueError, TypeError, LookupError) as exc:
                self._send(400, json.dumps({"ok": False, "error": str(exc)}), "application/json")
                return
            self._send(200, json.dumps({"ok": True, **(shown or {})}), "application/json")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _actions(ws: Workspace) -> dict[str, Callable[[JsonDict], JsonDict | None]]:
    """Each kind of ``POST /ui/act`` body, and the Workspace method it calls; what one returns goes back to the page
    (the options of a select being typed in), everything else the page reads from ``/ui/state``."""
    return {
        "command": lambda a: ws.command(a["user"], a["channel"], str(a["text"])),
        "say": lambda a: ws.say(a["user"], a["channel"], str(a["text"]), a.get("thread") or None),
        "click": lambda a: ws.click(
            a["user"], a["channel"], a["ts"], a["action_id"], value=a.get("value"), selected=a.get("selected")
        ),
        "view-click": lambda a: ws.click_in_view(
            a["user"],
            a["view_id"],
            a["action_id"],
            a.get("values") or {},
            value=a.get("value"),
            selected=a.get("selected"),
        ),
        "submit": lambda a: ws.submit(a["user"], a["view_id"], a.get("values") or {}),
        "suggest": lambda a: {
            "options": ws.suggest(a["user"], a["view_id"], a["block_id"], str(a["query"]), a.get("values") or {})
        },
        "upload": lambda a: {"file": ws.upload(a["user"], str(a["name"]), base64.b64decode(str(a["content"])))},
        "close-view": lambda a: ws.close(a["user"], a["view_id"]),
        "shortcut": lambda a: ws.shortcut(a["user"], a["channel"], a["ts"], a["callback_id"]),
        "home": lambda a: ws.open_home(a["user"]),
        "scheduler": lambda a: ws.scheduler(str(a["at"])),
        "dismiss": lambda a: ws.dismiss(),
    }


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="sandbox-web", daemon=True)
    thread.start()
    return thread
