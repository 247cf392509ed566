"""Hostile input at the HTTP front door: signed malformed Slack requests, and unsigned or forged ones.

The real app is served over HTTP by waitress (``tests.support.harness.BotHarness``, fake Slack Web API), or
called in-process through the same front door, and sent requests generated deterministically from a seed by
mutating realistic payloads:

* signed garbage (``garbage_cases``): every slash subcommand with odd arguments (unicode digits such as "⑨",
  unclosed quotes, unknown options) and missing fields; ``block_actions`` for every action id the bot registers
  with values it never sent, missing ``team``/``user``/``channel``/``container``/``view`` and non-objects where
  objects belong; ``view_submission`` for every callback id with tampered ``private_metadata`` and broken
  ``state.values``; the message shortcut; Events API envelopes (missing event, event not an object, unknown
  types, missing user/channel/ts); ``url_verification``; bodies that are not JSON, not form-encoded, not UTF-8,
  or empty. Each of these is invalid by construction (a change-making request always carries one breaking
  mutation), so the database must not change.
* signed mutations (``mutation_cases``): random mutations of valid payloads, some of which stay valid.
* unsigned (``unsigned_cases``): no signature, a wrong secret, a stale or future timestamp, a non-numeric
  timestamp, a non-ASCII signature, a tampered body, each with parseable and unparseable bodies: all 401.

Run from the repository root (prints the figures, exits 1 on any 5xx, non-401 refusal or slow known id)::

    .venv/bin/python -m bench.fuzz [--requests 3000] [--seed 7] [--database-url URL] [--in-process]

``--in-process`` skips waitress and sockets: each request goes straight to the front door's WSGI app with the
environ waitress would build (``InProcessSender``). ``tests/test_fuzz.py`` runs the same corpus that way.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import json
import logging
import random
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.server import EVENTS_PATH
from sandbox import payloads as sr
from tests.support.answers import ALL, MILESTONES, complete_step3, open_section
from tests.support.harness import BotHarness
from tests.support.messages import with_button

ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIRS = tuple(str(ROOT / d) + "/" for d in ("bot", "storage", "steps"))
# Acme starts 2026-12-01: "Kickoff held" (day 7) is due 2026-12-08, so a tick on the 9th raises an alert.
ACME = 'customer add "Acme Corp" start=2026-12-01 owner=<@U0BOB0002|bob>'
DAY_AFTER_KICKOFF = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
SLACK_ACK_LIMIT = 3.0
# Rows the garbage may add: every request with a trigger_id or event_id is claimed once (redelivery guard).
VOLATILE_TABLES = {"processed_requests"}

# Text that is never a valid answer where the bot expects an id, a number, a date, a section or a fingerprint.
# It deliberately has no small positive integers (real alert and plan ids) and no section names.
GARBAGE_TEXT: list[str] = [
    "",
    " ",
    "⑨",
    "²",
    "٣",
    "⑨⑨",
    "-1",
    "0",
    "00",
    "999999999",
    "9" * 40,
    "2147483648",
    "1e309",
    "nan",
    "inf",
    "null",
    "true",
    "{}",
    "[]",
    '{"plan_id": 999999}',
    "\x00",
    "nul\x00byte",
    "\u202eevil",
    "💥" * 8,
    "x" * 3001,
    "<!channel>",
    "' OR 1=1 --",
    "%s%n",
    "\\",
    '"',
    "open_section:",
    "milestones ",
    "MILESTONES",
    "1.5",
    "0x10",
    " 7",
    "+7",
    "7 ",
    "Ⅶ",
    "２０２７-０１-０１",
    "2027-13-45",
    "tomorrow",
]
GARBAGE_ANY: list[Any] = [
    *GARBAGE_TEXT,
    None,
    0,
    -1,
    1.5,
    True,
    False,
    10**30,
    [],
    {},
    ["x"],
    {"x": 1},
    [None],
    [[]],
    {"id": None},
]
# Inputs for a value the bot parses as an id (alert ids, plan ids): never a small positive integer.
BAD_IDS: list[Any] = [
    "⑨",
    "²",
    "٣",
    "-1",
    "0",
    "999999",
    "9" * 40,
    "2147483648",
    "1.0",
    " 1",
    "1 ",
    "+1",
    "0x1",
    "one",
    "",
    None,
    0,
    -1,
    999999,
    10**30,
    1.5,
    True,
    [],
    {},
    [1],
    {"id": 1},
]
DATES: list[Any] = ["⑨", "2027-⑨-01", "2027-13-01", "2027-02-30", "tomorrow", "27-01-01", "2027/01/01", 5, [], {}]

# /onboarding arguments each subcommand refuses (the subcommands that change something).
BAD_ARGUMENTS: dict[str, list[str]] = {
    "customer": [
        "customer add",
        'customer add "Zeta" start=2027-⑨-01',
        'customer add "Zeta" start=⑨',
        'customer add "Zeta" start=2027-02-30',
        'customer add "Zeta" owner=bob',
        'customer add "Zeta" owner=<@⑨>',
        'customer add "Zeta" colour=red',
        'customer add "Zeta" start=2027-01-01 start=2027-01-02',
        'customer add "Zeta',
        "customer add Zeta Corp",
        'customer add ""',
        'customer add "' + "x" * 201 + '"',
        'customer add "Zeta" segment=' + "s" * 201,
        'customer add "Acme Corp"',
        "customer ⑨",
        "customer",
        "customer add ⑨=1",
        'customer add "Zeta" =x',
    ],
    "milestone": [
        "milestone",
        "milestone done",
        "milestone ⑨",
        'milestone done "Acme Corp"',
        'milestone done "Nobody" 1',
        'milestone done "Acme Corp" ⑨',
        'milestone done "Acme Corp" ²',
        'milestone done "Acme Corp" ٣',
        'milestone done "Acme Corp" 0',
        'milestone done "Acme Corp" 99999',
        'milestone done "Acme Corp" ' + "9" * 5000,
        'milestone done "Acme Corp" 1 date=⑨',
        'milestone done "Acme Corp" 1 date=2027-13-01',
        'milestone done "Acme Corp" 1 when=today',
        'milestone done "Acme Corp" "No such milestone"',
        'milestone done "Acme Corp" 1 2',
        'milestone done "Acme Corp" -1',
        'milestone done "Acme Corp" 1 date=',
    ],
    "signal": [
        "signal",
        'signal "Acme Corp"',
        "signal adoption=5",
        'signal "Acme Corp" adoption=⑨',
        'signal "Acme Corp" adoption=101',
        'signal "Acme Corp" adoption=-1',
        'signal "Acme Corp" adoption=nan',
        'signal "Acme Corp" adoption=inf',
        'signal "Acme Corp" adoption',
        'signal "Acme Corp" =5',
        'signal "Acme Corp" adoption=5 adoption=6',
        'signal "Nobody" adoption=50',
        'signal "Acme Corp" adoption=1e309',
        'signal "Acme Corp" adoption=²',
        'signal "Acme Corp adoption=5',
    ],
    "alerts": [
        "alerts",
        "alerts there",
        "alerts here x",
        "alerts here plan=#nope",
        "alerts here plan=<#C0NOPE001|nope>",
        "alerts here plan=<#⑨>",
        "alerts here plan=<#C0PLAN001> plan=<#C0PLAN001>",
        "alerts here where=x",
        "alerts ⑨",
    ],
}
# Subcommands that only read (any arguments are fine to send).
READ_ONLY_COMMANDS = ["", "help", "status", "doc", "history", "customer list", "nope", "⑨", '"unclosed', "“curly”"]
ODD_ARGUMENTS = ["⑨", "²", "٣", "１２", '"', "'", "=", "==", "x=", "=x", "\\", "\x00", "<!channel>", "x" * 500]


# --------------------------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    kind: str  # "command customer", "action alert_done", "view section_submit", "event message", "raw", ...
    mutation: str  # what was done to the payload, to quote a failing case
    body: bytes
    content_type: str | None = "application/x-www-form-urlencoded"
    auth: str = "signed"  # or an unsigned variant (see ``auth_headers``)
    known: bool = False  # a command, action id, callback id or shortcut the bot registers: acked within 3 s


@dataclass
class Outcome:
    case: Case
    status: int
    seconds: float
    body: bytes
    errors: list[str] = field(default_factory=list)  # exceptions logged while it (and its listeners) ran


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def _interactive(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _event_body(event: Any, **envelope: Any) -> dict[str, Any]:
    return {
        "token": "unused", "team_id": sr.TEAM, "api_app_id": "AHARNESS1", "event": event, "type": "event_callback",
        "event_id": sr.next_id("Ev"), "event_time": 1796000005,
        "authorizations": [{"team_id": sr.TEAM, "user_id": "UBOTHARNS", "is_bot": True}], **envelope,
    }  # fmt: skip


Path_ = tuple[Any, ...]


def _paths(node: Any, prefix: Path_ = (), depth: int = 0) -> Iterable[Path_]:
    if depth > 8:
        return
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key), depth + 1)


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def _parent(node: Any, path: Path_) -> tuple[Any, Any] | None:
    for key in path[:-1]:
        if not _has(node, key):
            return None
        node = node[key]
    return (node, path[-1]) if _has(node, path[-1]) else None


def _label(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def set_path(payload: Any, path: Path_, value: Any) -> str:
    found = _parent(payload, path)
    if found is None:
        return f"({_label(path)} absent)"
    parent, key = found
    parent[key] = value
    return f"{_label(path)}={_short(value)}"


def delete_path(payload: Any, path: Path_) -> str:
    found = _parent(payload, path)
    if found is None:
        return f"({_label(path)} absent)"
    parent, key = found
    del parent[key]
    return f"del {_label(path)}"


def mutate(rng: random.Random, payload: Any, focus: list[Path_]) -> str:
    """One generic mutation: delete a key, or put garbage (of any type) where something else was."""
    if focus and rng.random() < 0.75:
        path = rng.choice(focus)
    else:
        every = list(_paths(payload))
        if not every:
            return "(empty)"
        path = rng.choice(every)
    if rng.random() < 0.3:
        return delete_path(payload, path)
    return set_path(payload, path, rng.choice(GARBAGE_ANY))


def mutate_form(rng: random.Random, fields: dict[str, str]) -> str:
    key = rng.choice([*fields, "text", "text"])
    if rng.random() < 0.3 and key in fields:
        del fields[key]
        return f"del {key}"
    value = rng.choice(GARBAGE_TEXT)
    if key == "text" and rng.random() < 0.5:
        value = f"{fields.get('text', '')} {rng.choice(ODD_ARGUMENTS)}"
    fields[key] = value
    return f"{key}={_short(value)}"


def tamper_metadata(rng: random.Random, metadata: str) -> tuple[str, str]:
    """``private_metadata`` the bot never wrote: garbage, or the real one cut, padded or edited."""
    choice = rng.randrange(7)
    if choice == 0:
        value = rng.choice(GARBAGE_TEXT)
        return value, f"private_metadata={_short(value)}"
    if choice == 1:
        cut = rng.randrange(len(metadata)) if metadata else 0
        return metadata[:cut], f"private_metadata cut at {cut}"
    if choice == 2:
        return metadata + rng.choice(["x", "}", " ", "⑨", "\x00"]), "private_metadata with a trailing character"
    if choice == 3:
        return "x" + metadata, "private_metadata with a leading character"
    if choice == 4:
        return json.dumps([metadata]), "private_metadata wrapped in a list"
    try:
        data = json.loads(metadata)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return metadata[::-1], "private_metadata reversed"
    # Typed fields with values no form of the bot carries (never a different valid plan, alert or section).
    edits: list[tuple[str, Any]] = [
        ("plan_id", 999999),
        ("plan_id", "⑨"),
        ("plan_id", None),
        ("plan_id", -1),
        ("plan_id", 10**30),
        ("alert_id", 999999),
        ("alert_id", "x"),
        ("alert_id", None),
        ("section", "nope"),
        ("section", 5),
        ("channel_id", None),
        ("channel_id", 5),
        ("milestone_count", "⑨"),
        ("milestone_count", None),
        ("milestone", 7),
        ("milestone", -1),
        ("adding", "yes"),
        ("section_version", "x"),
        ("versions", "x"),
        ("versions", {"nope": 1}),
        ("message_ts", None),
    ]
    key, value = rng.choice([e for e in edits if e[0] in data] or edits[:3])
    if choice == 5 and key in data:
        del data[key]
        return json.dumps(data), f"private_metadata without {key}"
    data[key] = value
    return json.dumps(data), f"private_metadata {key}={_short(value)}"


Breaker = Callable[[random.Random, Any], str]


@dataclass
class Template:
    kind: str
    fmt: str  # "form", "interactive", "json"
    make: Callable[[], Any]
    focus: list[Path_] = field(default_factory=list)
    # Each breaker makes the request certainly invalid. Requests that could change something always get one in
    # the garbage phase; read-only ones (no breakers) get generic mutations only.
    breakers: list[Breaker] = field(default_factory=list)
    known: bool = True

    def encode(self, payload: Any) -> tuple[bytes, str]:
        if self.fmt == "form":
            return _form(payload), "application/x-www-form-urlencoded"
        if self.fmt == "interactive":
            return _interactive(payload), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"


ACTION_FOCUS: list[Path_] = [
    ("type",),
    ("team",),
    ("team", "id"),
    ("user",),
    ("user", "id"),
    ("channel",),
    ("channel", "id"),
    ("container",),
    ("container", "message_ts"),
    ("container", "channel_id"),
    ("container", "view_id"),
    ("actions",),
    ("actions", 0),
    ("actions", 0, "value"),
    ("actions", 0, "value"),
    ("actions", 0, "action_id"),
    ("actions", 0, "block_id"),
    ("trigger_id",),
    ("message",),
    ("message", "ts"),
    ("message", "blocks"),
    ("message", "text"),
    ("view",),
    ("view", "id"),
    ("view", "hash"),
    ("view", "private_metadata"),
    ("view", "state"),
    ("view", "state", "values"),
    ("state",),
    ("response_url",),
    ("api_app_id",),
    ("enterprise",),
    ("is_enterprise_install",),
]
VIEW_FOCUS: list[Path_] = [
    ("type",),
    ("team",),
    ("team", "id"),
    ("user",),
    ("user", "id"),
    ("view",),
    ("view", "id"),
    ("view", "hash"),
    ("view", "private_metadata"),
    ("view", "private_metadata"),
    ("view", "state"),
    ("view", "state", "values"),
    ("view", "callback_id"),
    ("view", "blocks"),
    ("view", "app_installed_team_id"),
    ("view", "team_id"),
    ("trigger_id",),
    ("response_urls",),
]
SHORTCUT_FOCUS: list[Path_] = [
    ("type",),
    ("team",),
    ("team", "id"),
    ("user",),
    ("user", "id"),
    ("channel",),
    ("channel", "id"),
    ("message",),
    ("message", "ts"),
    ("message", "text"),
    ("message", "user"),
    ("message", "bot_id"),
    ("message_ts",),
    ("trigger_id",),
    ("response_url",),
    ("callback_id",),
]
EVENT_FOCUS: list[Path_] = [
    ("type",),
    ("team_id",),
    ("event",),
    ("event", "type"),
    ("event", "user"),
    ("event", "channel"),
    ("event", "ts"),
    ("event", "thread_ts"),
    ("event", "text"),
    ("event", "subtype"),
    ("event", "message"),
    ("event", "tab"),
    ("event", "previous_message"),
    ("event", "deleted_ts"),
    ("event", "event_ts"),
    ("event_id",),
    ("authorizations",),
    ("authorizations", 0),
    ("authorizations", 0, "user_id"),
    ("event", "bot_id"),
]


def _state_values(payload: Any) -> dict[str, Any] | None:
    view = payload.get("view") if isinstance(payload, dict) else None
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else None


def _break_metadata(rng: random.Random, payload: Any) -> str:
    value, label = tamper_metadata(rng, payload["view"]["private_metadata"])
    payload["view"]["private_metadata"] = value
    return label


def _break_value(rng: random.Random, payload: Any) -> str:
    return set_path(payload, ("actions", 0, "value"), rng.choice([*GARBAGE_ANY, *BAD_IDS]))


def _break_option(rng: random.Random, payload: Any) -> str:
    value = rng.choice([*GARBAGE_ANY, *BAD_IDS, "9:1", "0:x", "-1:1", "0:99999999999", ":", "0"])
    return set_path(payload, ("actions", 0, "selected_option", "value"), value)


def _break_id(rng: random.Random, payload: Any) -> str:
    return set_path(payload, ("actions", 0, "value"), rng.choice(BAD_IDS))


def _break_date(rng: random.Random, payload: Any) -> str:
    values = _state_values(payload)
    value = rng.choice(DATES)
    if values is not None:
        values.setdefault("new_due", {}).setdefault("value", {"type": "datepicker"})["selected_date"] = value
    return f"new_due={_short(value)}"


def _break_field_option(rng: random.Random, payload: Any) -> str:
    values = _state_values(payload) or {}
    value = rng.choice([None, {}, "x", {"value": None}, {"value": "⑨"}, {"value": "nope:x"}, {"value": 5}, []])
    values.setdefault("field", {}).setdefault("value", {})["selected_option"] = value
    return f"field.selected_option={_short(value)}"


def _break_required_field(rng: random.Random, fields: Any) -> str:
    key = rng.choice(["team_id", "channel_id", "user_id"])
    fields.pop(key, None)
    return f"del {key}"


def _bad_arguments(subcommand: str) -> Breaker:
    def breaker(rng: random.Random, fields: Any) -> str:
        fields["text"] = rng.choice(BAD_ARGUMENTS[subcommand])
        return f"text={_short(fields['text'])}"

    return breaker


@dataclass
class World:
    """A plan with Step 3 answered, a customer with a missed-milestone alert, and every modal the bot opens."""

    bot: BotHarness
    hub: dict[str, Any]
    synthesis: dict[str, Any]
    alert: dict[str, Any]
    section_views: dict[str, dict[str, Any]]
    extend_view: dict[str, Any]
    shortcut_view: dict[str, Any] | None
    shortcut_message: dict[str, Any]


def build_world(bot: BotHarness) -> World:
    complete_step3(bot)
    bot.click(with_button(bot.hub(), "review_save"), "review_save")  # a synthesis whose confirm button is still there
    synthesis = next(m for m in reversed(bot.channel_messages()) if _has_action(m, "confirm_save"))
    bot.command(ACME)
    bot.tick(DAY_AFTER_KICKOFF)
    alert = next(m for m in reversed(bot.channel_messages()) if _has_action(m, "alert_done"))
    hub = bot.hub()
    section_views = {section: open_section(bot, section, hub) for section in ALL}
    bot.click(hub, "edit_milestone:0", "0")
    section_views["milestone"] = bot.last_view()  # each milestone has its own form
    bot.click(alert, "alert_extend")
    extend_view = bot.last_view()
    message = {"type": "message", "user": sr.BOB, "text": "Done should mean the first invoice is paid",
               "ts": "1796000006.000600", "thread_ts": "1796000001.000100", "team": sr.TEAM}  # fmt: skip
    opened = len(bot.fake.calls_to("views.open"))
    bot.interact(_shortcut(bot, message))
    shortcut_view = bot.last_view() if len(bot.fake.calls_to("views.open")) > opened else None
    bot.fake.take_problems()
    return World(bot, hub, synthesis, alert, section_views, extend_view, shortcut_view, message)


def _has_action(message: dict[str, Any], action_id: str) -> bool:
    try:
        sr.find_element(message.get("blocks", []), action_id)
    except LookupError:
        return False
    return True


def _shortcut(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    return sr.message_shortcut(message, response_url=bot.response_url)


def templates(world: World) -> list[Template]:
    bot = world.bot
    out: list[Template] = []

    def command(text: str) -> Callable[[], Any]:
        return lambda: sr.slash_command(text, response_url=bot.response_url)

    for text in READ_ONLY_COMMANDS:
        out.append(Template(f"command {text.split(' ')[0] or '(empty)'}", "form", command(text)))
    out.append(Template("command step3", "form", command("step3"), breakers=[_break_required_field]))
    valid = {
        "customer": 'customer add "Zeta Ltd" start=2027-01-04',
        "milestone": 'milestone done "Acme Corp" 1',
        "signal": 'signal "Acme Corp" adoption=70',
        "alerts": "alerts here",
    }
    for subcommand, text in valid.items():
        out.append(
            Template(f"command {subcommand}", "form", command(text),
                     breakers=[_bad_arguments(subcommand), _bad_arguments(subcommand), _break_required_field])
        )  # fmt: skip

    def click(message: dict[str, Any], action_id: str, value: str | None = None) -> Callable[[], Any]:
        return lambda: sr.message_action(message, action_id, value=value, response_url=bot.response_url)

    for section in ALL:
        out.append(Template("action open_section", "interactive", click(world.hub, f"open_section:{section}", section),
                            ACTION_FOCUS))  # fmt: skip
    for action_id in ("review_save", "menu_continue", "menu_revise", "menu_help"):
        # The hub shows these one state at a time; a click on any of them is a request Slack may deliver.
        out.append(Template(f"action {action_id}", "interactive", click(with_button(world.hub, action_id), action_id),
                            ACTION_FOCUS))  # fmt: skip
    out.append(Template("action confirm_save", "interactive", click(world.synthesis, "confirm_save"), ACTION_FOCUS,
                        breakers=[_break_value]))  # fmt: skip
    for action_id in ("alert_done", "alert_ack"):
        out.append(Template(f"action {action_id}", "interactive", click(world.alert, action_id), ACTION_FOCUS,
                            breakers=[_break_id]))  # fmt: skip
    out.append(Template("action alert_extend", "interactive", click(world.alert, "alert_extend"), ACTION_FOCUS))
    health = world.section_views["health"]

    def in_view(action_id: str) -> Callable[[], Any]:
        # The form shows "remove" only once a factor was added; the payload is the same shape either way.
        def make() -> Any:
            payload = sr.view_action(health, "add_factor", {})
            payload["actions"][0]["action_id"] = action_id
            return payload

        return make

    for action_id in ("add_factor", "remove_factor"):
        out.append(Template(f"action {action_id}", "interactive", in_view(action_id), ACTION_FOCUS))
    out.append(Template("action edit_milestone", "interactive", click(world.hub, "edit_milestone:0", "0"),
                        ACTION_FOCUS, breakers=[_break_value]))  # fmt: skip
    out.append(Template("action add_milestone", "interactive", click(world.hub, "add_milestone", "add"), ACTION_FOCUS))

    def remove() -> Any:
        elements = [e for b in world.hub["blocks"] for e in b.get("elements", [])]
        menu = next(e for e in elements if e["action_id"] == "remove_milestone")
        first = menu["options"][0]["value"]
        return sr.message_action(world.hub, "remove_milestone", response_url=bot.response_url, selected=first)

    out.append(Template("action remove_milestone", "interactive", remove, ACTION_FOCUS, breakers=[_break_option]))

    form_answers = {
        **ALL,
        "milestones": {k: v for k, v in MILESTONES.items() if not k.startswith("milestones.")},
        "milestone": {k: v for k, v in MILESTONES.items() if k.startswith("milestones.0.")},
    }
    for section, view in world.section_views.items():
        answers = form_answers[section]
        out.append(Template("view section_submit", "interactive",
                            lambda v=view, a=answers: sr.view_submission(v, a), VIEW_FOCUS,
                            breakers=[_break_metadata]))  # fmt: skip
    out.append(Template("view extend_deadline", "interactive",
                        lambda: sr.view_submission(world.extend_view, {"new_due": "2027-01-15"}), VIEW_FOCUS,
                        breakers=[_break_metadata, _break_date]))  # fmt: skip
    if world.shortcut_view is not None:
        shortcut_view = world.shortcut_view
        option = next(o["value"] for g in shortcut_view["blocks"][1]["element"]["option_groups"] for o in g["options"])
        out.append(Template("view add_to_plan_submit", "interactive",
                            lambda: sr.view_submission(shortcut_view, {"field": option, "mode": "append"}), VIEW_FOCUS,
                            breakers=[_break_metadata, _break_field_option]))  # fmt: skip
    out.append(Template("shortcut add_to_plan", "interactive", lambda: _shortcut(bot, world.shortcut_message),
                        SHORTCUT_FOCUS))  # fmt: skip

    # Events refer to threads and replies that do not exist, so even a well-formed one changes nothing.
    stranger = "1796000001.000100"
    events = {
        "app_home_opened": {"type": "app_home_opened", "user": sr.ALICE, "channel": "D0HOME001", "tab": "home",
                            "event_ts": "1796000010.001000"},
        "message": {"type": "message", "channel": sr.CHANNEL, "user": sr.BOB, "text": "a reply",
                    "ts": "1796000006.000600", "thread_ts": stranger, "event_ts": "1796000006.000600",
                    "channel_type": "channel"},
        "message_changed": {"type": "message", "subtype": "message_changed", "channel": sr.CHANNEL,
                            "ts": "1796000007.000700", "event_ts": "1796000007.000700",
                            "message": {"type": "message", "user": sr.BOB, "text": "edited", "ts": "1796000006.000600",
                                        "thread_ts": stranger}},
        "message_deleted": {"type": "message", "subtype": "message_deleted", "channel": sr.CHANNEL,
                            "ts": "1796000008.000800", "deleted_ts": "1796000006.000600",
                            "event_ts": "1796000008.000800"},
        "app_uninstalled": {"type": "app_uninstalled", "event_ts": "1796000011.001100"},
        "reaction_added": {"type": "reaction_added", "user": sr.BOB, "reaction": "eyes"},
    }  # fmt: skip
    for name, event in events.items():
        out.append(Template(f"event {name}", "json", lambda e=event: _event_body(copy.deepcopy(e)), EVENT_FOCUS,
                            known=False))  # fmt: skip
    out.append(Template("url_verification", "json",
                        lambda: {"token": "unused", "challenge": "c" * 20, "type": "url_verification"},
                        [("challenge",), ("type",), ("token",)], known=False))  # fmt: skip
    return out


# Signed bodies that are not a Slack request at all.
RAW_BODIES: list[bytes] = [
    b"", b" ", b"{", b"}", b"[]", b"null", b'"x"', b"123", b"true", b"\xff\xfe\x00", b"\xc3\x28", b"{\xff}",
    b"payload=", b"payload=%7B", b"payload=%FF%FE", b"payload=null", b"payload=%5B%5D", b"payload=%22x%22",
    b"payload=123", b"payload=%7B%7D", b"a=b&&&=&=", b"%%%", b"command=/onboarding", b"command=%2Fonboarding&text=help",
    b"ssl_check=1&token=x", b"payload=%7B%22type%22%3A%22block_actions%22%7D",
    b'{"type":"event_callback"}', b'{"type":"event_callback","event":"x"}', b'{"type":"event_callback","event":[]}',
    b'{"type":"event_callback","event":{"type":5}}', b'{"type":"event_callback","event":{"type":"message"}}',
    b'{"type":"event_callback","event":{}}', b'{"type":"event_callback","event":null}',
    b'{"type":"event_callback","event":{"type":"message","subtype":"message_changed"}}',
    b'{"type":"event_callback","event":{"type":"app_home_opened","tab":"home"}}',
    b'{"type":"block_actions","actions":[]}', b'{"type":"block_actions","actions":"x"}',
    b'{"type":"block_actions","actions":[5]}', b'{"type":"block_actions","actions":[{}]}',
    b'{"type":"block_actions","actions":[{"action_id":"alert_done"}]}', b'{"type":"view_submission","view":"x"}',
    b'{"type":"view_submission","view":{"callback_id":5}}', b'{"type":"view_submission","view":{"callback_id":"x"}}',
    b'{"type":"view_submission","view":{"callback_id":"section_submit"}}',
    b'{"type":"view_closed","view":{"callback_id":"section_submit"}}',
    b'{"type":"message_action","callback_id":"add_to_plan"}', b'{"type":"shortcut","callback_id":"add_to_plan"}',
    b'{"type":"url_verification"}', b'{"type":"url_verification","challenge":{"x":1}}', b'{"ssl_check":"1"}',
    b'{"team":[],"user":5,"channel":7}', b'{"team":{"id":[]},"user":{"id":{}}}', b'{"response_urls":"x"}',
    b'{"response_urls":[5]}', b'{"response_urls":[{}]}', b'{"enterprise":5}', b'{"authorizations":[5]}',
    b'{"authorizations":"x"}', b'{"authorizations":[]}', b'{"view":{"app_installed_team_id":[]}}',
    b'{"is_ext_shared_channel":true,"type":"event_callback","event":"x"}', b'{"type":"block_suggestion"}',
    b'{"type":"interactive_message","callback_id":"x","actions":[]}', b'{"command":5}', b'{"command":"/onboarding"}',
    b'{"command":"/onboarding","text":5}', b'{"command":"/onboarding","text":"status","team_id":[]}',
    b'{"type":"event_callback","event":{"type":"function_executed"}}', b"\x00" * 10, "⑨".encode() * 50,
]  # fmt: skip
RAW_CONTENT_TYPES: list[str | None] = [
    "application/json", "application/x-www-form-urlencoded", "text/plain", None, "multipart/form-data; boundary=x",
    "application/json; charset=utf-8", "application/x-www-form-urlencoded; charset=latin-1",
]  # fmt: skip


def _raw_case(rng: random.Random) -> Case:
    return Case("raw", "raw body", rng.choice(RAW_BODIES), rng.choice(RAW_CONTENT_TYPES))


def _case(template: Template, payload: Any, labels: list[str]) -> Case:
    body, content_type = template.encode(payload)
    return Case(template.kind, "; ".join(labels) or "(as sent)", body, content_type, known=template.known)


def garbage_cases(world: World, rng: random.Random, count: int) -> list[Case]:
    """Signed requests that are invalid by construction: the database must not change."""
    pool = templates(world)
    cases: list[Case] = []
    while len(cases) < count:
        if rng.random() < 0.08:
            cases.append(_raw_case(rng))
            continue
        template = rng.choice(pool)
        payload = copy.deepcopy(template.make())  # builders share parts of the world's messages
        labels = [rng.choice(template.breakers)(rng, payload)] if template.breakers else []
        for _ in range(rng.choice((0, 1, 1, 2, 3)) if template.breakers else rng.choice((1, 1, 2, 3))):
            labels.append(mutate_form(rng, payload) if template.fmt == "form" else mutate(rng, payload, template.focus))
        cases.append(_case(template, payload, labels))
    return cases


def mutation_cases(world: World, rng: random.Random, count: int) -> list[Case]:
    """Signed random mutations of valid requests; some stay valid and do their work."""
    pool = templates(world)
    cases: list[Case] = []
    for _ in range(count):
        template = rng.choice(pool)
        payload = copy.deepcopy(template.make())  # builders share parts of the world's messages
        labels = []
        for _ in range(rng.choice((0, 1, 1, 2))):
            labels.append(mutate_form(rng, payload) if template.fmt == "form" else mutate(rng, payload, template.focus))
        cases.append(_case(template, payload, labels))
    return cases


UNSIGNED_AUTH = [
    "none", "timestamp only", "signature only", "wrong secret", "stale 301 s", "stale 1 h", "stale 0", "future 310 s",
    "ts:abc", "ts:", "ts: ", "ts:1.5e9", "ts:١٧٩٦٠٠٠٠٠٠", "ts:0x6a", "ts:+NOW", "ts:-NOW", "ts:NOW ", "ts: NOW",
    "ts:NaN", "ts:" + "9" * 50, "ts:１７９６", "sig:", "sig:v0=", "sig:v1=HEX", "sig:V0=HEX",
    "sig:v0=HEXUPPER", "sig:v0=é", "sig:v0=HEX0", "sig:v0=HE", "sig:v0=" + "0" * 64, "sig:garbage", "tampered",
]  # fmt: skip


def unsigned_cases(world: World, rng: random.Random, count: int) -> list[Case]:
    """Unsigned, forged, stale and oddly-timestamped requests, with parseable and unparseable bodies."""
    pool = templates(world)
    cases = []
    for i in range(count):
        auth = UNSIGNED_AUTH[i % len(UNSIGNED_AUTH)]
        if rng.random() < 0.5:
            template = rng.choice(pool)
            case = _case(template, copy.deepcopy(template.make()), [])
        else:
            case = _raw_case(rng)
        cases.append(Case(case.kind, auth, case.body, case.content_type, auth=auth))
    return cases


def is_ssl_check_body(body: bytes) -> bool:
    """Slack's certificate check for slash command URLs, which Slack sends unsigned: ``ssl_check=1&token=...``."""
    try:
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True)).get("ssl_check") == "1"
    except ValueError:
        return False


def auth_headers(auth: str, body: bytes, now: int | None = None) -> dict[str, bytes]:
    """Slack's two headers for ``body`` as ``auth`` describes: signed, or one of the ways of not being signed."""
    now = int(time.time()) if now is None else now

    def signed(ts: str, secret: str = sr.SIGNING_SECRET) -> dict[str, bytes]:
        return {"X-Slack-Request-Timestamp": ts.encode(), "X-Slack-Signature": sr.sign_raw(body, ts, secret).encode()}

    if auth == "signed":
        return signed(str(now))
    if auth == "none":
        return {}
    if auth == "timestamp only":
        return {"X-Slack-Request-Timestamp": str(now).encode()}
    if auth == "signature only":
        return {"X-Slack-Signature": signed(str(now))["X-Slack-Signature"]}
    if auth == "wrong secret":
        return signed(str(now), "not-the-signing-secret")
    if auth.startswith(("stale", "future")):
        offset = {"stale 301 s": -301, "stale 1 h": -3600, "stale 0": -now, "future 310 s": 310}[auth]
        return signed(str(now + offset))
    if auth.startswith("ts:"):
        ts = auth[3:].replace("NOW", str(now))
        # Signed over the odd timestamp exactly as sent: only the timestamp check can refuse it.
        digest = sr.sign_raw(body, ts, sr.SIGNING_SECRET)
        return {"X-Slack-Request-Timestamp": ts.encode("utf-8"), "X-Slack-Signature": digest.encode()}
    if auth.startswith("sig:"):
        good = signed(str(now))["X-Slack-Signature"].decode()
        sig = auth[4:].replace("HEXUPPER", good[3:].upper()).replace("HEX", good[3:])
        return {"X-Slack-Request-Timestamp": str(now).encode(), "X-Slack-Signature": sig.encode("utf-8")}
    if auth == "tampered":
        headers = signed(str(now))
        return {**headers, "X-Slack-Signature": sr.sign_raw(body + b"x", str(now), sr.SIGNING_SECRET).encode()}
    raise ValueError(auth)


# --------------------------------------------------------------------------------------------------------------
# Running


class ErrorLog(logging.Handler):
    """Every exception logged anywhere while a request runs, as "Type: message @ file:line"."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._lock_records = threading.Lock()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            with self._lock_records:
                self.records.append(describe(record.exc_info[1]))

    def drain(self) -> list[str]:
        with self._lock_records:
            records, self.records = self.records, []
        return records


def describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f.filename.startswith(PROJECT_DIRS)]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{Path(where.filename).relative_to(ROOT) if where.filename.startswith(str(ROOT)) else where.filename}:" \
            f"{where.lineno}" if where else "?"  # fmt: skip
    lines = str(error).strip().splitlines() or [""]
    message = lines[-1] if isinstance(error, SlackApiError) else lines[0]  # "The server responded with: {...}"
    if len(message) > 100:
        message = message[:97] + "..."
    return f"{type(error).__name__}: {message} @ {place}"


class HttpSender:
    """One keep-alive HTTP connection to the app; raw bytes in headers (as a hostile client may send)."""

    def __init__(self, bot: BotHarness) -> None:
        self.host, self.port = "127.0.0.1", int(bot.url.rsplit(":", 1)[1])
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, bytes], content_type: str | None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.putrequest("POST", EVENTS_PATH, skip_accept_encoding=True)
                if content_type is not None:
                    self.connection.putheader("Content-Type", content_type)
                for name, value in headers.items():
                    self.connection.putheader(name, value)
                self.connection.putheader("Content-Length", str(len(body)))
                self.connection.endheaders(body)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


class InProcessSender:
    """The same requests handed to the front door's WSGI app in-process (``BotHarness.call_front_door``), with the
    environ waitress would build. Sockets and waitress were about 40 % of the fuzz's CPU.
    """

    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot

    def post(self, body: bytes, headers: dict[str, bytes], content_type: str | None) -> tuple[int, bytes]:
        typed: dict[str, str | bytes] = {**headers, **({"Content-Type": content_type} if content_type else {})}
        return self.bot.call_front_door(body, typed)

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


Sender = HttpSender | InProcessSender


def run(bot: BotHarness, cases: list[Case], errors: ErrorLog, sender: Sender) -> list[Outcome]:
    """Send ``cases`` one at a time; each outcome carries the exceptions logged until its listeners finished."""
    outcomes = []
    for case in cases:
        headers = auth_headers(case.auth, case.body)
        started = time.perf_counter()
        status, body = sender.post(case.body, headers, case.content_type)
        seconds = time.perf_counter() - started
        bot.executor.wait_idle(timeout=60)
        outcomes.append(Outcome(case, status, seconds, body, errors.drain()))
    return outcomes


def snapshot(bot: BotHarness, skip: set[str] = VOLATILE_TABLES) -> dict[str, list[str]]:
    """Every row of every table (but ``skip``), to compare before and after."""
    from storage.models import Base

    rows: dict[str, list[str]] = {}
    with bot.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in skip:
                rows[table.name] = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
    return rows


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, str]:
    return {
        name: f"{len(before[name])} rows -> {len(after[name])} rows" + ("" if len(before[name]) != len(after[name])
                                                                      else " (same count, contents differ)")
        for name in before
        if before[name] != after.get(name)
    }  # fmt: skip


@dataclass
class Report:
    garbage: list[Outcome]
    mutations: list[Outcome]
    unsigned: list[Outcome]
    database_changes: dict[str, str]
    unsigned_database_changes: dict[str, str]
    unsigned_slack_calls: int

    @property
    def signed(self) -> list[Outcome]:
        return self.garbage + self.mutations

    def server_errors(self) -> list[Outcome]:
        return [o for o in self.signed + self.unsigned if o.status >= 500]

    def not_refused(self) -> list[Outcome]:
        """Unsigned requests not answered 401 (Slack's unsigned certificate check gets an empty 200, as in Bolt)."""
        return [o for o in self.unsigned if o.status != 401 and not (is_ssl_check_body(o.case.body) and not o.body)]

    def slow(self) -> list[Outcome]:
        return [o for o in self.signed if o.case.known and o.seconds >= SLACK_ACK_LIMIT]

    def leaks(self) -> list[Outcome]:
        return [o for o in self.signed + self.unsigned if b"Traceback" in o.body or b'File "' in o.body]

    def summary(self) -> str:
        signed = Counter(o.status for o in self.signed)
        unsigned = Counter(o.status for o in self.unsigned)
        slowest = max((o.seconds for o in self.signed if o.case.known), default=0.0)
        return (
            f"fuzz: {len(self.signed) + len(self.unsigned)} requests: {len(self.signed)} signed malformed "
            f"({len(self.garbage)} garbage + {len(self.mutations)} mutations), statuses "
            f"{dict(sorted(signed.items()))}; {len(self.unsigned)} unsigned/forged/stale, statuses "
            f"{dict(sorted(unsigned.items()))}; 5xx: {len(self.server_errors())}; slowest known-id ack "
            f"{slowest * 1000:.0f} ms; database changed by garbage: {self.database_changes or 'no'}"
        )

    def failures(self, limit: int = 40) -> str:
        """Distinct failing cases (5xx or slow), one line each, grouped by kind and the exception logged."""
        groups: dict[tuple[str, int, str], list[Outcome]] = {}
        for outcome in self.server_errors() + self.slow():
            cause = outcome.errors[0] if outcome.errors else "(nothing logged)"
            status = outcome.status if outcome.status >= 500 else 0
            groups.setdefault((outcome.case.kind, status, cause), []).append(outcome)
        lines = []
        for (kind, status, cause), outcomes in sorted(groups.items(), key=lambda g: -len(g[1]))[:limit]:
            example = outcomes[0]
            what = f"HTTP {status}" if status else f"{example.seconds:.1f} s"
            lines.append(f"{len(outcomes):4d} x {kind} [{what}] e.g. {example.case.mutation[:90]!r}: {cause}")
        return "\n".join(lines)

    def logged_errors(self, limit: int = 40) -> str:
        """Exceptions logged while answering (no 5xx, but worth knowing), by kind and cause, with an example input."""
        counts: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], str] = {}
        for outcome in self.signed:
            for error in outcome.errors:
                counts[(outcome.case.kind, error)] += 1
                examples.setdefault((outcome.case.kind, error), outcome.case.mutation)
        return "\n".join(
            f"{n:4d} x {kind}: {cause}\n       e.g. {examples[(kind, cause)][:110]!r}"
            for (kind, cause), n in counts.most_common(limit)
        )


def fuzz(
    bot: BotHarness, *, seed: int, garbage: int, mutations: int, unsigned: int, in_process: bool = False
) -> Report:
    """The corpus sent over HTTP through waitress, or with ``in_process`` straight to the front door's WSGI app."""
    world = build_world(bot)
    sender: Sender = InProcessSender(bot) if in_process else HttpSender(bot)
    rng = random.Random(seed)
    errors = ErrorLog()
    root = logging.getLogger()
    level = root.level
    root.addHandler(errors)
    root.setLevel(min(level, logging.ERROR))
    try:
        before = snapshot(bot)
        garbage_outcomes = run(bot, garbage_cases(world, rng, garbage), errors, sender)
        after = snapshot(bot)
        mutation_outcomes = run(bot, mutation_cases(world, rng, mutations), errors, sender)
        calls = len(bot.fake.calls)
        everything = snapshot(bot, skip=set())
        unsigned_outcomes = run(bot, unsigned_cases(world, rng, unsigned), errors, sender)
        unsigned_changes = changed_tables(everything, snapshot(bot, skip=set()))
        unsigned_calls = len(bot.fake.calls) - calls
    finally:
        sender.close()
        root.removeHandler(errors)
        root.setLevel(level)
    bot.fake.take_problems()  # Slack refusing garbage ids and spent trigger ids is the point of the exercise
    return Report(garbage_outcomes, mutation_outcomes, unsigned_outcomes, changed_tables(before, after),
                  unsigned_changes, unsigned_calls)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from sandbox.slack_api import FakeSlack
    from tests.conftest import NOW
    from tests.support.databases import postgres_schema
    from tests.support.harness import FakeClock

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="signed requests (plus a tenth unsigned)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--in-process", action="store_true", help="hand requests to the front door's WSGI app, without waitress"
    )
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (a throwaway schema is used); default: a SQLite file"
    )
    args = parser.parse_args(argv)
    logging.getLogger().addHandler(logging.NullHandler())  # tracebacks are counted, not printed
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(FakeSlack())
        if args.database_url:
            database_url = stack.enter_context(postgres_schema(args.database_url, prefix="bench_fuzz"))
        else:
            database_url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/fuzz.db"
        bot = BotHarness(fake, database_url, clock=FakeClock(NOW), over_http=not args.in_process)
        try:
            started = time.perf_counter()
            report = fuzz(bot, seed=args.seed, garbage=args.requests * 4 // 5, mutations=args.requests // 5,
                          unsigned=max(args.requests // 10, len(UNSIGNED_AUTH)),
                          in_process=args.in_process)  # fmt: skip
            elapsed = time.perf_counter() - started
        finally:
            bot.close()
    print(report.summary() + f" ({elapsed:.1f} s)")
    if report.server_errors() or report.slow():
        print("failing cases:\n" + report.failures())
    for outcome in report.not_refused():
        print(f"not refused with 401: {outcome.status} for {outcome.case.mutation!r} {outcome.case.body[:60]!r}")
    logged = report.logged_errors()
    if logged:
        print("exceptions logged while answering:\n" + logged)
    bad = report.server_errors() or report.not_refused() or report.slow() or report.leaks()
    return 1 if bad or report.database_changes or report.unsigned_database_changes else 0


if __name__ == "__main__":
    sys.exit(main())
