"""The plan document: Markdown with YAML frontmatter, one per plan.

Each step owns some H2 sections; saving Step 3 replaces only its two sections and keeps
everything else (other steps' sections, unknown frontmatter keys) as it was.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from steps.outline import (
    UNANSWERED,
    Credit,
    DiscussionNote,
    OutlineBlock,
    OutlineItem,
    discussion_block,
    health_outline,
    milestones_outline,
    single_line,
    training_outline,
)
from steps.step3 import STEP_ID, HealthModel, MilestonesSection, Section, TrainingPlan

NOT_DISCUSSED = f"_{UNANSWERED}_"
DOCUMENT_KIND = "onboarding-flow"
SUCCESS_MILESTONES_TITLE = "Success Milestones"
TRAINING_TITLE = "Training / Education Plan"
FRONTMATTER_ORDER = ("document", "project", "date", "status", "stepsCompleted", "inputDocuments")

_DELIMITER = "---"
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>\n]*)?>")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~!&])")
_SAFE_LINK = re.compile(r"https://[^\s()<>\[\]]+")


class DocumentError(ValueError):
    """The text is not a plan document this bot can read."""


@dataclass
class PlanDocument:
    frontmatter: dict[str, Any]
    title: str
    sections: list[tuple[str, str]]
    # Text between the title and the first H2; no step owns it, so it is carried along untouched.
    preamble: str = field(default="")

    def section(self, title: str) -> str | None:
        for heading, body in self.sections:
            if _same_title(heading, title):
                return body
        return None


def step3_section_names() -> tuple[str, str]:
    return SUCCESS_MILESTONES_TITLE, TRAINING_TITLE


def _same_title(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _trim_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_document(text: str) -> PlanDocument:
    # Split on "\n" only: str.splitlines() also breaks on characters such as U+2028 that
    # Markdown treats as ordinary text, which would let user text forge a heading.
    lines = _normalise_newlines(text).removeprefix("\ufeff").split("\n")
    if not lines or lines[0].rstrip() != _DELIMITER:
        raise DocumentError("The document has no YAML frontmatter: it must start with a '---' line.")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in (_DELIMITER, "..."))
    except StopIteration:
        raise DocumentError("The YAML frontmatter is not closed by a '---' line.") from None
    try:
        frontmatter = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise DocumentError(f"The YAML frontmatter cannot be read: {exc}") from exc
    if frontmatter is None:
        frontmatter = {}
    if not isinstance(frontmatter, dict):
        raise DocumentError("The YAML frontmatter must be a mapping of keys to values.")

    title = ""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in fenced_lines(lines[end + 1 :]):
        outside_code = not line.in_code
        if outside_code and line.text.startswith("## "):
            sections.append((line.text[3:].strip(), []))
            continue
        if outside_code and not sections and not title and line.text.startswith("# ") and not "".join(preamble).strip():
            title = line.text[2:].strip()
            continue
        if sections:
            sections[-1][1].append(line.text)
        else:
            preamble.append(line.text)
    return PlanDocument(
        frontmatter=frontmatter,
        title=title,
        sections=[(heading, _trim_blank_lines(body)) for heading, body in sections],
        preamble=_trim_blank_lines(preamble),
    )


@dataclass(frozen=True)
class FencedLine:
    """A line of Markdown, and where it stands with respect to code fences."""

    text: str
    in_code: bool  # a fence line itself, or a line between two
    open_fence: str | None  # the fence still open after this line (what would close it)


def fenced_lines(lines: Iterable[str]) -> Iterator[FencedLine]:
    """The one reading of code fences for the document and every copy made of it (the channel canvas)."""
    fence: str | None = None
    for line in lines:
        after = _next_fence(fence, line)
        yield FencedLine(line, in_code=fence is not None or after is not None, open_fence=after)
        fence = after


def _next_fence(fence: str | None, line: str) -> str | None:
    """The open code fence after ``line``. Only unindented fences count: user answers are
    always indented inside a bullet, so they cannot hide the next heading in code."""
    for char in "`~":
        run = len(line) - len(line.lstrip(char))
        if run >= 3:
            if fence is None:
                return char * run
            if char == fence[0] and run >= len(fence) and not line[run:].strip():
                return None
    return fence


def _close_fences(markdown: str) -> str:
    """Close a code fence left open, so it cannot swallow the headings that follow it."""
    fence: str | None = None
    for line in fenced_lines(markdown.split("\n")):
        fence = line.open_fence
    return markdown if fence is None else f"{markdown}\n{fence}"


def _ordered(frontmatter: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: frontmatter[key] for key in FRONTMATTER_ORDER if key in frontmatter}
    ordered.update((key, value) for key, value in frontmatter.items() if key not in ordered)
    return ordered


def _dump_frontmatter(frontmatter: dict[str, Any]) -> str:
    for allow_unicode in (True, False):
        text = yaml.safe_dump(
            frontmatter,
            sort_keys=False,
            allow_unicode=allow_unicode,
            default_flow_style=None,
            # A huge width keeps long scalars on one line instead of folding them.
            width=1_000_000,
        )
        # PyYAML folds a raw U+0085 (NEL) in a quoted scalar into a space; escaping
        # everything non-ASCII is the readable-enough fallback that always round-trips.
        if yaml.safe_load(text) == frontmatter:
            break
    return text


def render_document(doc: PlanDocument) -> str:
    yaml_text = _dump_frontmatter(_ordered(doc.frontmatter))
    parts: list[str] = []
    if doc.title:
        parts.append(f"# {single_line(doc.title)}\n")
    if doc.preamble.strip():
        parts.append(f"{_close_fences(doc.preamble)}\n")
    for heading, body in doc.sections:
        parts.append(f"## {single_line(heading)}\n" + (f"\n{_close_fences(body)}\n" if body.strip() else ""))
    return f"{_DELIMITER}\n{yaml_text}{_DELIMITER}\n" + "\n".join(parts)


Credits = Mapping[str, Sequence[Credit]]  # by the path of the answer the text was folded into


def _credit_markdown(credit: Credit) -> str:
    # A link Slack did not give in the expected shape is left out rather than allowed to break the Markdown.
    link = f", [original message]({credit.link})" if credit.link and _SAFE_LINK.fullmatch(credit.link) else ""
    return f" (from {mention(credit.author)} in Slack{link})"


def _credited(text: str, paths: Sequence[str], credits: Credits) -> str:
    """``text`` with each folded message it still contains credited right after it (the last copy of it)."""
    ends = sorted(
        {(text.rfind(c.text) + len(c.text), c) for path in paths for c in credits.get(path, ()) if c.text in text},
        reverse=True,
    )
    for end, credit in ends:  # from the end, so each insertion leaves the earlier positions as they were
        text = text[:end] + _credit_markdown(credit) + text[end:]
    return text


def _value_markdown(item: OutlineItem, credits: Credits) -> str:
    if item.users:
        return ", ".join(mention(user) for user in item.users)
    if item.value is None:
        return NOT_DISCUSSED
    # Continuation lines are indented so a multi-line answer stays one list item.
    lines = _normalise_newlines(_credited(item.value, item.paths, credits)).split("\n")
    text = "\n".join([lines[0]] + [f"  {line}" if line.strip() else "" for line in lines[1:]])
    return f"{text} ([open the thread]({item.link}))" if item.link else text


def blocks_markdown(blocks: list[OutlineBlock], credits: Credits) -> str:
    chunks = []
    for block in blocks:
        bullets = "\n".join(f"- **{item.label}:** {_value_markdown(item, credits)}" for item in block.items)
        chunks.append(f"### {_credited(single_line(block.heading), block.paths, credits)}\n\n{bullets}")
    return "\n\n".join(chunks)


def mention(user_id: str) -> str:
    """How the stored document names a person: a Slack mention, shown by name wherever it leaves Slack."""
    return f"<@{user_id}>"


def mentioned_users(markdown: str) -> list[str]:
    """The people the document mentions, each once, in order of appearance."""
    _, body = split_frontmatter(markdown)
    shown = (line.text for line in fenced_lines(body) if not line.in_code)  # code shows mentions as written
    return list(dict.fromkeys(m.group(1) for line in shown for m in _USER_MENTION.finditer(line)))


def with_names(markdown: str, names: Mapping[str, str]) -> str:
    """The document for reading outside Slack: each mention becomes the person's name from ``names`` (by user id),
    escaped so it reads as plain text, or ``Slack user U123`` while the name is not known. Code stays as written."""

    def name(match: re.Match[str]) -> str:
        known = names.get(match.group(1), "").strip()
        return markdown_text(known) if known else f"Slack user {match.group(1)}"

    frontmatter, body = split_frontmatter(markdown)  # the frontmatter is YAML, not Markdown, and names nobody
    named = [line.text if line.in_code else _USER_MENTION.sub(name, line.text) for line in fenced_lines(body)]
    return "\n".join(frontmatter + named)


def markdown_text(text: str) -> str:
    """Text from elsewhere (a Slack profile's name) as literal Markdown on one line: no emphasis, link, HTML or
    table cell can come out of it, and nothing Slack would read as a mention (``<!channel>``) stays intact."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", single_line(text))


def split_frontmatter(text: str) -> tuple[list[str], list[str]]:
    """The lines of the YAML frontmatter with its delimiters (none when there is none), and the lines after it."""
    lines = _normalise_newlines(text).removeprefix("\ufeff").split("\n")
    if lines and lines[0].rstrip() == _DELIMITER:
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in (_DELIMITER, "...")), None)
        if end is not None:
            return lines[: end + 1], lines[end + 1 :]
    return [], lines


def _replace_sections(sections: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Put each new section where its old one was; a missing one goes after its predecessor."""
    result: list[tuple[str, str]] = []
    placed: set[str] = set()
    for heading, body in sections:
        match = next((title for title, _ in new if _same_title(heading, title)), None)
        if match is None:
            result.append((heading, body))
        elif match not in placed:
            result.append(next(section for section in new if section[0] == match))
            placed.add(match)
        # A repeated copy of one of our sections is dropped, so saving twice never duplicates.
    for index, (title, body) in enumerate(new):
        if title in placed:
            continue
        before = next((t for t, _ in reversed(new[:index]) if t in placed), None)
        after = next((t for t, _ in new[index + 1 :] if t in placed), None)
        if before is not None:
            position = next(i for i, (h, _) in enumerate(result) if h == before) + 1
        elif after is not None:
            position = next(i for i, (h, _) in enumerate(result) if h == after)
        else:
            position = len(result)
        result.insert(position, (title, body))
        placed.add(title)
    return result


def compose_step3(
    previous: str | None,
    *,
    plan_name: str,
    today: datetime.date,
    milestones: MilestonesSection,
    health: HealthModel,
    training: TrainingPlan,
    discussion: Mapping[Section, DiscussionNote] | None = None,
    credits: Credits | None = None,
) -> str:
    """The plan document with Step 3's sections written from the answers, as Markdown text.

    ``discussion`` adds a short "Discussion" note, with a link, for each section whose thread has replies.
    ``credits``: text folded in from Slack messages, each credited to its author (a mention) after the text.
    """
    notes = discussion or {}
    folded = credits or {}
    doc = PlanDocument(frontmatter={}, title="", sections=[]) if previous is None else parse_document(previous)

    frontmatter = dict(doc.frontmatter)
    frontmatter.setdefault("document", DOCUMENT_KIND)
    frontmatter["project"] = plan_name
    frontmatter["date"] = today.isoformat()
    frontmatter.setdefault("status", "in-progress")
    steps = frontmatter.get("stepsCompleted")
    if steps is None:
        steps = []
    elif not isinstance(steps, list):
        raise DocumentError("'stepsCompleted' in the frontmatter must be a list.")
    if STEP_ID not in steps:
        steps = [*steps, STEP_ID]
    frontmatter["stepsCompleted"] = steps
    frontmatter.setdefault("inputDocuments", [])

    milestones_body = blocks_markdown(
        milestones_outline(milestones)
        + health_outline(health)
        + discussion_block(notes, (Section.MILESTONES, Section.HEALTH)),
        folded,
    )
    training_body = blocks_markdown(training_outline(training) + discussion_block(notes, (Section.TRAINING,)), folded)
    new_sections = [(SUCCESS_MILESTONES_TITLE, milestones_body), (TRAINING_TITLE, training_body)]
    return render_document(
        PlanDocument(
            frontmatter=_ordered(frontmatter),
            title=f"Onboarding Flow: {single_line(plan_name)}",
            sections=_replace_sections(doc.sections, new_sections),
            preamble=doc.preamble,
        )
    )
