"""Help texts: `/onboarding help`, the [MH] menu help, and short notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.blocks.common import esc, mention, sections
from bot.ids import COMMAND
from steps.step3 import MIN_MILESTONES, NEXT_STEP_ID, NEXT_STEP_TITLE, Section

if TYPE_CHECKING:
    from storage.records import Backlog, PlanStatus

COMMANDS = [
    ("step3", "Start or resume Step 3 (Success Milestones) for this channel's plan."),
    ("status", "Which steps are completed, which sections are answered, posts waiting to go out, failed deliveries."),
    ("doc", "Post the current plan document to this channel."),
    (
        'customer add "<name>" [id=<external id>] [start=YYYY-MM-DD] [owner=@user] [segment=<text>]',
        "Add a customer, or update the one with that id (the customer's id in your CRM; without one, the bot "
        "gives one from the name); its milestone deadlines follow from the start date (default: today).",
    ),
    ("customer list", "Customers with their health score, band and overdue milestones."),
    (
        'milestone done "<customer>" <milestone number or name> [date=YYYY-MM-DD]',
        "Record a milestone as reached (default: today).",
    ),
    ('signal "<customer>" <factor>=<0-100> ...', "Record health signals, e.g. `adoption=70 engagement=55`."),
    ("alerts here [plan=#channel]", "Send the plan's missed-milestone alerts and health updates to this channel."),
    ("import", "Upload a CSV file of customers or signals; you get a report of what was imported or rejected."),
    ("history", "Recent changes to the plan: who changed which field of which section, and when."),
    ('rename "<name>"', "Give the plan a name of the team's choosing (it starts with the channel's name)."),
    (
        "freshness [<factor>=<days>|default ...] [share=<1-100>|default]",
        "How old a health signal may be before it counts as missing, and the share of the weights a score needs "
        "(only to you); with values, sets them.",
    ),
    (
        "token create <name> | token list | token revoke <name>",
        "API tokens of this channel's plan, for `POST /api/v1/customers` and `/api/v1/signals`: a new token is "
        "shown once, only to you; the list never shows tokens.",
    ),
    ("help", "This help."),
]


def help_message(unknown: str | None = None) -> dict[str, Any]:
    lines = []
    if unknown is not None:
        lines.append(f"I don't know `{esc(unknown)}`. Here is what I can do:")
    lines.append("*onboarding-bot* facilitates your onboarding-flow plan, one plan per channel.")
    lines += [f"• `{COMMAND} {esc(name)}` — {text}" for name, text in COMMANDS]
    lines.append('Names with spaces are quoted, for example `"Acme Corp"`.')
    text = "\n".join(lines)
    return {"text": text, "blocks": sections(text)}


def menu_help_message() -> dict[str, Any]:
    text = "\n".join(
        [
            "*The Step 3 menu*",
            "• *Review and save* — once all three sections are answered: the synthesis for the team to confirm; "
            "confirming saves Success Milestones (with the Health Score Model) and the Training / Education Plan "
            "into the plan document and posts it here. After a save, the hub offers it again whenever answers "
            "changed since the saved document.",
            f"• *[C] Continue to {NEXT_STEP_TITLE}* — once Step 3 is saved: on to the next step (it tells you "
            "when that step is not available yet).",
            "• *[R] Revise Success Milestones* — reopen any milestone or section with its saved answers; saving "
            "again creates a new document version when you confirm.",
            "Milestones are edited one at a time: *Edit* on a milestone's row, *Add a milestone* (up to 5) and "
            f"*Remove a milestone…* on the Step 3 message; reviewing needs at least {MIN_MILESTONES}.",
            "• *[MH] Menu Help* — this explanation.",
            "Unanswered optional questions appear as _Not yet discussed_: the bot never invents content.",
            "",
            *(f"• `{COMMAND} {esc(name)}` — {text}" for name, text in COMMANDS),
        ]
    )
    return {"text": text, "blocks": sections(text)}


def missing_sections_message(missing: list[Section]) -> dict[str, Any]:
    names = ", ".join(
        f"*{s.label}* (at least {MIN_MILESTONES} milestones)" if s is Section.MILESTONES else f"*{s.label}*"
        for s in missing
    )
    text = f"Before continuing, answer {names}. Use the buttons on the Step 3 message."
    return {"text": text, "blocks": sections(text)}


def save_first_message() -> dict[str, Any]:
    text = "Step 3 is not saved yet: press *Review and save* on the Step 3 message, then confirm the synthesis."
    return {"text": text, "blocks": sections(text)}


def next_step_unavailable_message() -> dict[str, Any]:
    text = (
        f"Step 4, *{NEXT_STEP_TITLE}* (`{NEXT_STEP_ID}`), is not available in this version of onboarding-bot yet. "
        f"The plan is complete through Step 3; `{COMMAND} doc` posts the document any time."
    )
    return {"text": text, "blocks": sections(text)}


def notice(text: str) -> dict[str, Any]:
    """A short ephemeral reply; ``text`` is already mrkdwn-safe."""
    return {"text": text, "blocks": sections(text)}


def status_message(status: PlanStatus, now: datetime) -> dict[str, Any]:
    lines = [f"*Plan {esc(status.name)}*"]
    lines.append("Steps completed: " + (", ".join(f"`{s}`" for s in status.steps_completed) or "none yet"))
    for section in Section:
        editor = status.editors.get(section.value)
        lines.append(
            f"• {section.label}: " + (f"answered (last edited by {mention(editor)})" if editor else "not yet answered")
        )
    lines.append(f"Document versions: {status.document_versions}")
    lines.append(f"Alerts and health updates go to <#{status.alert_channel_id or status.channel_id}>.")
    if status.backlog is not None:
        lines.append(waiting_line(status.backlog, now))
    if status.failed:
        lines.append(":x: *Failed deliveries* (Slack refused these posts):")
        lines += [f"• {esc(summary)} — `{esc(error)}`" for summary, error in status.failed]
    text = "\n".join(lines)
    return {"text": text, "blocks": sections(text)}


def ago(age: timedelta) -> str:
    """``2 h 14 min``: how long ago, to the minute (days and hours beyond a day)."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 1:
        return "less than a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def waiting_line(backlog: Backlog, now: datetime) -> str:
    """The plan's posts not in Slack yet: how many, how long the oldest has waited, what Slack last answered."""
    count = backlog.count
    line = (
        f":hourglass_flowing_sand: {count} post{'s' if count != 1 else ''} waiting to go out, "
        f"oldest queued {ago(now - backlog.oldest_queued_at)} ago"
    )
    if backlog.error:
        line += f"; Slack has been failing: `{esc(backlog.error)}`"
    return line + "."
