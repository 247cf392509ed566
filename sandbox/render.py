"""Block Kit and mrkdwn to HTML, the way Slack's desktop client shows them: pure functions, no I/O.

Everything a payload carries reaches the page only through ``html.escape`` (or as one of the three entities Slack's
own escaping produces), so a bot message can never inject markup into the sandbox page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from .blockkit import DEFAULT_MIN_QUERY_LENGTH

Directory = Mapping[str, Mapping[str, Any]]

BOT_NAME = "onboarding-bot"

# Only the emoji the bot uses, and a few common ones; any other :name: stays as typed.
EMOJI = {
    "warning": "⚠️",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "white_circle": "⚪",
    "x": "❌",
    "rotating_light": "🚨",
    "pencil2": "✏️",
    "thread": "🧵",
    "page_facing_up": "📄",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "tada": "🎉",
    "wave": "👋",
    "+1": "👍",
    "thumbsup": "👍",
    "eyes": "👀",
    "bulb": "💡",
    "memo": "📝",
    "calendar": "📆",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "rocket": "🚀",
    "inbox_tray": "📥",
    "arrow_down": "⬇️",
    "information_source": "ℹ️",
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SAFE_LINK = re.compile(r"(?i)(?:https?://|mailto:)")
_SLACK_ENTITY = re.compile(r"&(?:amp|lt|gt);|[&<>\"']")
_PRE = re.compile(r"```(.+?)```", re.S)
_INLINE = re.compile(
    r"<(?P<token>[^<>\n]*)>"
    r"|&(?P<entity>amp|lt|gt);"
    r"|(?P<url>(?<![\w/])https?://[^\s<>|]+)"
    r"|:(?P<emoji>" + "|".join(re.escape(name) for name in EMOJI) + r"):"
)
_URL_TAIL = ".,;:!?)]}'\"*_~"
_MARKS = {"*": "b", "_": "i", "~": "s"}
_OBJECT = "\ufffc"  # what a token counts as for the word-boundary rules: neither space nor letter


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _keep_entities(text: str) -> str:
    """Escape for HTML, except Slack's own three entities, which already are HTML."""
    return _SLACK_ENTITY.sub(lambda m: m[0] if len(m[0]) > 1 else html.escape(m[0], quote=True), text)


def _unslack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _link(href: str, label_html: str) -> str:
    return f'<a href="{_esc(_unslack(href))}" target="_blank" rel="noopener">{label_html}</a>'


def _mention(text: str, **data: str) -> str:
    attrs = "".join(f' data-{key.replace("_", "-")}="{_esc(value)}"' for key, value in data.items())
    return f'<span class="bk-mention"{attrs}>{_esc(text)}</span>'


def _user_name(users: Directory, user_id: str, label: str = "") -> str:
    user = users.get(user_id) or {}
    profile = user.get("profile") or {}
    for name in (user.get("real_name"), profile.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(name, str) and name:
            return name
    return label or user_id


# -- dates ------------------------------------------------------------------------------------------------------


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_tokens(when: datetime) -> dict[str, str]:
    month, weekday = _MONTHS[when.month - 1], _WEEKDAYS[when.weekday()]
    date = f"{month} {_ordinal(when.day)}, {when.year}"
    short = f"{month[:3]} {when.day}, {when.year}"
    long = f"{weekday}, {date}"
    time = f"{when:%H:%M}"
    # "today"/"yesterday" would make rendering depend on the clock; the pretty forms show the plain date instead.
    return {
        "date_num": f"{when:%Y-%m-%d}",
        "date_slash": f"{when:%d/%m/%Y}",
        "date": date,
        "date_short": short,
        "date_long": long,
        "date_long_full": f"{month} {when.day}, {when.year}",
        "date_pretty": date,
        "date_short_pretty": short,
        "date_long_pretty": long,
        "day_divider_pretty": long,
        "time": time,
        "time_secs": f"{when:%H:%M:%S}",
        "ago": f"{short} {time}",
    }


def _format_date(timestamp: Any, template: str, link: str | None = None, fallback: str | None = None) -> str | None:
    """A Slack date template filled in (UTC) as HTML, or None when the timestamp is unusable."""
    try:
        when = datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if not template:
        return None
    tokens = _date_tokens(when)
    parts = re.split(r"\{(\w+)\}", template)
    text = "".join(
        _keep_entities(part) if i % 2 == 0 else _esc(tokens[part]) if part in tokens else _keep_entities(f"{{{part}}}")
        for i, part in enumerate(parts)
    )
    title = f' title="{_esc(fallback)}"' if fallback else ""
    shown = f'<time datetime="{when:%Y-%m-%dT%H:%M:%SZ}"{title}>{text}</time>'
    return _link(link, shown) if link and _SAFE_LINK.match(link) else shown


# -- mrkdwn -----------------------------------------------------------------------------------------------------


class _Unit(NamedTuple):
    """One character of a line, or one thing Slack treats as a single character (entity, token, emoji, code)."""

    ch: str
    html: str
    kind: str  # text, entity, token, auto (emoji or bare URL: shown raw inside code)
    raw: str


def _token(body: str, users: Directory, channels: Directory) -> str:
    target, _, label = body.partition("|")
    if target.startswith("@") and len(target) > 1:
        return _mention("@" + _user_name(users, target[1:], label), user_id=target[1:])
    if target.startswith("#") and len(target) > 1:
        channel = channels.get(target[1:]) or {}
        return _mention("#" + str(channel.get("name") or label or target[1:]), channel_id=target[1:])
    if target.startswith("!"):
        command, *args = target[1:].split("^")
        if command in ("here", "channel", "everyone"):
            return _mention("@" + command)
        if command == "subteam" and args:
            return _mention(label or "@" + args[0])
        if command == "date" and len(args) >= 2:
            shown = _format_date(args[0], args[1], "^".join(args[2:]) or None, label or None)
            if shown is not None:
                return shown
    elif _SAFE_LINK.match(target):
        text = label or (target[7:] if target.lower().startswith("mailto:") else target)
        return _link(target, _keep_entities(text))
    return _keep_entities(label) if label else _keep_entities(f"<{body}>")


def _units(text: str, users: Directory, channels: Directory, *, rich: bool) -> list[_Unit]:
    """``text`` as units; ``rich`` also turns known :emoji: and bare URLs into units (not inside ``` blocks)."""
    units: list[_Unit] = []
    pos = 0

    def plain(chunk: str) -> None:
        units.extend(_Unit(c, _esc(c), "text", c) for c in chunk)

    for m in _INLINE.finditer(text):
        if not rich and (m["url"] or m["emoji"]):
            continue
        plain(text[pos : m.start()])
        pos = m.end()
        if m["token"] is not None:
            units.append(_Unit(_OBJECT, _token(m["token"], users, channels), "token", m[0]))
        elif m["entity"]:
            units.append(_Unit(_unslack(m[0]), m[0], "entity", m[0]))
        elif m["emoji"]:
            units.append(_Unit(_OBJECT, f'<span class="bk-emoji" title="{_esc(m[0])}">{EMOJI[m["emoji"]]}</span>',
                               "auto", m[0]))  # fmt: skip
        else:
            url = m["url"].rstrip(_URL_TAIL)
            units.append(_Unit(_OBJECT, _link(url, _keep_entities(url)), "auto", url))
            pos = m.start() + len(url)
    plain(text[pos:])
    return units


def _wordy(line: list[_Unit], i: int) -> bool:
    return 0 <= i < len(line) and line[i].ch.isalnum()


def _blank(line: list[_Unit], i: int) -> bool:
    return not 0 <= i < len(line) or line[i].ch.isspace()


def _closing(line: list[_Unit], i: int, end: int) -> int | None:
    """Where the marker at ``i`` closes: Slack only formats from a word's edge to a word's edge, within a line."""
    mark = line[i].ch
    if _wordy(line, i - 1) or (mark != "`" and _blank(line, i + 1)):
        return None
    j = next((j for j in range(i + 1, end) if line[j].kind == "text" and line[j].ch == mark), None)
    if j is None or j == i + 1 or _wordy(line, j + 1) or (mark != "`" and _blank(line, j - 1)):
        return None
    return j


def _code_spans(line: list[_Unit]) -> list[_Unit]:
    """Code first, as Slack does, so that markers inside it stay text.

    Links and mentions inside stay resolved: ``<…>`` is Slack's escaping layer, not formatting.
    """
    out: list[_Unit] = []
    i = 0
    while i < len(line):
        j = _closing(line, i, len(line)) if line[i].kind == "text" and line[i].ch == "`" else None
        if j is None:
            out.append(line[i])
            i += 1
            continue
        inner = "".join(_keep_entities(u.raw) if u.kind == "auto" else u.html for u in line[i + 1 : j])
        out.append(_Unit(_OBJECT, f'<code class="bk-code">{inner}</code>', "token", ""))
        i = j + 1
    return out


def _format(line: list[_Unit], start: int, end: int) -> str:
    out: list[str] = []
    i = start
    while i < end:
        unit = line[i]
        j = _closing(line, i, end) if unit.kind == "text" and unit.ch in _MARKS else None
        if j is None:
            out.append(unit.html)
            i += 1
        else:
            tag = _MARKS[unit.ch]
            out.append(f"<{tag}>{_format(line, i + 1, j)}</{tag}>")
            i = j + 1
    return "".join(out)


def _line_html(line: list[_Unit]) -> str:
    line = _code_spans(line)
    return _format(line, 0, len(line))


def _lines(text: str, users: Directory, channels: Directory) -> str:
    """Lines outside ``` blocks: quotes ("&gt; " at a line's start, "&gt;&gt;&gt;" for the rest) and <br>s."""
    lines: list[list[_Unit]] = [[]]
    for unit in _units(text, users, channels, rich=True):
        if unit.kind == "text" and unit.ch == "\n":
            lines.append([])
        else:
            lines[-1].append(unit)
    parts: list[tuple[bool, str]] = []  # (quoted, html)
    rest_quoted = False
    for line in lines:
        quoted = rest_quoted or (bool(line) and line[0].ch == ">")
        if quoted and not rest_quoted:
            rest_quoted = len(line) >= 3 and all(u.ch == ">" for u in line[:3])
            line = line[3:] if rest_quoted else line[1:]
            if line and line[0].ch == " ":
                line = line[1:]
        parts.append((quoted, _line_html(line)))
    out: list[str] = []
    for i, (quoted, body) in enumerate(parts):
        if quoted and (i == 0 or not parts[i - 1][0]):
            out.append('<blockquote class="bk-quote">')
        elif i and quoted == parts[i - 1][0]:
            out.append("<br>")
        out.append(body)
        if quoted and (i + 1 == len(parts) or not parts[i + 1][0]):
            out.append("</blockquote>")
    return "".join(out)


def mrkdwn(text: str, *, users: Directory, channels: Directory) -> str:
    """Slack-escaped mrkdwn as HTML: formatting, ``` blocks, quotes, links, mentions and dates."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in _PRE.finditer(text):
        pieces += [("text", text[pos : m.start()]), ("pre", m[1])]
        pos = m.end()
    pieces.append(("text", text[pos:]))
    out: list[str] = []
    for i, (kind, body) in enumerate(pieces):
        if kind == "pre":
            body = body.removeprefix("\n").removesuffix("\n")
            inner = "".join(u.html for u in _units(body, users, channels, rich=False))
            out.append(f'<pre class="bk-pre">{inner}</pre>')
            continue
        # The line break next to a ``` block is the block's own edge, not an empty line.
        if i > 0:
            body = body.removeprefix("\n")
        if i + 1 < len(pieces):
            body = body.removesuffix("\n")
        if body:
            out.append(_lines(body, users, channels))
    return "".join(out)


# -- text objects -----------------------------------------------------------------------------------------------


def _plain_raw(text_obj: Mapping[str, Any] | str | None) -> str:
    if text_obj is None:
        return ""
    if isinstance(text_obj, str):
        return text_obj
    text = str(text_obj.get("text", ""))
    if text_obj.get("emoji", True):
        text = re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m[1], m[0]), text)
    return text


def plain_text(text_obj: Mapping[str, Any] | str | None) -> str:
    """A plain_text object (or a string) as escaped text; known :emoji: become characters."""
    return _esc(_plain_raw(text_obj))


def text_object(obj: Mapping[str, Any] | None, *, users: Directory, channels: Directory) -> str:
    """A plain_text or mrkdwn composition object as HTML."""
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), users=users, channels=channels)
    return plain_text(obj)


# -- elements ---------------------------------------------------------------------------------------------------


class _Ctx(NamedTuple):
    users: Directory
    channels: Directory
    errors: Mapping[str, str]

    def text(self, obj: Mapping[str, Any] | None) -> str:
        return text_object(obj, users=self.users, channels=self.channels)


def _tag(tag: str, inner: str | None = None, /, **attrs: Any) -> str:
    """An element with escaped attributes; ``inner`` is HTML already, None makes a void element.

    Attribute names drop a trailing ``_`` and turn ``_`` into ``-``; None and False leave one out, True is bare.
    """
    parts = [tag]
    for key, value in attrs.items():
        name = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(name)
        elif value is not None and value is not False:
            parts.append(f'{name}="{_esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    return opening if inner is None else f"{opening}{inner}</{tag}>"


def _dom_id(block_id: str, suffix: str = "") -> str:
    """An element id from a block_id, which may hold spaces or quotes that an id or a CSS selector cannot."""
    return "bk-" + re.sub(r"[^\w.:-]", "_", block_id) + (f"-{suffix}" if suffix else "")


def _options(options: Any, chosen: set[str]) -> str:
    return "".join(
        _tag("option", plain_text(o.get("text")), value=o.get("value", ""), selected=str(o.get("value")) in chosen)
        for o in options or ()
        if isinstance(o, Mapping)
    )


def _option_tags(element: Mapping[str, Any], chosen: set[str]) -> str:
    groups = element.get("option_groups")
    if not groups:
        return _options(element.get("options"), chosen)
    return "".join(
        _tag("optgroup", _options(g.get("options"), chosen), label=_plain_raw(g.get("label")))
        for g in groups
        if isinstance(g, Mapping)
    )


def _chosen(element: Mapping[str, Any]) -> set[str]:
    options = [element.get("initial_option"), *(element.get("initial_options") or ())]
    return {str(o.get("value")) for o in options if isinstance(o, Mapping)}


def _directory_options(directory: Directory, chosen: set[str], *, channels: bool) -> str:
    """Options for a users or conversations select: everyone in the directory (people, not bots)."""
    if channels:
        entries = {cid: "#" + str(c.get("name") or cid) for cid, c in directory.items()}
    else:
        entries = {uid: _user_name(directory, uid) for uid, u in directory.items() if not u.get("is_bot")}
    entries |= {ident: ident for ident in chosen if ident not in entries}  # keep a chosen id we cannot name
    ordered = sorted(entries.items(), key=lambda item: item[1].lower())
    return "".join(_tag("option", _esc(name), value=i, selected=i in chosen) for i, name in ordered)


def _choices(element: Mapping[str, Any], block_id: str, ctx: _Ctx, **attrs: Any) -> str:
    kind = "radio" if element.get("type") == "radio_buttons" else "checkbox"
    chosen = _chosen(element)
    items = []
    for n, option in enumerate(o for o in element.get("options") or () if isinstance(o, Mapping)):
        value = str(option.get("value", ""))
        box_id = _dom_id(block_id, str(n))
        box = _tag("input", type=kind, id=box_id, name=block_id, value=value, checked=value in chosen)
        note = option.get("description")
        described = _tag("span", ctx.text(note), class_="bk-choice-description") if note else ""
        items.append(_tag("label", box + _tag("span", ctx.text(option.get("text"))) + described, class_="bk-choice"))
    role = "radiogroup" if kind == "radio" else "group"
    return _tag("div", "".join(items), class_="bk-choices", role=role, **attrs)


_DIRECTORY_SELECTS = {"users_select": False, "conversations_select": True, "channels_select": True}


def _interactive(element: Mapping[str, Any], block_id: str, ctx: _Ctx) -> str:
    """An element of an actions block or a section's accessory: using it sends block_actions."""
    kind = str(element.get("type", ""))
    confirm = element.get("confirm")
    data: dict[str, Any] = {
        "data_action": kind,
        "data_block_id": block_id,
        "data_action_id": element.get("action_id", ""),
        "data_confirm": json.dumps(confirm) if isinstance(confirm, Mapping) else None,
    }
    placeholder = _plain_raw(element.get("placeholder"))
    if kind == "button":
        style = element.get("style")
        css = "bk-button" + (f" bk-{style}" if style in ("primary", "danger") else "")
        url = element.get("url")
        safe_url = url if isinstance(url, str) and _SAFE_LINK.match(url) else None
        text = plain_text(element.get("text"))
        return _tag("button", text, type="button", class_=css, **data, data_value=element.get("value", ""),
                    data_url=safe_url)  # fmt: skip
    if kind == "overflow":
        first = _tag("option", "⋯", value="")
        return _tag("select", first + _option_tags(element, set()), class_="bk-overflow", aria_label="More", **data)
    if kind == "static_select":
        first = _tag("option", _esc(placeholder or "Select an item"), value="")
        return _tag("select", first + _option_tags(element, _chosen(element)), class_="bk-select", **data)
    if kind in ("datepicker", "timepicker"):
        date = kind == "datepicker"
        value = element.get("initial_date" if date else "initial_time")
        return _tag("input", type="date" if date else "time", class_="bk-picker", value=value, **data)
    if kind in ("radio_buttons", "checkboxes"):
        return _choices(element, block_id, ctx, **data)
    if kind == "image":
        return _image(element, "bk-accessory-image")
    # Selects fed by Slack's directory or an options URL: shown, not usable.
    label = _tag("option", _esc(placeholder or kind.replace("_", " ")))
    return _tag("select", label, class_="bk-select", disabled=True, **data)


def _text_control(element: Mapping[str, Any], placeholder: str | None, data: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind == "number_input":
        decimal = bool(element.get("is_decimal_allowed"))
        return _tag("input", type="number", class_="bk-control", step="any" if decimal else "1",
                    inputmode="decimal" if decimal else "numeric", min=element.get("min_value"),
                    max=element.get("max_value"), value=element.get("initial_value"), placeholder=placeholder,
                    **data)  # fmt: skip
    limits = {"minlength": element.get("min_length"), "maxlength": element.get("max_length")}
    initial = str(element.get("initial_value", ""))
    if element.get("multiline"):
        return _tag("textarea", _esc(initial), class_="bk-control", rows=4, placeholder=placeholder, **limits, **data)
    return _tag("input", type="text", class_="bk-control", value=initial, placeholder=placeholder, **limits, **data)


def _external_select(element: Mapping[str, Any], placeholder: str | None, data: dict[str, Any]) -> str:
    """A search box: as the person types, the page asks the app for options (``block_suggestion``) and lists them
    under it; the option picked travels in ``data-selected``, as Slack keeps it for view.state."""
    chosen = element.get("initial_option")
    chosen = chosen if isinstance(chosen, Mapping) else None
    listbox = f"{data['id']}-options"
    box = _tag("input", type="text", class_="bk-control bk-external", role="combobox", autocomplete="off",
               aria_autocomplete="list", aria_expanded="false", aria_controls=listbox,
               placeholder=placeholder or "Type to search", value=_plain_raw(chosen.get("text")) if chosen else None,
               data_selected=json.dumps(chosen) if chosen else None,
               data_min_query_length=element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH), **data)  # fmt: skip
    options = _tag("ul", "", id=listbox, class_="bk-external-options", role="listbox", hidden=True)
    return _tag("div", box + options, class_="bk-external-wrap")


def _form_control(element: Mapping[str, Any], block_id: str, required: bool, ctx: _Ctx) -> str:
    """An input block's element: the page reads its state back into view.state.values."""
    kind = str(element.get("type", ""))
    data: dict[str, Any] = {
        "id": _dom_id(block_id),
        "name": block_id,
        "data_input": kind,
        "data_block_id": block_id,
        "data_action_id": element.get("action_id", ""),
        "data_required": "true" if required else None,
        "aria_required": "true" if required else None,
    }
    placeholder = _plain_raw(element.get("placeholder")) or None
    if kind in ("plain_text_input", "number_input"):
        return _text_control(element, placeholder, data)
    if kind in ("datepicker", "timepicker"):
        date = kind == "datepicker"
        value = element.get("initial_date" if date else "initial_time")
        return _tag("input", type="date" if date else "time", class_="bk-control", value=value, **data)
    if kind == "external_select":
        return _external_select(element, placeholder, data)
    if kind == "file_input":
        # The file goes to Slack when picked (as in Slack); the files the submission carries travel in data-files.
        types = element.get("filetypes")
        accept = ",".join(f".{t}" for t in types) if isinstance(types, list) else None
        return _tag("input", type="file", class_="bk-control bk-file", accept=accept, data_files="[]", **data)
    if kind in ("radio_buttons", "checkboxes"):
        del data["name"]  # each box has its own, and the group keeps the id for the label
        return _choices(element, block_id, ctx, **data)
    base = kind.removeprefix("multi_")
    if base in _DIRECTORY_SELECTS:
        initial = [element.get(f"initial_{noun}") for noun in ("user", "conversation", "channel")]
        initial += [i for noun in ("users", "conversations", "channels") for i in element.get(f"initial_{noun}") or ()]
        chosen = {str(i) for i in initial if i}
        directory = ctx.channels if _DIRECTORY_SELECTS[base] else ctx.users
        options = _directory_options(directory, chosen, channels=_DIRECTORY_SELECTS[base])
    elif base == "static_select":
        chosen = _chosen(element)
        options = _option_tags(element, chosen)
    else:
        return _tag("div", f"Unsupported element: {_esc(kind)}", class_="bk-unknown")
    multiple = kind.startswith("multi_")
    if not multiple and not chosen:
        options = _tag("option", _esc(placeholder or "Choose an option"), value="") + options
    return _tag("select", options, class_="bk-control", multiple=multiple, **data)


def _image(element: Mapping[str, Any], css: str) -> str:
    slack_file = element.get("slack_file") or {}
    url = element.get("image_url") or slack_file.get("url")
    if not url and slack_file.get("id"):
        url = "/files/" + quote(str(slack_file["id"]), safe="")
    src = url if isinstance(url, str) and (url.startswith("/") or _SAFE_LINK.match(url)) else None
    return _tag("img", class_=css, src=src, alt=element.get("alt_text", ""), loading="lazy")


# -- blocks -----------------------------------------------------------------------------------------------------


def _rich_inline(element: Mapping[str, Any], ctx: _Ctx) -> str:
    kind = element.get("type")
    if kind == "link":
        url = str(element.get("url", ""))
        label = _esc(element.get("text") or url)
        body = _link(url, label) if _SAFE_LINK.match(url) else label
    elif kind == "user":
        body = _mention("@" + _user_name(ctx.users, str(element.get("user_id", ""))))
    elif kind == "channel":
        channel_id = str(element.get("channel_id", ""))
        body = _mention("#" + str((ctx.channels.get(channel_id) or {}).get("name") or channel_id))
    elif kind == "broadcast":
        body = _mention("@" + str(element.get("range", "here")))
    elif kind == "usergroup":
        body = _mention("@" + str(element.get("usergroup_id", "")))
    elif kind == "emoji":
        name = str(element.get("name", ""))
        body = _esc(EMOJI.get(name, f":{name}:"))
    elif kind == "date":
        fallback = str(element.get("fallback", ""))
        shown = _format_date(element.get("timestamp"), str(element.get("format", "")), element.get("url"), fallback)
        body = shown if shown is not None else _esc(fallback)
    else:
        body = _esc(element.get("text", "")).replace("\n", "<br>")
    style = element.get("style") or {}
    for flag, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(flag):
            body = _tag(tag, body, class_="bk-code" if tag == "code" else None)
    return body


def _rich(element: Mapping[str, Any], ctx: _Ctx) -> str:
    kind = element.get("type")
    children = [e for e in element.get("elements") or () if isinstance(e, Mapping)]
    if kind == "rich_text_list":
        items = "".join(_tag("li", _rich(e, ctx)) for e in children)
        return _tag("ol" if element.get("style") == "ordered" else "ul", items, class_="bk-list")
    inner = "".join(_rich_inline(e, ctx) for e in children)
    if kind == "rich_text_preformatted":
        return _tag("pre", inner, class_="bk-pre")
    if kind == "rich_text_quote":
        return _tag("blockquote", inner, class_="bk-quote")
    return _tag("div", inner)


def _markdown(text: str) -> str:
    """Standard markdown (the ``markdown`` block) rewritten as the mrkdwn it most resembles."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    text = re.sub(r"~~(.+?)~~", r"~\1~", text)
    return re.sub(r"(?m)^#{1,6} +(.+)$", r"*\1*", text)


def _input_block(block: Mapping[str, Any], block_id: str, ctx: _Ctx) -> tuple[str, str]:
    """The field's label, control, error and hint, and the block's extra class."""
    element = block.get("element") or {}
    optional = bool(block.get("optional"))
    grouped = element.get("type") in ("radio_buttons", "checkboxes")
    note = _tag("span", "(optional)", class_="bk-optional") if optional else ""
    label = _tag("label", f"{plain_text(block.get('label'))} {note}".rstrip(), class_="bk-label",
                 for_=_dom_id(block_id, "0") if grouped else _dom_id(block_id))  # fmt: skip
    parts = [label, _form_control(element, block_id, not optional, ctx)]
    error = ctx.errors.get(block_id)
    if error:
        parts.append(_tag("div", _esc(error), class_="bk-error", role="alert"))
    if block.get("hint"):
        parts.append(_tag("div", plain_text(block.get("hint")), class_="bk-hint"))
    return "".join(parts), " bk-has-error" if error else ""


def _section(block: Mapping[str, Any], block_id: str, ctx: _Ctx) -> tuple[str, str]:
    text = _tag("div", ctx.text(block.get("text")), class_="bk-text") if block.get("text") else ""
    fields = "".join(_tag("div", ctx.text(f), class_="bk-field") for f in block.get("fields") or ())
    body = _tag("div", text + (_tag("div", fields, class_="bk-fields") if fields else ""), class_="bk-section-body")
    accessory = block.get("accessory")
    if not isinstance(accessory, Mapping):
        return body, ""
    return body + _tag("div", _interactive(accessory, block_id, ctx), class_="bk-accessory"), " bk-has-accessory"


def _context(block: Mapping[str, Any], ctx: _Ctx) -> str:
    items = []
    for element in block.get("elements") or ():
        if isinstance(element, Mapping) and element.get("type") == "image":
            items.append(_tag("span", _esc(element.get("alt_text", "")), class_="bk-context-image"))
        elif isinstance(element, Mapping):
            items.append(_tag("span", ctx.text(element), class_="bk-context-item"))
    return "".join(items)


def _block(block: Mapping[str, Any], ctx: _Ctx) -> str:
    kind = str(block.get("type", ""))
    block_id = str(block.get("block_id", ""))
    extra = ""
    if kind == "header":
        body = _tag("div", plain_text(block.get("text")), class_="bk-header-text", role="heading", aria_level=3)
    elif kind == "divider":
        body = "<hr>"
    elif kind == "context":
        body = _context(block, ctx)
    elif kind == "section":
        body, extra = _section(block, block_id, ctx)
    elif kind == "actions":
        elements = [e for e in block.get("elements") or () if isinstance(e, Mapping)]
        body = _tag("div", "".join(_interactive(e, block_id, ctx) for e in elements), class_="bk-elements")
    elif kind == "input":
        body, extra = _input_block(block, block_id, ctx)
    elif kind == "image":
        title = block.get("title")
        body = (_tag("div", plain_text(title), class_="bk-image-title") if title else "") + _image(block, "bk-img")
    elif kind == "markdown":
        text = mrkdwn(_markdown(str(block.get("text", ""))), users=ctx.users, channels=ctx.channels)
        body = _tag("div", text, class_="bk-text")
    elif kind == "rich_text":
        body = "".join(_rich(e, ctx) for e in block.get("elements") or () if isinstance(e, Mapping))
    else:
        return _tag("div", f"Unsupported block: {_esc(kind)}", class_="bk-block bk-unknown", data_block_id=block_id)
    return _tag("div", body, class_=f"bk-block bk-{kind}{extra}", data_block_id=block_id)


def blocks_html(
    blocks: Sequence[Mapping[str, Any]],
    *,
    users: Directory,
    channels: Directory,
    surface: str = "message",
    errors: Mapping[str, str] | None = None,
) -> str:
    """Blocks as HTML; ``errors`` (block_id → message, as in ``response_action: errors``) show under their inputs.

    ``surface`` (message, modal or home) changes nothing: Slack draws a block the same way on every surface.
    """
    ctx = _Ctx(users, channels, errors or {})
    return "".join(_block(b, ctx) for b in blocks if isinstance(b, Mapping))


# -- messages ---------------------------------------------------------------------------------------------------


def _when(ts: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def file_html(file: Mapping[str, Any]) -> str:
    """An uploaded file as a card linking to the sandbox's copy of it."""
    file_id = str(file.get("id", ""))
    name = str(file.get("name", ""))
    title = str(file.get("title") or name or file_id)
    size = file.get("size")
    kilobytes = f"{size / 1024:.1f} KB" if isinstance(size, int | float) and not isinstance(size, bool) else ""
    meta = " · ".join(part for part in (name, kilobytes) if part)
    href = "/files/" + quote(file_id, safe="")
    link = _tag("a", f"📄 {_esc(title)}", href=href, target="_blank", rel="noopener", data_file_id=file_id)
    return _tag("div", f"{link} {_tag('span', _esc(meta), class_='msg-file-meta')}", class_="msg-file")


def _message_header(message: Mapping[str, Any], author: str, bot: bool, ts: str) -> str:
    header = [_tag("span", _esc(author), class_="msg-author")]
    if bot:
        header.append(_tag("span", "APP", class_="msg-app-badge"))
    when = _when(ts)
    if when is not None:
        header.append(_tag("time", f"{when:%H:%M}", class_="msg-time", datetime=f"{when:%Y-%m-%dT%H:%M:%SZ}"))
    if message.get("edited"):
        header.append(_tag("span", "(edited)", class_="msg-edited"))
    return _tag("div", " ".join(header), class_="msg-header")


def message_html(
    message: Mapping[str, Any],
    *,
    users: Directory,
    channels: Directory,
    channel_id: str,
    ephemeral: bool = False,
    in_thread: bool = False,
    reply_count: int = 0,
) -> str:
    """One message with its chrome: avatar, author, time, body, files, thread and menu buttons.

    An ephemeral message counts as the bot's: only an app posts them, and their ``user`` is the reader.
    """
    ts = str(message.get("ts") or message.get("message_ts") or "")
    bot = bool(message.get("bot_id")) or ephemeral
    author = BOT_NAME if bot else _user_name(users, str(message.get("user", "")), "Unknown")
    avatar_css = "msg-avatar msg-avatar-bot" if bot else "msg-avatar"
    avatar = _tag("div", _esc(author[:1].upper()), class_=avatar_css, aria_hidden="true")
    blocks = message.get("blocks")
    if blocks:
        body = blocks_html(blocks, users=users, channels=channels, surface="message")
    else:
        body = _tag("div", mrkdwn(str(message.get("text") or ""), users=users, channels=channels), class_="bk-text")
    parts = [_message_header(message, author, bot, ts), _tag("div", body, class_="msg-body")]
    parts += [file_html(f) for f in message.get("files") or () if isinstance(f, Mapping)]
    if ephemeral:
        parts.append(_tag("div", "Only visible to you", class_="msg-ephemeral-note"))
    if not in_thread and reply_count > 0:
        replies = "1 reply" if reply_count == 1 else f"{reply_count} replies"
        thread = {"data_action": "open-thread", "data_ts": ts}
        parts.append(_tag("button", replies, type="button", class_="msg-replies", **thread))
    menu = ""
    if not ephemeral:
        menu = _tag("button", "⋮", type="button", class_="msg-menu-button", data_action="message-menu", data_ts=ts,
                    title="More actions")  # fmt: skip
    css = "msg" + (" msg-ephemeral" if ephemeral else "") + (" msg-bot" if bot else "")
    content = _tag("div", "".join(parts), class_="msg-content")
    return _tag("div", avatar + content + menu, class_=css, data_ts=ts, data_channel=channel_id)
