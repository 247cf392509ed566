"""sandbox/render.py: mrkdwn as Slack shows it, Block Kit elements with the attributes the page reads, no injection."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest

from sandbox.render import blocks_html, file_html, message_html, mrkdwn, plain_text, text_object

USERS: dict[str, dict[str, Any]] = {"U1": {"real_name": "Alice Example"}, "U2": {"real_name": "Bob Example"}}
USERS["UB"] = {"real_name": "Onboarding Bot", "is_bot": True}
CHANNELS: dict[str, dict[str, Any]] = {"C1": {"name": "general"}}
TS = 1796133909  # Tuesday 2026-12-01 14:05:09 UTC
EVIL = "<script>alert(1)</script>\"'&"


def md(text: str) -> str:
    return mrkdwn(text, users=USERS, channels=CHANNELS)


def render(*blocks: dict[str, Any], errors: dict[str, str] | None = None) -> str:
    return blocks_html(list(blocks), users=USERS, channels=CHANNELS, surface="modal", errors=errors)


def tags(markup: str, tag: str, **attrs: str | None) -> list[dict[str, str | None]]:
    """The (unescaped) attributes of each ``tag`` whose attributes include ``attrs`` (``data_x`` is ``data-x``)."""
    found: list[tuple[str, dict[str, str | None]]] = []
    parser = HTMLParser()
    parser.handle_starttag = lambda t, a: found.append((t, dict(a)))  # type: ignore[method-assign,assignment]
    parser.feed(markup)
    wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    return [a for t, a in found if t == tag and all(k in a and a[k] == v for k, v in wanted.items())]


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def opts(*values: str) -> list[dict[str, Any]]:
    return [{"text": plain(v.upper()), "value": v} for v in values]


def field(block_id: str, kind: str, *, hint: str = "", optional: bool = False, **element: Any) -> dict[str, Any]:
    block = {"type": "input", "block_id": block_id, "label": plain("Label"), "optional": optional}
    return {**block, "element": {"type": kind, "action_id": "v", **element}} | ({"hint": plain(hint)} if hint else {})


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*bold* _italic_ ~strike~", "<b>bold</b> <i>italic</i> <s>strike</s>"),
        ("_*both*_ (*paren*), *end*.", "<i><b>both</b></i> (<b>paren</b>), <b>end</b>."),
        ("snake_case_name 2*3*4 a*b* *a*b", "snake_case_name 2*3*4 a*b* *a*b"),  # markers need a word's edge
        ("* not bold * and *x *", "* not bold * and *x *"),  # nor space inside the markers
        ("*one\nline*", "*one<br>line*"),  # nor a line break
        ("`*no* _fmt_ &lt;b&gt;`", '<code class="bk-code">*no* _fmt_ &lt;b&gt;</code>'),
        ("a\n\nb", "a<br><br>b"),
        ('&amp; &lt;b&gt; & < > "', "&amp; &lt;b&gt; &amp; &lt; &gt; &quot;"),  # entities stay, the rest escaped
        ("x &quot;", "x &amp;quot;"),  # Slack decodes only &amp; &lt; &gt;
        (":warning: :no_such_emoji:", '<span class="bk-emoji" title=":warning:">⚠️</span> :no_such_emoji:'),
    ],
)
def test_inline_formatting(text: str, html: str) -> None:
    assert md(text) == html


def test_preformatted_blocks_and_quotes() -> None:
    out = md("before\n```\nline *1*\n  _line_ &lt;2&gt;\n```\nafter")
    assert out == 'before<pre class="bk-pre">line *1*\n  _line_ &lt;2&gt;</pre>after'
    q = '<blockquote class="bk-quote">'
    assert md("&gt; a *b*\n&gt; c\nplain\n> raw") == f"{q}a <b>b</b><br>c</blockquote>plain{q}raw</blockquote>"
    assert md("&gt;&gt;&gt; all\nof it") == f"{q}all<br>of it</blockquote>"
    assert md("a &gt; b") == "a &gt; b"


def test_links_only_for_safe_schemes() -> None:
    link = '<a href="https://x.y/?a=1&amp;b=2" target="_blank" rel="noopener">the *label*</a>'
    assert md("<https://x.y/?a=1&amp;b=2|the *label*>") == link
    assert tags(md("<https://x.y>"), "a", href="https://x.y")
    assert ">a@b.c</a>" in md("<mailto:a@b.c>") and tags(md("<mailto:a@b.c|mail>"), "a", href="mailto:a@b.c")
    assert md("<javascript:alert(1)|click>") == "click"
    assert md("<script>") == "&lt;script&gt;"
    assert md("<https://x.y|*b*> *<https://x.y|b>*").endswith("</a></b>")
    bare = md("see https://example.com/a_b_c. ok")
    assert tags(bare, "a", href="https://example.com/a_b_c") and bare.endswith("</a>. ok")


def test_mentions() -> None:
    assert md("<@U1>") == '<span class="bk-mention" data-user-id="U1">@Alice Example</span>'
    assert "@bob</span>" in md("<@U9|bob>") and "@U8</span>" in md("<@U8>")
    assert "#general</span>" in md("<#C1|old>") and "#random</span>" in md("<#C9|random>") and "#C8<" in md("<#C8>")
    for special in ("here", "channel", "everyone"):
        assert md(f"<!{special}>") == f'<span class="bk-mention">@{special}</span>'
    assert md("<!subteam^S1|@team>") == '<span class="bk-mention">@team</span>'
    assert md("*<@U2>*") == '<b><span class="bk-mention" data-user-id="U2">@Bob Example</span></b>'


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("{date_num} / {date} / {date_short}", "2026-12-01 / December 1st, 2026 / Dec 1, 2026"),
        ("{date_long} / {date_long_pretty}", "Tuesday, December 1st, 2026 / Tuesday, December 1st, 2026"),
        ("{date_pretty} / {date_short_pretty}", "December 1st, 2026 / Dec 1, 2026"),
        ("{date_short} at {time} ({time_secs})", "Dec 1, 2026 at 14:05 (14:05:09)"),
        ("on {nonsense} &amp; {time}", "on {nonsense} &amp; 14:05"),
    ],
)
def test_date_tokens(template: str, shown: str) -> None:
    out = md(f"<!date^{TS}^{template}|fallback>")
    assert out == f'<time datetime="2026-12-01T14:05:09Z" title="fallback">{shown}</time>'


def test_dates_with_link_and_fallback() -> None:
    assert tags(md(f"<!date^{TS}^{{date_num}}^https://x.y|fb>"), "a", href="https://x.y")
    assert md(f"<!date^{TS}^{{date}}^javascript:x|fb>").startswith("<time")
    assert md("<!date^soon^{date}|Dec 1 &amp; later>") == "Dec 1 &amp; later"
    assert md("<!date^1^|fb>") == "fb"
    assert "11th" in md("<!date^1794398400^{date}|x>") and "22nd" in md("<!date^1795348800^{date}|x>")


def test_text_objects() -> None:
    assert plain_text({"type": "plain_text", "text": "*a* & :x:"}) == "*a* &amp; ❌"
    assert plain_text({"type": "plain_text", "text": ":x:", "emoji": False}) == ":x:"
    assert plain_text(None) == "" and plain_text("<b>") == "&lt;b&gt;"
    assert text_object({"type": "mrkdwn", "text": "*a*"}, users=USERS, channels=CHANNELS) == "<b>a</b>"


def test_hostile_text_is_escaped_everywhere() -> None:
    bad, option = plain(EVIL), {"text": plain(EVIL), "value": EVIL, "description": plain(EVIL)}
    users: dict[str, dict[str, Any]] = {"U1": {"real_name": EVIL}}
    channels: dict[str, dict[str, Any]] = {"C1": {"name": EVIL}}
    button = {"type": "button", "text": bad, "action_id": EVIL, "value": EVIL, "url": EVIL}
    confirm = {"title": bad, "text": bad, "confirm": bad, "deny": bad}
    group = {"label": bad, "options": [option]}
    select = {"type": "static_select", "action_id": "s", "placeholder": bad, "option_groups": [group]}
    text = {"type": "mrkdwn", "text": f"{EVIL} <@U1> <#C1> <{EVIL}|{EVIL}>"}
    overflow = {"type": "overflow", "action_id": EVIL, "options": [option]}
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": bad},
        {"type": "section", "block_id": EVIL, "text": text, "fields": [bad], "accessory": overflow},
        {"type": "context", "elements": [bad, {"type": "image", "image_url": EVIL, "alt_text": EVIL}]},
        {"type": "actions", "elements": [{**button, "confirm": confirm}, select]},
        {**field(EVIL, "plain_text_input", placeholder=bad, initial_value=EVIL), "label": bad, "hint": bad},
        field("b", "plain_text_input", multiline=True, initial_value=EVIL),
        field("c", "checkboxes", options=[option]),
        field("d", "multi_users_select"),
        {"type": EVIL},
    ]
    out = blocks_html(blocks, users=users, channels=channels, errors={EVIL: EVIL})
    msg = {"user": "U1", "text": EVIL, "ts": EVIL, "files": [{"id": EVIL, "name": EVIL}]}
    out += message_html(msg, users=users, channels=channels, channel_id=EVIL)
    assert "<script" not in out.lower()
    assert 'href="' not in out.replace('href="/files/', "")  # the URLs are neither http(s) nor mailto
    assert out.count("&lt;script&gt;") > 20


def test_message_elements() -> None:
    confirm = {"title": plain("Sure?"), "text": plain("Really"), "confirm": plain("Yes"), "deny": plain("No")}
    go = {
        "type": "button",
        "text": plain("Go"),
        "action_id": "go",
        "value": "7",
        "style": "primary",
        "confirm": confirm,
    }
    docs = {"type": "button", "text": plain("Docs"), "action_id": "docs", "url": "https://x.y", "style": "danger"}
    out = render({"type": "actions", "block_id": "B", "elements": [go, docs]})
    (shown,) = tags(out, "button", data_action="button", data_block_id="B", data_action_id="go", data_value="7")
    assert shown["class"] == "bk-button bk-primary" and shown["type"] == "button"
    assert json.loads(shown["data-confirm"] or "") == confirm
    (shown,) = tags(out, "button", data_action_id="docs", data_url="https://x.y", data_value="")
    assert shown["class"] == "bk-button bk-danger" and "data-confirm" not in shown

    overflow = {"type": "overflow", "action_id": "more", "options": opts("a", "b")}
    select = {"type": "static_select", "action_id": "pick", "options": opts("x", "y"), "initial_option": opts("y")[0]}
    picker = {"type": "datepicker", "action_id": "when", "initial_date": "2026-12-01"}
    out = render(
        {"type": "section", "block_id": "S", "text": plain("t"), "accessory": overflow},
        {"type": "actions", "block_id": "A", "elements": [select, picker]},
    )
    assert tags(out, "select", class_="bk-overflow", data_action="overflow", data_block_id="S", data_action_id="more")
    assert '<option value="">⋯</option><option value="a">A</option>' in out
    assert tags(out, "select", data_action="static_select", data_block_id="A", data_action_id="pick")
    assert tags(out, "option", value="y", selected=None) and not tags(out, "option", value="x", selected=None)
    assert tags(out, "input", type="date", data_action="datepicker", data_action_id="when", value="2026-12-01")
    assert 'class="bk-block bk-section bk-has-accessory"' in out and 'class="bk-accessory"' in out


def test_input_elements() -> None:
    out = render(
        field("t", "plain_text_input", initial_value="hi", placeholder=plain("Type"), max_length=9, min_length=1),
        field("m", "plain_text_input", multiline=True, optional=True),
        field("n", "number_input", is_decimal_allowed=False, min_value="0", max_value="5"),
        field("f", "number_input", is_decimal_allowed=True, initial_value="1.5"),
        field("s", "static_select", option_groups=[{"label": plain("G"), "options": opts("x")}]),
        field("ms", "multi_static_select", options=opts("a", "b"), initial_options=opts("b")),
        field("u", "multi_users_select", initial_users=["U2"]),
        field("r", "radio_buttons", options=opts("a", "b"), initial_option=opts("b")[0]),
        field("c", "checkboxes", options=opts("a", "b"), initial_options=opts("a")),
        field("d", "datepicker", initial_date="2026-12-01"),
        field("tp", "timepicker", initial_time="09:30"),
    )
    text = {"data_input": "plain_text_input", "data_action_id": "v", "data_block_id": "t", "name": "t", "id": "bk-t"}
    assert tags(out, "input", type="text", value="hi", placeholder="Type", maxlength="9", minlength="1", **text)
    assert tags(out, "textarea", id="bk-m", data_input="plain_text_input") and "bk-optional" in out
    assert tags(out, "input", type="number", data_input="number_input", step="1", min="0", max="5")
    assert tags(out, "input", type="number", step="any", value="1.5")
    assert '<option value="">Choose an option</option><optgroup label="G"><option value="x">X</option>' in out
    assert tags(out, "select", id="bk-ms", multiple=None) and tags(out, "option", value="b", selected=None)
    assert '<option value="U1">Alice Example</option><option value="U2" selected>Bob Example</option>' in out
    assert "Onboarding Bot" not in out  # bots are not offered
    assert tags(out, "input", type="radio", name="r", value="b", checked=None, id="bk-r-1")
    assert tags(out, "div", data_input="radio_buttons", data_block_id="r", role="radiogroup")
    assert tags(out, "input", type="checkbox", value="a", checked=None) and tags(out, "label", for_="bk-c-0")
    assert tags(out, "input", type="date", id="bk-d", value="2026-12-01", data_input="datepicker")
    assert tags(out, "input", type="time", id="bk-tp", value="09:30", data_input="timepicker")
    for block_id in ("t", "n", "s", "ms", "u", "d", "tp"):
        assert tags(out, "label", class_="bk-label", for_=f"bk-{block_id}")


def test_an_external_select_is_a_search_box_keeping_its_option() -> None:
    tokyo = {"text": plain("Asia/Tokyo"), "value": "Asia/Tokyo"}
    out = render(
        field("z", "external_select", initial_option=tokyo, min_query_length=2),
        field("e", "external_select", placeholder=plain("Search time zones")),
    )
    (box,) = tags(out, "input", id="bk-z", data_input="external_select", role="combobox", value="Asia/Tokyo")
    assert box["data-min-query-length"] == "2" and box["aria-controls"] == "bk-z-options"
    assert json.loads(box["data-selected"] or "") == tokyo  # submitted as view.state's selected_option
    assert tags(out, "ul", id="bk-z-options", role="listbox", hidden=None)
    (empty,) = tags(out, "input", id="bk-e", placeholder="Search time zones", data_min_query_length="3")
    assert "value" not in empty and "data-selected" not in empty
    assert tags(out, "label", class_="bk-label", for_="bk-z")


def test_errors_show_under_their_own_field() -> None:
    out = render(field("a", "plain_text_input", hint="Hint A"), field("b", "number_input"), errors={"b": "Too big"})
    _, first, second = out.split('<div class="bk-block bk-input')
    assert "bk-error" not in first and first.endswith('<div class="bk-hint">Hint A</div></div>')
    assert second.startswith(' bk-has-error" data-block-id="b">')
    assert second.endswith('<div class="bk-error" role="alert">Too big</div></div>')


def test_other_blocks() -> None:
    rich = [{"type": "text", "text": "hi ", "style": {"bold": True}}, {"type": "user", "user_id": "U1"}]
    out = render(
        {"type": "header", "text": plain("Title :tada:")},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "*c*"}, {"type": "image", "alt_text": "pic"}]},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*f1*"}, plain("f2")]},
        {"type": "image", "image_url": "https://x.y/a.png", "alt_text": "chart"},
        {"type": "markdown", "text": "**bold** [site](https://x.y)"},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": rich}]},
        {"type": "mystery", "block_id": "M"},
    )
    assert "Title 🎉</div>" in out and "<hr>" in out
    assert '<span class="bk-context-item"><b>c</b></span><span class="bk-context-image">pic</span>' in out
    assert '<div class="bk-fields"><div class="bk-field"><b>f1</b></div><div class="bk-field">f2</div></div>' in out
    assert tags(out, "img", src="https://x.y/a.png", alt="chart")
    assert "<b>bold</b>" in out and tags(out, "a", href="https://x.y")
    assert "<b>hi </b>" in out and "@Alice Example" in out
    assert '<div class="bk-block bk-unknown" data-block-id="M">Unsupported block: mystery</div>' in out


def message(**fields: Any) -> str:
    chrome = {k: fields.pop(k) for k in ("ephemeral", "in_thread", "reply_count") if k in fields}
    return message_html({"ts": f"{TS}.000200", **fields}, users=USERS, channels=CHANNELS, channel_id="C1", **chrome)


def test_message_chrome() -> None:
    bot = message(bot_id="B1", text="*hi*", edited={"ts": "1"}, reply_count=1)
    assert tags(bot, "div", class_="msg msg-bot", data_ts=f"{TS}.000200", data_channel="C1")
    assert '<span class="msg-author">onboarding-bot</span> <span class="msg-app-badge">APP</span>' in bot
    assert '<time class="msg-time" datetime="2026-12-01T14:05:09Z">14:05</time>' in bot and "(edited)" in bot
    assert '<div class="bk-text"><b>hi</b></div>' in bot and ">1 reply</button>" in bot
    assert tags(bot, "button", class_="msg-replies", data_action="open-thread", data_ts=f"{TS}.000200")
    assert tags(bot, "button", class_="msg-menu-button", data_action="message-menu", title="More actions")
    assert tags(bot, "div", class_="msg-avatar msg-avatar-bot")

    person = message(user="U2", text="plain", blocks=[{"type": "divider"}], reply_count=3)
    assert ">Bob Example</span>" in person and "msg-app-badge" not in person and "(edited)" not in person
    assert '<div class="msg-avatar" aria-hidden="true">B</div>' in person
    assert "<hr>" in person and "plain" not in person and ">3 replies</button>" in person
    assert "msg-replies" not in message(user="U2", text="x", in_thread=True, reply_count=3)

    ephemeral = message(user="U2", text="psst", ephemeral=True)
    assert tags(ephemeral, "div", class_="msg msg-ephemeral msg-bot")
    assert '<div class="msg-ephemeral-note">Only visible to you</div>' in ephemeral
    assert "msg-menu-button" not in ephemeral

    plan = {"id": "F1", "name": "plan.md", "title": "Plan", "size": 2048, "mimetype": "text/markdown"}
    assert file_html(plan) == (
        '<div class="msg-file"><a href="/files/F1" target="_blank" rel="noopener" data-file-id="F1">📄 Plan</a> '
        '<span class="msg-file-meta">plan.md · 2.0 KB</span></div>'
    )
    assert file_html(plan) in message(bot_id="B1", text="", files=[plan])


def test_every_emoji_the_bot_writes_is_drawn() -> None:
    """The local Slack draws the bot's emoji as Slack would, so no `:name:` is left on the page."""
    import re
    from pathlib import Path

    from sandbox.render import EMOJI

    root = Path(__file__).resolve().parents[1] / "bot"
    used = {m for path in root.rglob("*.py") for m in re.findall(r":([a-z][a-z0-9_+]*):", path.read_text())}
    assert used - {"class"} <= set(EMOJI), used - set(EMOJI)
