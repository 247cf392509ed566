"""A strict, pure Block Kit validator modelled on the limits Slack enforces.

Every public function returns a list of human-readable problems; an empty list means Slack would
accept the payload. Problems start with a JSON-ish path (``blocks[2].text.text: ...``) so a failing
test points straight at the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

SURFACES = ("message", "modal", "home")

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_BYTES = 250_000
DEFAULT_MIN_QUERY_LENGTH = 3  # characters an external select waits for before asking the app, when it does not say

_SELECTS = ("static_select", "multi_static_select", "users_select", "multi_users_select", "external_select")
_INPUT_ELEMENTS = frozenset(
    {
        *_SELECTS,
        "plain_text_input",
        "number_input",
        "datepicker",
        "timepicker",
        "checkboxes",
        "radio_buttons",
        "file_input",
    }
)
_ACTIONS_ELEMENTS = frozenset(
    {*_SELECTS, "button", "overflow", "datepicker", "timepicker", "checkboxes", "radio_buttons"}
)
_ACCESSORY_ELEMENTS = frozenset({*_ACTIONS_ELEMENTS, "image"})

_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class _Checker:
    def __init__(self, surface: str) -> None:
        self.surface = surface
        self.problems: list[str] = []

    # -- primitives ---------------------------------------------------------------------------

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def keys(self, obj: dict[str, Any], path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed_set = set(allowed) | {"type"}
        for key in obj:
            if key not in allowed_set:
                self.add(path, f"unknown key {key!r} for type {obj.get('type')!r}")
        for key in required:
            if key not in obj:
                self.add(path, f"missing required key {key!r}")

    def is_dict(self, obj: Any, path: str) -> bool:
        if not isinstance(obj, dict):
            self.add(path, f"must be an object, got {type(obj).__name__}")
            return False
        return True

    def string(self, obj: dict[str, Any], key: str, path: str, max_len: int, *, min_len: int = 0) -> None:
        if key not in obj:
            return
        value = obj[key]
        if not isinstance(value, str):
            self.add(f"{path}.{key}", f"must be a string, got {type(value).__name__}")
        elif len(value) > max_len:
            self.add(f"{path}.{key}", f"must be at most {max_len} characters, got {len(value)}")
        elif len(value) < min_len:
            self.add(f"{path}.{key}", f"must be at least {min_len} characters")

    def boolean(self, obj: dict[str, Any], key: str, path: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            self.add(f"{path}.{key}", f"must be a boolean, got {obj[key]!r}")

    def text(
        self,
        obj: Any,
        path: str,
        *,
        max_len: int,
        plain_only: bool = False,
    ) -> None:
        if not self.is_dict(obj, path):
            return
        kind = obj.get("type")
        if kind == "plain_text":
            self.keys(obj, path, ("text", "emoji"), ("text",))
            self.boolean(obj, "emoji", path)
        elif kind == "mrkdwn":
            if plain_only:
                self.add(path, "must be a plain_text object, got mrkdwn")
            self.keys(obj, path, ("text", "verbatim"), ("text",))
            self.boolean(obj, "verbatim", path)
        else:
            self.add(path, f"unknown text object type {kind!r} (expected plain_text or mrkdwn)")
            return
        value = obj.get("text")
        if not isinstance(value, str):
            if "text" in obj:
                self.add(f"{path}.text", "must be a string")
        elif not value:
            self.add(f"{path}.text", "must not be empty")
        elif len(value) > max_len:
            self.add(f"{path}.text", f"must be at most {max_len} characters, got {len(value)}")

    def identifier(self, obj: dict[str, Any], key: str, path: str) -> None:
        if key not in obj:
            return
        value = obj[key]
        if not isinstance(value, str) or not value:
            self.add(f"{path}.{key}", "must be a non-empty string")
        elif len(value) > 255:
            self.add(f"{path}.{key}", f"must be at most 255 characters, got {len(value)}")

    def list_of(self, obj: dict[str, Any], key: str, path: str, *, min_items: int, max_items: int) -> list[Any]:
        value = obj.get(key)
        if not isinstance(value, list):
            self.add(f"{path}.{key}", "must be a list")
            return []
        if len(value) < min_items:
            self.add(f"{path}.{key}", f"must have at least {min_items} item(s)")
        if len(value) > max_items:
            self.add(f"{path}.{key}", f"must have at most {max_items} items, got {len(value)}")
        return value

    # -- composition objects ------------------------------------------------------------------

    def confirm(self, obj: Any, path: str) -> None:
        if not self.is_dict(obj, path):
            return
        if "type" in obj:
            self.add(path, "confirm objects have no 'type'")
        allowed = {"title", "text", "confirm", "deny", "style"}
        for key in obj:
            if key not in allowed and key != "type":
                self.add(path, f"unknown key {key!r} in confirm object")
        for key in ("title", "text", "confirm", "deny"):
            if key not in obj:
                self.add(path, f"missing required key {key!r}")
        if "title" in obj:
            self.text(obj["title"], f"{path}.title", max_len=100, plain_only=True)
        if "text" in obj:
            self.text(obj["text"], f"{path}.text", max_len=300)
        for key in ("confirm", "deny"):
            if key in obj:
                self.text(obj[key], f"{path}.{key}", max_len=30, plain_only=True)
        if "style" in obj and obj["style"] not in ("primary", "danger"):
            self.add(f"{path}.style", f"must be 'primary' or 'danger', got {obj['style']!r}")

    def option(self, obj: Any, path: str, *, mrkdwn_ok: bool, url_ok: bool) -> None:
        if not self.is_dict(obj, path):
            return
        allowed = {"text", "value", "description"} | ({"url"} if url_ok else set())
        for key in obj:
            if key not in allowed:
                self.add(path, f"unknown key {key!r} in option object")
        for key in ("text", "value"):
            if key not in obj:
                self.add(path, f"missing required key {key!r}")
        if "text" in obj:
            self.text(obj["text"], f"{path}.text", max_len=75, plain_only=not mrkdwn_ok)
        self.string(obj, "value", path, 150)
        if "description" in obj:
            self.text(obj["description"], f"{path}.description", max_len=75, plain_only=not mrkdwn_ok)
        self.string(obj, "url", path, 3000)

    def placeholder(self, obj: dict[str, Any], path: str) -> None:
        if "placeholder" in obj:
            self.text(obj["placeholder"], f"{path}.placeholder", max_len=150, plain_only=True)

    def options_and_initial(
        self,
        obj: dict[str, Any],
        path: str,
        *,
        max_options: int,
        multi: bool,
        mrkdwn_ok: bool = False,
        groups_ok: bool = True,
        min_options: int = 1,
    ) -> None:
        has_options = "options" in obj
        has_groups = groups_ok and "option_groups" in obj
        options: list[Any] = []
        if has_options and has_groups:
            self.add(path, "provide either 'options' or 'option_groups', not both")
        elif not has_options and not has_groups:
            self.add(path, "missing required key 'options'" + (" (or 'option_groups')" if groups_ok else ""))
        if has_options:
            options = self.list_of(obj, "options", path, min_items=min_options, max_items=max_options)
            for i, opt in enumerate(options):
                self.option(opt, f"{path}.options[{i}]", mrkdwn_ok=mrkdwn_ok, url_ok=False)
        if has_groups:
            groups = self.list_of(obj, "option_groups", path, min_items=1, max_items=100)
            for g, group in enumerate(groups):
                gpath = f"{path}.option_groups[{g}]"
                if not self.is_dict(group, gpath):
                    continue
                for key in group:
                    if key not in ("label", "options"):
                        self.add(gpath, f"unknown key {key!r} in option group")
                if "label" in group:
                    self.text(group["label"], f"{gpath}.label", max_len=75, plain_only=True)
                else:
                    self.add(gpath, "missing required key 'label'")
                group_options = self.list_of(group, "options", gpath, min_items=1, max_items=100)
                for i, opt in enumerate(group_options):
                    self.option(opt, f"{gpath}.options[{i}]", mrkdwn_ok=mrkdwn_ok, url_ok=False)
                options.extend(group_options)
        values = [o.get("value") for o in options if isinstance(o, dict)]
        if len(values) != len(set(map(repr, values))):
            self.add(path, "option values must be unique")

        known = [_option_key(o) for o in options if isinstance(o, dict)]
        if multi:
            if "initial_option" in obj:
                self.add(path, "multi-select elements take 'initial_options', not 'initial_option'")
            if "initial_options" in obj:
                initial = obj["initial_options"]
                if not isinstance(initial, list):
                    self.add(f"{path}.initial_options", "must be a list")
                else:
                    for i, opt in enumerate(initial):
                        ipath = f"{path}.initial_options[{i}]"
                        self.option(opt, ipath, mrkdwn_ok=mrkdwn_ok, url_ok=False)
                        if isinstance(opt, dict) and _option_key(opt) not in known:
                            self.add(ipath, f"initial option {opt.get('value')!r} is not one of the options")
        else:
            if "initial_options" in obj:
                self.add(path, "single-select elements take 'initial_option', not 'initial_options'")
            if "initial_option" in obj:
                opt = obj["initial_option"]
                self.option(opt, f"{path}.initial_option", mrkdwn_ok=mrkdwn_ok, url_ok=False)
                if isinstance(opt, dict) and _option_key(opt) not in known:
                    self.add(f"{path}.initial_option", f"initial option {opt.get('value')!r} is not one of the options")

    # -- elements -----------------------------------------------------------------------------

    def element(self, obj: Any, path: str, allowed_types: frozenset[str]) -> None:
        if not self.is_dict(obj, path):
            return
        kind = obj.get("type")
        validator = _ELEMENTS.get(kind) if isinstance(kind, str) else None
        if validator is None:
            self.add(path, f"unknown or unsupported element type {kind!r}")
            return
        if kind not in allowed_types:
            self.add(path, f"element type {kind!r} is not allowed here")
            return
        validator(self, obj, path)
        if kind != "image":
            self.identifier(obj, "action_id", path)

    def el_button(self, obj: dict[str, Any], path: str) -> None:
        self.keys(
            obj, path, ("text", "action_id", "url", "value", "style", "confirm", "accessibility_label"), ("text",)
        )
        if "text" in obj:
            self.text(obj["text"], f"{path}.text", max_len=75, plain_only=True)
        self.string(obj, "value", path, 2000)
        self.string(obj, "url", path, 3000)
        self.string(obj, "accessibility_label", path, 75)
        if "style" in obj and obj["style"] not in ("primary", "danger"):
            self.add(f"{path}.style", f"must be 'primary' or 'danger', got {obj['style']!r}")
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")

    def el_static_select(self, obj: dict[str, Any], path: str) -> None:
        multi = obj.get("type") == "multi_static_select"
        allowed = ["action_id", "options", "option_groups", "placeholder", "confirm", "focus_on_load"]
        allowed += ["initial_options", "max_selected_items"] if multi else ["initial_option"]
        # initial_option(s) is diagnosed with a clearer message by options_and_initial.
        self.keys(obj, path, [*allowed, "initial_option", "initial_options"])
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        if multi:
            self.min_int(obj, "max_selected_items", path, 1)
        self.options_and_initial(obj, path, max_options=100, multi=multi)

    def el_external_select(self, obj: dict[str, Any], path: str) -> None:
        """Its options come from the app's answers to ``block_suggestion``, so the view holds none of its own."""
        allowed = ["action_id", "initial_option", "min_query_length", "placeholder", "confirm", "focus_on_load"]
        self.keys(obj, path, allowed)
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        self.min_int(obj, "min_query_length", path, 0)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        if "initial_option" in obj:
            self.option(obj["initial_option"], f"{path}.initial_option", mrkdwn_ok=False, url_ok=False)

    def el_file_input(self, obj: dict[str, Any], path: str) -> None:
        """Modals only (an input block); the files arrive in view.state.values, uploaded by the person."""
        self.keys(obj, path, ("action_id", "filetypes", "max_files"))
        filetypes = obj.get("filetypes")
        if "filetypes" in obj and not (
            isinstance(filetypes, list) and filetypes and all(isinstance(t, str) and t for t in filetypes)
        ):
            self.add(f"{path}.filetypes", "must be a non-empty list of file extensions")
        if "max_files" in obj:
            count = obj["max_files"]
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10:
                self.add(f"{path}.max_files", f"must be 1 to 10, got {count!r}")

    def el_users_select(self, obj: dict[str, Any], path: str) -> None:
        multi = obj.get("type") == "multi_users_select"
        allowed = ["action_id", "placeholder", "confirm", "focus_on_load"]
        allowed += ["initial_users", "max_selected_items"] if multi else ["initial_user"]
        self.keys(obj, path, allowed)
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        if multi:
            self.min_int(obj, "max_selected_items", path, 1)
            users = obj.get("initial_users", [])
            if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
                self.add(f"{path}.initial_users", "must be a list of user ids")
        elif "initial_user" in obj and (not isinstance(obj["initial_user"], str) or not obj["initial_user"]):
            self.add(f"{path}.initial_user", "must be a user id string")

    def el_plain_text_input(self, obj: dict[str, Any], path: str) -> None:
        allowed = (
            "action_id",
            "initial_value",
            "multiline",
            "min_length",
            "max_length",
            "dispatch_action_config",
            "focus_on_load",
            "placeholder",
        )
        self.keys(obj, path, allowed)
        self.placeholder(obj, path)
        self.boolean(obj, "multiline", path)
        self.boolean(obj, "focus_on_load", path)
        self.dispatch_config(obj, path)
        max_length = obj.get("max_length")
        min_length = obj.get("min_length")
        if "max_length" in obj and (not _is_int(max_length) or not 1 <= max_length <= 3000):
            self.add(f"{path}.max_length", f"must be an integer between 1 and 3000, got {max_length!r}")
            max_length = None
        if "min_length" in obj and (not _is_int(min_length) or not 0 <= min_length <= 3000):
            self.add(f"{path}.min_length", f"must be an integer between 0 and 3000, got {min_length!r}")
            min_length = None
        if _is_int(min_length) and _is_int(max_length) and min_length > max_length:
            self.add(path, f"min_length ({min_length}) is greater than max_length ({max_length})")
        if "initial_value" in obj:
            value = obj["initial_value"]
            if not isinstance(value, str):
                self.add(f"{path}.initial_value", "must be a string")
            elif _is_int(max_length) and len(value) > max_length:
                self.add(f"{path}.initial_value", f"is {len(value)} characters, longer than max_length {max_length}")

    def el_number_input(self, obj: dict[str, Any], path: str) -> None:
        allowed = (
            "action_id",
            "is_decimal_allowed",
            "initial_value",
            "min_value",
            "max_value",
            "dispatch_action_config",
            "focus_on_load",
            "placeholder",
        )
        self.keys(obj, path, allowed, ("is_decimal_allowed",))
        decimal_ok = obj.get("is_decimal_allowed")
        if "is_decimal_allowed" in obj and not isinstance(decimal_ok, bool):
            self.add(f"{path}.is_decimal_allowed", f"must be a boolean, got {decimal_ok!r}")
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        self.dispatch_config(obj, path)
        numbers: dict[str, Decimal] = {}
        for key in ("min_value", "max_value", "initial_value"):
            if key not in obj:
                continue
            raw = obj[key]
            if not isinstance(raw, str):
                self.add(f"{path}.{key}", f"must be a string, got {type(raw).__name__}")
                continue
            try:
                number = Decimal(raw)
            except InvalidOperation:
                self.add(f"{path}.{key}", f"{raw!r} is not a number")
                continue
            if not number.is_finite():
                self.add(f"{path}.{key}", f"{raw!r} is not a finite number")
                continue
            if decimal_ok is False and number != number.to_integral_value():
                self.add(f"{path}.{key}", f"{raw!r} is not an integer but is_decimal_allowed is false")
            numbers[key] = number
        low, high, initial = numbers.get("min_value"), numbers.get("max_value"), numbers.get("initial_value")
        if low is not None and high is not None and low > high:
            self.add(path, "min_value is greater than max_value")
        if initial is not None and ((low is not None and initial < low) or (high is not None and initial > high)):
            self.add(f"{path}.initial_value", "is outside min_value..max_value")

    def el_timepicker(self, obj: dict[str, Any], path: str) -> None:
        self.keys(obj, path, ("action_id", "initial_time", "confirm", "focus_on_load", "placeholder", "timezone"))
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        value = obj.get("initial_time")
        if "initial_time" in obj and (not isinstance(value, str) or not _TIME_RE.match(value)):
            self.add(f"{path}.initial_time", f"must be HH:mm (24h), got {value!r}")

    def el_datepicker(self, obj: dict[str, Any], path: str) -> None:
        self.keys(obj, path, ("action_id", "initial_date", "confirm", "focus_on_load", "placeholder"))
        self.placeholder(obj, path)
        self.boolean(obj, "focus_on_load", path)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        value = obj.get("initial_date")
        if "initial_date" in obj and (not isinstance(value, str) or not _DATE_RE.match(value)):
            self.add(f"{path}.initial_date", f"must be YYYY-MM-DD, got {value!r}")

    def el_radio_or_checkboxes(self, obj: dict[str, Any], path: str) -> None:
        multi = obj.get("type") == "checkboxes"
        allowed = ["action_id", "options", "confirm", "focus_on_load", "initial_option", "initial_options"]
        self.keys(obj, path, allowed)
        self.boolean(obj, "focus_on_load", path)
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        self.options_and_initial(obj, path, max_options=10, multi=multi, mrkdwn_ok=True, groups_ok=False)

    def el_overflow(self, obj: dict[str, Any], path: str) -> None:
        self.keys(obj, path, ("action_id", "options", "confirm"), ("options",))
        if "confirm" in obj:
            self.confirm(obj["confirm"], f"{path}.confirm")
        if "options" in obj:
            for i, opt in enumerate(self.list_of(obj, "options", path, min_items=1, max_items=5)):
                self.option(opt, f"{path}.options[{i}]", mrkdwn_ok=False, url_ok=True)

    def el_image(self, obj: dict[str, Any], path: str) -> None:
        self.keys(obj, path, ("image_url", "slack_file", "alt_text"), ("alt_text",))
        self.image_source(obj, path)
        self.string(obj, "alt_text", path, 2000, min_len=1)

    def image_source(self, obj: dict[str, Any], path: str) -> None:
        if ("image_url" in obj) == ("slack_file" in obj):
            self.add(path, "provide exactly one of 'image_url' or 'slack_file'")
        self.string(obj, "image_url", path, 3000, min_len=1)
        if "slack_file" in obj:
            file = obj["slack_file"]
            if not isinstance(file, dict) or not ({"url", "id"} & set(file)) or set(file) - {"url", "id"}:
                self.add(f"{path}.slack_file", "must be an object with 'url' or 'id'")

    def dispatch_config(self, obj: dict[str, Any], path: str) -> None:
        if "dispatch_action_config" not in obj:
            return
        config = obj["dispatch_action_config"]
        cpath = f"{path}.dispatch_action_config"
        if not self.is_dict(config, cpath):
            return
        triggers = config.get("trigger_actions_on")
        if set(config) - {"trigger_actions_on"} or not isinstance(triggers, list):
            self.add(cpath, "must be {'trigger_actions_on': [...]}")
        elif any(t not in ("on_enter_pressed", "on_character_entered") for t in triggers):
            self.add(cpath, f"unknown trigger in {triggers!r}")

    def min_int(self, obj: dict[str, Any], key: str, path: str, minimum: int) -> None:
        if key in obj and (not _is_int(obj[key]) or obj[key] < minimum):
            self.add(f"{path}.{key}", f"must be an integer >= {minimum}")

    # -- blocks -------------------------------------------------------------------------------

    def blocks(self, blocks: Any, path: str = "blocks") -> None:
        if not isinstance(blocks, list):
            self.add(path, f"must be a list of blocks, got {type(blocks).__name__}")
            return
        limit = MAX_BLOCKS[self.surface]
        if len(blocks) > limit:
            self.add(path, f"at most {limit} blocks allowed in a {self.surface}, got {len(blocks)}")
        seen: dict[str, int] = {}
        for i, block in enumerate(blocks):
            bpath = f"{path}[{i}]"
            if not self.is_dict(block, bpath):
                continue
            block_id = block.get("block_id")
            if isinstance(block_id, str):
                if block_id in seen:
                    self.add(
                        f"{bpath}.block_id", f"duplicate block_id {block_id!r} (also used by {path}[{seen[block_id]}])"
                    )
                else:
                    seen[block_id] = i
            self.block(block, bpath)

    def block(self, block: dict[str, Any], path: str) -> None:
        kind = block.get("type")
        validator = _BLOCKS.get(kind) if isinstance(kind, str) else None
        if validator is None:
            self.add(path, f"unknown or unsupported block type {kind!r}")
            return
        self.identifier(block, "block_id", path)
        validator(self, block, path)
        self.unique_action_ids(block, path)

    def unique_action_ids(self, block: dict[str, Any], path: str) -> None:
        elements: list[Any] = []
        if isinstance(block.get("elements"), list) and block.get("type") == "actions":
            elements = block["elements"]
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        ids = [e["action_id"] for e in elements if isinstance(e, dict) and isinstance(e.get("action_id"), str)]
        duplicates = sorted({a for a in ids if ids.count(a) > 1})
        for action_id in duplicates:
            self.add(path, f"duplicate action_id {action_id!r} within the block")

    def bl_section(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "text", "fields", "accessory", "expand"))
        if "text" not in block and "fields" not in block:
            self.add(path, "a section needs 'text' or 'fields'")
        if "text" in block:
            self.text(block["text"], f"{path}.text", max_len=3000)
        if "fields" in block:
            for i, field in enumerate(self.list_of(block, "fields", path, min_items=1, max_items=10)):
                self.text(field, f"{path}.fields[{i}]", max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{path}.accessory", _ACCESSORY_ELEMENTS)
        self.boolean(block, "expand", path)

    def bl_header(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "text"), ("text",))
        if "text" in block:
            self.text(block["text"], f"{path}.text", max_len=150, plain_only=True)

    def bl_divider(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id",))

    def bl_context(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "elements"), ("elements",))
        if "elements" not in block:
            return
        for i, element in enumerate(self.list_of(block, "elements", path, min_items=1, max_items=10)):
            epath = f"{path}.elements[{i}]"
            if isinstance(element, dict) and element.get("type") == "image":
                self.element(element, epath, frozenset({"image"}))
            else:
                self.text(element, epath, max_len=3000)

    def bl_actions(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "elements"), ("elements",))
        if "elements" in block:
            for i, element in enumerate(self.list_of(block, "elements", path, min_items=1, max_items=25)):
                self.element(element, f"{path}.elements[{i}]", _ACTIONS_ELEMENTS)

    def bl_input(self, block: dict[str, Any], path: str) -> None:
        if self.surface == "message":
            self.add(path, "input blocks are not allowed in messages")
        self.keys(
            block, path, ("block_id", "label", "element", "hint", "optional", "dispatch_action"), ("label", "element")
        )
        if "label" in block:
            self.text(block["label"], f"{path}.label", max_len=2000, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{path}.hint", max_len=2000, plain_only=True)
        self.boolean(block, "optional", path)
        self.boolean(block, "dispatch_action", path)
        if "element" in block:
            self.element(block["element"], f"{path}.element", _INPUT_ELEMENTS)

    def bl_markdown(self, block: dict[str, Any], path: str) -> None:
        if self.surface != "message":
            self.add(path, "markdown blocks are only allowed in messages")
        self.keys(block, path, ("block_id", "text"), ("text",))
        self.string(block, "text", path, 12_000, min_len=1)

    def bl_rich_text(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "elements"), ("elements",))
        if "elements" in block and not isinstance(block["elements"], list):
            self.add(f"{path}.elements", "must be a list")

    def bl_image(self, block: dict[str, Any], path: str) -> None:
        self.keys(block, path, ("block_id", "image_url", "slack_file", "alt_text", "title"), ("alt_text",))
        self.image_source(block, path)
        self.string(block, "alt_text", path, 2000, min_len=1)
        if "title" in block:
            self.text(block["title"], f"{path}.title", max_len=2000, plain_only=True)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _option_key(option: dict[str, Any]) -> tuple[str, str, str]:
    text = option.get("text")
    if isinstance(text, dict):
        return (repr(option.get("value")), repr(text.get("type")), repr(text.get("text")))
    return (repr(option.get("value")), "", repr(text))


_Validator = Callable[[_Checker, dict[str, Any], str], None]

_ELEMENTS: dict[str, _Validator] = {
    "button": _Checker.el_button,
    "static_select": _Checker.el_static_select,
    "multi_static_select": _Checker.el_static_select,
    "users_select": _Checker.el_users_select,
    "external_select": _Checker.el_external_select,
    "multi_users_select": _Checker.el_users_select,
    "plain_text_input": _Checker.el_plain_text_input,
    "number_input": _Checker.el_number_input,
    "file_input": _Checker.el_file_input,
    "timepicker": _Checker.el_timepicker,
    "datepicker": _Checker.el_datepicker,
    "radio_buttons": _Checker.el_radio_or_checkboxes,
    "checkboxes": _Checker.el_radio_or_checkboxes,
    "overflow": _Checker.el_overflow,
    "image": _Checker.el_image,
}

_BLOCKS: dict[str, _Validator] = {
    "section": _Checker.bl_section,
    "header": _Checker.bl_header,
    "divider": _Checker.bl_divider,
    "context": _Checker.bl_context,
    "actions": _Checker.bl_actions,
    "input": _Checker.bl_input,
    "markdown": _Checker.bl_markdown,
    "rich_text": _Checker.bl_rich_text,
    "image": _Checker.bl_image,
}


def _decode_json(value: Any, path: str, problems: list[str]) -> Any:
    """Form-encoded calls carry blocks/views as JSON strings; Slack decodes them before validating."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError as exc:
            problems.append(f"{path}: not valid JSON ({exc})")
            return None
    return value


def validate_blocks(blocks: list[Any], surface: str) -> list[str]:
    """Problems with ``blocks`` as they would appear on ``surface`` ("message", "modal" or "home")."""
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {SURFACES}, got {surface!r}")
    problems: list[str] = []
    decoded = _decode_json(blocks, "blocks", problems)
    if problems:
        return problems
    checker = _Checker(surface)
    checker.blocks(decoded)
    return checker.problems


def validate_options(answer: Any) -> list[str]:
    """Problems with an app's answer to ``block_suggestion``: ``options`` or ``option_groups`` (possibly none: "no
    results"), at most 100, in plain text."""
    checker = _Checker("modal")
    if checker.is_dict(answer, "options response"):
        checker.keys(answer, "options response", ("options", "option_groups"))
        checker.options_and_initial(answer, "options response", max_options=100, multi=False, min_options=0)
    return checker.problems


def validate_view(view: dict[str, Any]) -> list[str]:
    """Problems with a view payload for views.open/update/push/publish."""
    problems: list[str] = []
    view = _decode_json(view, "view", problems)
    if problems:
        return problems
    if not isinstance(view, dict):
        return [f"view: must be an object, got {type(view).__name__}"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"view.type: must be 'modal' or 'home', got {kind!r}"]
    checker = _Checker(kind)
    if kind == "modal":
        allowed = (
            "title",
            "blocks",
            "close",
            "submit",
            "private_metadata",
            "callback_id",
            "clear_on_close",
            "notify_on_close",
            "external_id",
            "submit_disabled",
        )
        checker.keys(view, "view", allowed, ("title", "blocks"))
    else:
        checker.keys(view, "view", ("blocks", "private_metadata", "callback_id", "external_id"), ("blocks",))
    for key in ("title", "submit", "close"):
        if key in view:
            checker.text(view[key], f"view.{key}", max_len=24, plain_only=True)
    for key in ("clear_on_close", "notify_on_close", "submit_disabled"):
        checker.boolean(view, key, "view")
    checker.string(view, "private_metadata", "view", 3000)
    checker.identifier(view, "callback_id", "view")
    checker.identifier(view, "external_id", "view")
    blocks = view.get("blocks", [])
    blocks = _decode_json(blocks, "view.blocks", checker.problems)
    if blocks is not None:
        checker.blocks(blocks, "view.blocks")
    if isinstance(blocks, list):
        inputs = [(i, b) for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("type") == "input"]
        if inputs and kind == "modal" and "submit" not in view:
            checker.add("view", "a modal with input blocks needs a 'submit' button")
        for i, block in inputs:
            if not block.get("block_id"):
                checker.add(f"view.blocks[{i}]", "input block has no block_id (ids must be stable across updates)")
    size = len(json.dumps(view, ensure_ascii=False).encode())
    if size >= MAX_VIEW_BYTES:
        checker.add("view", f"view JSON is {size} bytes, must be under {MAX_VIEW_BYTES}")
    return checker.problems


# What Slack reads as a control sequence: mentions, special mentions, dates, links. Any other "<", ">" or "&" in
# mrkdwn must be escaped (&lt; &gt; &amp;): Slack accepts the message but swallows or misreads that text. A ">" that
# starts a line is a block quote, which is mrkdwn too.
_SLACK_TOKEN = re.compile(r"<(?:[@#!][^<>]*|(?:https?|mailto):[^<>\s|]*(?:\|[^<>]*)?)>")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_QUOTE = re.compile(r"^>+ ?", re.MULTILINE)


def unescaped(text: str) -> str | None:
    """What is wrong with ``text`` as mrkdwn: a "<", ">" or "&" neither escaped nor part of a Slack token."""
    rest = _QUOTE.sub("", _ENTITY.sub("", _SLACK_TOKEN.sub("", text)))
    at = min((rest.index(c) for c in "<>&" if c in rest), default=None)
    if at is None:
        return None
    return f"unescaped {rest[at]!r} in mrkdwn (Slack shows it wrongly; escape as &lt; &gt; &amp;): …{rest[at:][:40]!r}"


def escaping_problems(payload: Any, path: str = "") -> list[str]:
    """Every mrkdwn text object in a message or view (and a message's own ``text``) that Slack would misread."""
    problems: list[str] = []
    if isinstance(payload, dict):
        top = path == "" and payload.get("mrkdwn") not in (False, "false") and "type" not in payload
        if (top or payload.get("type") == "mrkdwn") and isinstance(payload.get("text"), str):
            problem = unescaped(payload["text"])
            if problem:
                problems.append(f"{path}text: {problem}")
        for key, value in payload.items():
            if isinstance(value, dict | list):
                problems += escaping_problems(value, f"{path}{key}.")
    elif isinstance(payload, list):
        for index, item in enumerate(payload):
            problems += escaping_problems(item, f"{path[:-1]}[{index}].")
    return problems


def validate_message(args: dict[str, Any]) -> list[str]:
    """Problems with a chat.postMessage/update/postEphemeral or response_url body."""
    problems: list[str] = []
    if args.get("delete_original") in (True, "true", "1", 1):
        return problems
    blocks = _decode_json(args["blocks"], "blocks", problems) if "blocks" in args else None
    if problems:
        return problems
    text = args.get("text")
    has_text = isinstance(text, str) and text != ""
    has_blocks = isinstance(blocks, list) and len(blocks) > 0
    has_other = bool(args.get("attachments")) or bool(args.get("markdown_text"))
    if not (has_text or has_blocks or has_other):
        problems.append("text: a message needs non-empty 'text' or 'blocks'")
    if text is not None and not isinstance(text, str):
        problems.append(f"text: must be a string, got {type(text).__name__}")
    elif isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        problems.append(f"text: must be at most {MAX_MESSAGE_TEXT} characters, got {len(text)}")

    if blocks is not None:
        checker = _Checker("message")
        checker.blocks(blocks)
        problems.extend(checker.problems)
    return problems
