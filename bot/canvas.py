"""The plan's channel canvas: a copy of the current plan document, kept up to date on every save.

Slack logic only (no database): the caller stores ``CanvasResult.canvas_id`` / ``unavailable`` on the
plan and posts ``unavailable_notice`` when ``newly_unavailable`` is set.

Slack facts this relies on (docs for conversations.canvases.create and canvases.edit):
- one channel canvas per channel; a second create answers ``channel_canvas_already_exists``, and
  ``conversations.info`` names the existing one at ``channel.properties.canvas.file_id``;
- ``canvases.edit`` takes exactly one change; ``replace`` without a ``section_id`` replaces the whole canvas;
- canvas markdown has headings h1-h3 only, writes a user mention as ``![](@U123)`` and a channel
  mention as ``![](#C123)``, and is limited to 1 MiB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.common import sections
from steps.document import fenced_lines, split_frontmatter

# Slack: "The markdown content is limited to 1 MiB (1,048,576 characters)". Counted in UTF-8 bytes
# here, which is never less than the character count, so the cut text fits either reading.
MAX_CANVAS_BYTES = 1_048_576
TRUNCATED_NOTE = (
    "_The plan document is too long for a canvas; this copy stops here. "
    "The full document is in the file posted in this channel._"
)

# Errors meaning this workspace, token or app cannot have (or write) the channel canvas: stop trying,
# say so once, and keep posting the document as a file.
UNAVAILABLE_ERRORS = frozenset(
    {
        "team_tier_cannot_create_channel_canvases",  # plan tier without channel canvases
        "canvas_disabled_user_team",  # canvases switched off for the workspace
        "free_teams_cannot_edit_standalone_canvases",  # canvases.edit on a free workspace
        "missing_scope",  # no canvases:write
        "not_allowed_token_type",
        "restricted_action",  # the workspace's admins do not let the bot do this
    }
)
ALREADY_EXISTS_ERRORS = frozenset({"channel_canvas_already_exists", "free_team_canvas_tab_already_exists"})
CANVAS_NOT_FOUND = "canvas_not_found"

_MENTION = re.compile(r"<([@#])([A-Z][A-Z0-9]+)(?:\|[^<>\n]*)?>")
_DEEP_HEADING = re.compile(r"^ {0,3}#{4,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


@dataclass(frozen=True)
class CanvasResult:
    canvas_id: str | None
    unavailable: str | None
    newly_unavailable: bool


def _without_frontmatter(document: str) -> str:
    _, lines = split_frontmatter(document)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)


def _canvas_line(line: str, in_code: bool) -> str:
    if in_code:
        return line
    line = _MENTION.sub(lambda m: f"![]({m.group(1)}{m.group(2)})", line)
    heading = _DEEP_HEADING.match(line)
    if heading:
        text = (heading.group(1) or "").strip()
        return f"**{text}**" if text else ""
    return line


def _fit(markdown: str) -> str:
    if len(markdown.encode("utf-8")) <= MAX_CANVAS_BYTES:
        return markdown
    budget = MAX_CANVAS_BYTES - len(TRUNCATED_NOTE.encode("utf-8")) - 16  # room for a closing fence
    kept: list[str] = []
    used = 0
    fence: str | None = None
    for line in fenced_lines(markdown.split("\n")):
        size = len(line.text.encode("utf-8")) + 1
        if used + size > budget:
            if not kept:  # one enormous first line: cut inside it, on a character boundary
                kept.append(line.text.encode("utf-8")[:budget].decode("utf-8", "ignore"))
            break
        kept.append(line.text)
        used += size
        fence = line.open_fence
    if fence is not None:
        kept.append(fence)
    return "\n".join([*kept, "", TRUNCATED_NOTE])


def canvas_markdown(document: str) -> str:
    """The plan document as canvas markdown: no YAML frontmatter, canvas mentions, h1-h3 only, ≤ 1 MiB."""
    # Fence lines themselves and everything between them stay as written.
    out = [_canvas_line(line.text, line.in_code) for line in fenced_lines(_without_frontmatter(document).split("\n"))]
    return _fit("\n".join(out).rstrip("\n") + "\n")


def _content(markdown: str) -> dict[str, str]:
    return {"type": "markdown", "markdown": markdown}


def _error(exc: SlackApiError) -> str:
    response: Any = exc.response
    try:
        return str(response.get("error") or "")
    except AttributeError:
        return ""


def _edit(client: WebClient, canvas_id: str, markdown: str) -> None:
    client.canvases_edit(
        canvas_id=canvas_id, changes=[{"operation": "replace", "document_content": _content(markdown)}]
    )


def _existing_channel_canvas(client: WebClient, channel_id: str) -> str | None:
    channel = client.conversations_info(channel=channel_id).get("channel") or {}
    canvas = (channel.get("properties") or {}).get("canvas") or {}
    file_id = canvas.get("file_id")
    return str(file_id) if file_id else None


def _create_or_adopt(client: WebClient, channel_id: str, markdown: str, gone: str | None) -> str | None:
    """A new channel canvas, or the channel's existing one rewritten; None when it has one we cannot find."""
    try:
        response = client.conversations_canvases_create(channel_id=channel_id, document_content=_content(markdown))
        return str(response["canvas_id"])
    except SlackApiError as exc:
        if _error(exc) not in ALREADY_EXISTS_ERRORS:
            raise
    existing = _existing_channel_canvas(client, channel_id)
    if existing is None or existing == gone:
        return None
    _edit(client, existing, markdown)
    return existing


def mirror_document(
    client: WebClient,
    channel_id: str,
    canvas_id: str | None,
    canvas_unavailable: str | None,
    document: str,
) -> CanvasResult:
    """Make the channel canvas show ``document``: create it the first time, replace its content after.

    Returns the canvas id to remember, or why the workspace cannot have it (``newly_unavailable`` the
    first time, so the caller says so once). Other Slack errors (rate limits, outages) propagate.
    """
    if canvas_unavailable:
        return CanvasResult(canvas_id, canvas_unavailable, newly_unavailable=False)
    markdown = canvas_markdown(document)
    known = canvas_id
    try:
        if canvas_id is not None:
            try:
                _edit(client, canvas_id, markdown)
                return CanvasResult(canvas_id, None, newly_unavailable=False)
            except SlackApiError as exc:
                if _error(exc) != CANVAS_NOT_FOUND:
                    raise
                known = None  # deleted by someone: make a new one
        created = _create_or_adopt(client, channel_id, markdown, gone=canvas_id)
    except SlackApiError as exc:
        error = _error(exc)
        if error in UNAVAILABLE_ERRORS:
            return CanvasResult(known, error, newly_unavailable=True)
        raise
    if created is None:
        # The channel has a canvas this bot did not make and cannot find: leave it alone.
        return CanvasResult(None, "channel_canvas_already_exists", newly_unavailable=True)
    return CanvasResult(created, None, newly_unavailable=False)


def unavailable_notice(reason: str) -> dict[str, Any]:
    """The one message saying this plan gets no channel canvas, and the document keeps coming as a file."""
    reason = re.sub(r"[^A-Za-z0-9_.-]", "", reason) or "unknown"
    text = (
        f"This workspace can't have a channel canvas for this plan (`{reason}`), "
        "so I'll keep posting the plan document here as a file after each save."
    )
    return {"text": text, "blocks": sections(f":information_source: {text}")}
