"""Requests shaped and signed as Slack sends them: commands, block_actions, view_submission, block_suggestion,
shortcuts, events."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
TEAM = "T0HARNESS"
OTHER_TEAM = "T0OTHER01"
CHANNEL = "C0PLAN001"
CHANNEL_NAME = "onboarding-acme"
ALICE = "U0ALICE01"
BOB = "U0BOB0002"

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    if signature is None:
        raise ValueError("no signing secret to sign with")
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def form_body(fields: dict[str, str]) -> str:
    return urlencode(fields)


def interactive_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def slash_command(
    text: str,
    *,
    response_url: str,
    team: str = TEAM,
    channel: str = CHANNEL,
    channel_name: str = CHANNEL_NAME,
    user: str = ALICE,
    user_name: str = "alice",
) -> dict[str, str]:
    return {
        "token": "unused",
        "team_id": team,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user_name,
        "command": "/onboarding",
        "text": text,
        "api_app_id": "AHARNESS1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": next_id("1.T0."),
    }


def _user(user: str, team: str) -> dict[str, str]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team}


def find_element(blocks: list[dict[str, Any]], action_id: str, value: str | None = None) -> tuple[str, dict]:
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if "accessory" in block:
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("action_id") == action_id and (value is None or element.get("value") == value):
                return block.get("block_id", ""), element
    raise LookupError(f"no element with action_id={action_id!r} value={value!r} in these blocks")


def _action(action_id: str, block_id: str, element: dict[str, Any], selected: str | None = None) -> dict[str, Any]:
    """One entry of ``actions``: a button's value, or what was picked in a select, overflow or date picker."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": element["type"]}
    kind = element["type"]
    if kind == "button":
        action.update(value=element.get("value", ""), text=element.get("text"))
    elif kind in ("overflow", "static_select", "radio_buttons"):
        grouped = [o for group in element.get("option_groups", []) for o in group["options"]]
        options = {o["value"]: o for o in [*element.get("options", []), *grouped]}
        if selected not in options:
            raise ValueError(f"{selected!r} is not an option of {action_id}")
        action["selected_option"] = options[selected]
    elif kind == "datepicker":
        action["selected_date"] = selected
    elif kind == "timepicker":
        action["selected_time"] = selected
    else:
        raise ValueError(f"no action shape for {kind}")
    action["action_ts"] = f"{time.time():.6f}"
    return action


def message_action(
    message: dict[str, Any],
    action_id: str,
    *,
    response_url: str,
    value: str | None = None,
    channel: str = CHANNEL,
    channel_name: str = CHANNEL_NAME,
    user: str = ALICE,
    team: str = TEAM,
    ephemeral: bool = False,
    selected: str | None = None,
) -> dict[str, Any]:
    """A block_actions payload for a click on a button of ``message`` (as the fake Slack stored it), or for
    ``selected`` picked in one of its selects, overflow menus or date pickers."""
    block_id, element = find_element(message["blocks"], action_id, value)
    return {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": "AHARNESS1",
        "token": "unused",
        "container": {
            "type": "message",
            "message_ts": message.get("ts", ""),
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": next_id("2.T0."),
        "team": {"id": team, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "message": copy.deepcopy(message),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [_action(action_id, block_id, element, selected)],
    }


def message_shortcut(
    message: dict[str, Any],
    *,
    response_url: str,
    channel: str = CHANNEL,
    channel_name: str = CHANNEL_NAME,
    user: str = ALICE,
    team: str = TEAM,
    callback_id: str = "add_to_plan",
) -> dict[str, Any]:
    """A message_action payload: someone chose a message shortcut on ``message`` in ``channel``."""
    return {
        "type": "message_action", "callback_id": callback_id, "trigger_id": next_id("5.T0."),
        "message_ts": message.get("ts", ""), "response_url": response_url, "team": {"id": team, "domain": "acme"},
        "channel": {"id": channel, "name": channel_name}, "user": _user(user, team),
        "message": copy.deepcopy(message), "token": "unused", "action_ts": f"{time.time():.6f}",
        "is_enterprise_install": False, "enterprise": None,
    }  # fmt: skip


def _state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """What Slack puts in view.state.values for one input element holding ``value``."""
    kind = element["type"]
    entry: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "number_input"):
        entry["value"] = None if value is None else str(value)
    elif kind in ("static_select", "radio_buttons"):
        grouped = [o for group in element.get("option_groups", []) for o in group["options"]]
        options = {o["value"]: o for o in [*element.get("options", []), *grouped]}
        if value is not None and value not in options:
            raise ValueError(f"{value!r} is not an option of this select")
        entry["selected_option"] = None if value is None else options[value]
    elif kind == "external_select":
        entry["selected_option"] = _external_option(value)
    elif kind in ("multi_static_select", "checkboxes"):
        options = {o["value"]: o for o in element.get("options", [])}
        entry["selected_options"] = [options[v] for v in value or []]
    elif kind == "multi_users_select":
        entry["selected_users"] = list(value or [])
    elif kind == "timepicker":
        entry["selected_time"] = value
    elif kind == "datepicker":
        entry["selected_date"] = value
    elif kind == "file_input":
        entry["files"] = list(value or [])  # file objects, as files.info describes them (FakeSlack.user_file)
    else:
        raise ValueError(f"no state shape for {kind}")
    return entry


def _external_option(value: Any) -> dict[str, Any] | None:
    """An external select's pick: the option the app offered (as Slack echoes it), or, given just a value, an option
    with that value, which is what a forged payload can carry since Slack never checks it against the app's list."""
    if value is None or isinstance(value, dict):
        return value
    return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}


def _initial(element: dict[str, Any]) -> Any:
    kind = element["type"]
    if kind in ("plain_text_input", "number_input"):
        return element.get("initial_value")
    if kind == "external_select":
        return element.get("initial_option")
    if kind in ("static_select", "radio_buttons"):
        return (element.get("initial_option") or {}).get("value")
    if kind in ("multi_static_select", "checkboxes"):
        return [o["value"] for o in element.get("initial_options") or []]
    if kind == "multi_users_select":
        return element.get("initial_users") or []
    if kind == "timepicker":
        return element.get("initial_time")
    if kind == "datepicker":
        return element.get("initial_date")
    return None


def view_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` as Slack builds it from the view's own input blocks.

    Inputs not named in ``values`` keep their initial value, as they would in Slack. Naming a
    block the view does not have is an error, so a renamed block_id breaks the test.
    """
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    unknown = set(values) - set(inputs)
    if unknown:
        raise KeyError(f"the view has no input blocks {sorted(unknown)}; it has {sorted(inputs)}")
    state: dict[str, Any] = {}
    for block_id, element in inputs.items():
        value = values[block_id] if block_id in values else _initial(element)
        state[block_id] = {element["action_id"]: _state_entry(element, value)}
    return {"values": state}


def view_payload(view: dict[str, Any], values: dict[str, Any], *, user: str, team: str) -> dict[str, Any]:
    full = copy.deepcopy(view)
    full["state"] = view_state(view, values)
    full.setdefault("team_id", team)
    return full


def view_submission(view: dict[str, Any], values: dict[str, Any], *, user: str = ALICE, team: str = TEAM) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": _user(user, team),
        "api_app_id": "AHARNESS1",
        "token": "unused",
        "trigger_id": next_id("3.T0."),
        "view": view_payload(view, values, user=user, team=team),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_action(
    view: dict[str, Any],
    action_id: str,
    values: dict[str, Any],
    *,
    user: str = ALICE,
    team: str = TEAM,
    value: str | None = None,
    selected: str | None = None,
) -> dict[str, Any]:
    """A block_actions payload for a button inside an open modal or the App Home, carrying what is typed so far."""
    block_id, element = find_element(view["blocks"], action_id, value)
    return {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": "AHARNESS1",
        "token": "unused",
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": next_id("4.T0."),
        "team": {"id": team, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view_payload(view, values, user=user, team=team),
        "actions": [_action(action_id, block_id, element, selected)],
    }


def block_suggestion(
    view: dict[str, Any], block_id: str, query: str, values: dict[str, Any], *, user: str = ALICE, team: str = TEAM
) -> dict[str, Any]:
    """What Slack sends while someone types ``query`` in the external select of input ``block_id`` of an open modal:
    the app answers with the options to show (``{"options": [...]}``)."""
    block = next((b for b in view["blocks"] if b.get("type") == "input" and b.get("block_id") == block_id), None)
    if block is None or block["element"]["type"] != "external_select":
        raise LookupError(f"the view has no external select in an input block {block_id!r}")
    return {
        "type": "block_suggestion", "user": _user(user, team), "container": {"type": "view", "view_id": view["id"]},
        "api_app_id": "AHARNESS1", "token": "unused", "action_id": block["element"]["action_id"],
        "block_id": block_id, "value": query, "team": {"id": team, "domain": "acme"}, "enterprise": None,
        "is_enterprise_install": False, "view": view_payload(view, values, user=user, team=team),
    }  # fmt: skip


def view_closed(view: dict[str, Any], *, user: str = ALICE, team: str = TEAM) -> dict[str, Any]:
    """Someone closed a modal that asked for ``notify_on_close``."""
    return {
        "type": "view_closed", "team": {"id": team, "domain": "acme"}, "user": _user(user, team),
        "api_app_id": "AHARNESS1", "token": "unused", "view": copy.deepcopy(view), "is_cleared": False,
        "is_enterprise_install": False, "enterprise": None,
    }  # fmt: skip


def event_callback(
    event: dict[str, Any], *, team: str = TEAM, event_id: str | None = None, event_time: int | None = None
) -> dict[str, Any]:
    """The Events API envelope around ``event``, as Slack POSTs it."""
    return {
        "token": "unused", "team_id": team, "api_app_id": "AHARNESS1", "event": event, "type": "event_callback",
        "event_id": event_id or next_id("Ev"), "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [{"team_id": team, "user_id": "UBOTHARNS", "is_bot": True}],
    }  # fmt: skip


def sign_raw(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """``X-Slack-Signature`` over raw bytes and a timestamp as sent (either may be something Slack never sends)."""
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
