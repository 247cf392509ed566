"""Modal input blocks whose block_id is the answer's path (``milestones.0.name``).

Naming each input after its place in the answer model gives one mechanism for three jobs:
reading ``view.state.values`` back into a nested dict, prefilling from saved answers, and
routing a validation error (whose location is that same path) to the exact field.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from bot.blocks.common import Block, option, plain
from bot.ids import VALUE
from steps.errors import UserError
from steps.step3 import MAX_TEXT
from steps.validation import FieldError
from steps.zones import is_known_zone, zone_label

Option = tuple[str, str]  # (value, label)


def lookup(raw: dict[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _input(path: str, label: str, element: dict[str, Any], *, optional: bool, hint: str | None) -> Block:
    block: Block = {"type": "input", "block_id": path, "label": plain(label), "optional": optional, "element": element}
    if hint:
        block["hint"] = plain(hint)
    return block


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def text_input(
    path: str,
    label: str,
    raw: dict[str, Any],
    *,
    multiline: bool = False,
    optional: bool = True,
    max_length: int = MAX_TEXT,
    hint: str | None = None,
) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": VALUE,
        "multiline": multiline,
        "max_length": max_length,
    }
    value = _text(lookup(raw, path))
    if value is not None:
        element["initial_value"] = value[:max_length]
    return _input(path, label, element, optional=optional, hint=hint)


def number_input(
    path: str,
    label: str,
    raw: dict[str, Any],
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    optional: bool = True,
    hint: str | None = None,
) -> Block:
    element: dict[str, Any] = {"type": "number_input", "action_id": VALUE, "is_decimal_allowed": False}
    if minimum is not None:
        element["min_value"] = str(minimum)
    if maximum is not None:
        element["max_value"] = str(maximum)
    value = _text(lookup(raw, path))
    if value is not None:
        element["initial_value"] = value
    return _input(path, label, element, optional=optional, hint=hint)


def select_input(
    path: str, label: str, raw: dict[str, Any], options: list[Option], *, optional: bool = True, hint: str | None = None
) -> Block:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": VALUE,
        "options": [option(v, text) for v, text in options],
    }
    current = _text(lookup(raw, path))
    chosen = [(v, text) for v, text in options if v == current]
    if chosen:
        element["initial_option"] = option(*chosen[0])
    return _input(path, label, element, optional=optional, hint=hint)


def multi_select_input(
    path: str, label: str, raw: dict[str, Any], options: list[Option], *, hint: str | None = None
) -> Block:
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": VALUE,
        "options": [option(v, text) for v, text in options],
    }
    current = set(lookup(raw, path) or [])
    chosen = [option(v, text) for v, text in options if v in current]
    if chosen:
        element["initial_options"] = chosen
    return _input(path, label, element, optional=True, hint=hint)


def users_input(path: str, label: str, raw: dict[str, Any], *, hint: str | None = None) -> Block:
    element: dict[str, Any] = {"type": "multi_users_select", "action_id": VALUE}
    users = lookup(raw, path) or []
    if users:
        element["initial_users"] = list(users)
    return _input(path, label, element, optional=True, hint=hint)


# Slack asks the app for options once this many characters are typed: every zone name has at least two.
ZONE_QUERY_LENGTH = 2


def zoneoption(zone: str) -> dict[str, Any]:
    return option(zone, zone_label(zone))


def zone_options(zones: list[str]) -> list[dict[str, Any]]:
    """The answer to Slack's ``block_suggestion``: ``zones`` as options, in the order given."""
    return [zoneoption(zone) for zone in zones]


def zone_input(path: str, label: str, raw: dict[str, Any], *, optional: bool, hint: str | None) -> Block:
    """A time zone found by typing: Slack asks the app for matches (``block_suggestion``) as the person types.

    Starts at the zone in ``raw`` when the server knows it; else at nothing, so a required field makes the person
    pick one rather than submit a zone the scheduler could not use.
    """
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": VALUE,
        "min_query_length": ZONE_QUERY_LENGTH,
        "placeholder": plain("Search time zones"),
    }
    current = _text(lookup(raw, path))
    if current is not None and is_known_zone(current):
        element["initial_option"] = zoneoption(current)
    return _input(path, label, element, optional=optional, hint=hint)


def time_input(path: str, label: str, raw: dict[str, Any], *, optional: bool = False) -> Block:
    element: dict[str, Any] = {"type": "timepicker", "action_id": VALUE}
    value = _text(lookup(raw, path))
    if value is not None:
        element["initial_time"] = value[:5]  # saved as HH:MM:SS, Slack wants HH:MM
    return _input(path, label, element, optional=optional, hint=None)


# No list in any form is longer than this (5 milestones, 6 custom factors): a larger index is not ours.
MAX_ROWS = 10


def _option_value(option: Any) -> Any:
    return option.get("value") if isinstance(option, dict) else None


def _element_value(element: dict[str, Any]) -> Any:
    """One input's value as Slack reports it; a shape the element cannot have reads as unanswered."""
    kind = element.get("type")
    if kind in ("plain_text_input", "number_input"):
        return element.get("value")
    if kind in ("static_select", "external_select", "radio_buttons"):
        return _option_value(element.get("selected_option"))
    if kind in ("multi_static_select", "checkboxes"):
        options = element.get("selected_options")
        return [_option_value(o) for o in options] if isinstance(options, list) else []
    if kind == "multi_users_select":
        users = element.get("selected_users")
        return list(users) if isinstance(users, list) else []
    if kind == "timepicker":
        return element.get("selected_time")
    if kind == "datepicker":
        return element.get("selected_date")
    return None


def _key(part: str) -> str | int | None:
    """A path segment: a field name, or a row index small enough to be one of ours (None: neither)."""
    if part.isascii() and part.isdigit():
        return int(part) if len(part) <= 2 and int(part) < MAX_ROWS else None
    return part if part and not part[0].isdigit() else None


def _place(raw: dict[str, Any], keys: list[str | int], value: Any) -> None:
    """Put ``value`` at ``keys`` in ``raw``, creating rows and groups; a path that clashes is dropped."""
    node: Any = raw
    for key, following in pairwise([*keys, None]):
        last = following is None
        default: Any = None if last else ([] if isinstance(following, int) else {})
        if isinstance(node, list) and isinstance(key, int):
            node.extend([None] * (key + 1 - len(node)))
            if last:
                node[key] = value
                return
            if node[key] is None:
                node[key] = default
        elif isinstance(node, dict) and isinstance(key, str):
            if last:
                node[key] = value
                return
            node.setdefault(key, default)
        else:
            return
        node = node[key]


def read_state(values: Any) -> dict[str, Any]:
    """``view.state.values`` → the nested answer dict its block ids describe.

    A signed payload can carry any state: block ids that are not answer paths, huge row indices, elements of
    the wrong shape. Those are left out, so validation reports the answers as missing instead of crashing.
    """
    raw: dict[str, Any] = {}
    if not isinstance(values, dict):
        return raw
    for path, by_action in values.items():
        element = by_action.get(VALUE) if isinstance(by_action, dict) else None
        if not isinstance(path, str) or not isinstance(element, dict):
            continue
        keys = [_key(part) for part in path.split(".")]
        if keys and None not in keys and isinstance(keys[0], str):
            _place(raw, keys, _element_value(element))  # type: ignore[arg-type]
    return raw


def errors_for_view(view: dict[str, Any], errors: list[FieldError]) -> dict[str, str]:
    """``response_action: errors`` wants input block ids; an error with no matching input goes to the first one."""
    blocks = view.get("blocks")
    input_ids = [
        b["block_id"]
        for b in (blocks if isinstance(blocks, list) else [])
        if isinstance(b, dict) and b.get("type") == "input" and isinstance(b.get("block_id"), str)
    ]
    if not input_ids:  # not a form of ours: nowhere to show the errors but in place of the form
        raise UserError(" ".join(error.message for error in errors[:3]))
    out: dict[str, str] = {}
    for error in errors:
        path = ".".join(str(p) for p in error.loc)
        target = next((i for i in input_ids if i == path or i.startswith(path + ".")), input_ids[0])
        out.setdefault(target, error.message[:2000])
    return out
