"""Reading `/onboarding` arguments: quoted names, key=value options, Slack's escaped mentions."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import date

from steps.errors import UserError

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
# Slack clients (macOS especially) turn typed quotes into curly ones.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text.translate(_QUOTES))
    except ValueError as exc:
        raise UserError(
            'I could not read that: a quote is not closed. Quote names with spaces like `"Acme Corp"`.'
        ) from exc


def parse_user(text: str, option: str) -> str:
    match = _MENTION.match(text)
    if match is None:
        raise UserError(f"`{option}=` needs an @-mention picked from Slack's list, like `{option}=@jane`.")
    return match.group(1)


_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse_channel(text: str, option: str) -> str:
    match = _CHANNEL.match(text)
    if match is None:
        raise UserError(f"`{option}=` needs a channel picked from Slack's list, like `{option}=#onboarding-acme`.")
    return match.group(1)


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"`{option}={{text}}` is not a date; use YYYY-MM-DD, like `{option}=2026-12-01`.", text=text
        ) from None


def split_options(words: list[str], allowed: set[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words, then ``key=value`` options (each known and given once)."""
    positional: list[str] = []
    options: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or " " in key:
            positional.append(word)
            continue
        key = key.lower()
        if key not in allowed:
            known = ", ".join(f"`{k}=`" for k in sorted(allowed)) or "none"
            raise UserError(f"I don't know the option `{{key}}=`. Options here: {known}.", key=key)
        if key in options:
            raise UserError("`{key}=` is given twice.", key=key)
        options[key] = value
    return positional, options


@dataclass(frozen=True)
class NewCustomer:
    name: str
    start: date | None
    owner: str | None
    segment: str | None
    external_id: str | None = None  # the customer's id in the team's CRM


CUSTOMER_ADD_USAGE = (
    "`/onboarding customer add <name> [id=<external id>] [start=YYYY-MM-DD] [owner=@user] [segment=<text>]`"
)


def parse_customer_add(words: list[str]) -> NewCustomer:
    positional, options = split_options(words, {"id", "start", "owner", "segment"})
    if len(positional) != 1:
        hint = " Quote a name with spaces." if len(positional) > 1 else ""
        raise UserError(f"Give one customer name: {CUSTOMER_ADD_USAGE}.{hint}")
    name = positional[0].strip()
    if not name or len(name) > 200:
        raise UserError("A customer name is 1 to 200 characters.")
    segment = options.get("segment", "").strip() or None
    if segment is not None and len(segment) > 200:
        raise UserError("A segment is at most 200 characters.")
    return NewCustomer(
        name=name,
        start=parse_date(options["start"], "start") if "start" in options else None,
        owner=parse_user(options["owner"], "owner") if "owner" in options else None,
        segment=segment,
        external_id=_external_id(options["id"]) if "id" in options else None,
    )


def _external_id(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 100 or any(c.isspace() or c in "<>|" for c in value):
        raise UserError("An `id=` is the customer's id in your CRM: 1 to 100 characters, no spaces.")
    return value


@dataclass(frozen=True)
class MilestoneDone:
    customer: str
    milestone: str  # a 1-based number or a name
    on: date | None


MILESTONE_DONE_USAGE = "`/onboarding milestone done <customer> <milestone number or name> [date=YYYY-MM-DD]`"


def parse_milestone_done(words: list[str]) -> MilestoneDone:
    if not words or words[0].lower() != "done":
        raise UserError(f"Usage: {MILESTONE_DONE_USAGE}")
    positional, options = split_options(words[1:], {"date"})
    if len(positional) != 2:
        raise UserError(f"Give a customer and a milestone: {MILESTONE_DONE_USAGE}. Quote names with spaces.")
    return MilestoneDone(
        positional[0], positional[1], parse_date(options["date"], "date") if "date" in options else None
    )


SIGNAL_USAGE = "`/onboarding signal <customer> <factor>=<0-100> ...`"


def parse_signal(words: list[str]) -> tuple[str, dict[str, float]]:
    if not words:
        raise UserError(f"Usage: {SIGNAL_USAGE}")
    customer, pairs = words[0], words[1:]
    if "=" in customer:
        raise UserError(f"Name the customer first: {SIGNAL_USAGE}")
    if not pairs:
        raise UserError(f"Give at least one factor value: {SIGNAL_USAGE}")
    values: dict[str, float] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserError(f"`{{pair}}` is not `<factor>=<value>`. Usage: {SIGNAL_USAGE}", pair=pair)
        key = key.lower()
        try:
            value = float(raw)
        except ValueError:
            raise UserError("`{pair}`: the value must be a number from 0 to 100.", pair=pair) from None
        if not 0 <= value <= 100:
            raise UserError("`{pair}`: the value must be from 0 to 100.", pair=pair)
        if key in values:
            raise UserError("`{key}` is given twice.", key=key)
        values[key] = value
    return customer, values


ALERTS_USAGE = "`/onboarding alerts here [plan=#plan-channel]`"


def parse_alerts_here(words: list[str]) -> str | None:
    """The plan channel named with ``plan=``, or None for "this channel's plan"."""
    if not words or words[0].lower() != "here":
        raise UserError(f"Usage: {ALERTS_USAGE}")
    positional, options = split_options(words[1:], {"plan"})
    if positional:
        raise UserError(f"Usage: {ALERTS_USAGE}")
    return parse_channel(options["plan"], "plan") if "plan" in options else None


RENAME_USAGE = '`/onboarding rename "Acme onboarding 2027"`'
PLAN_NAME_LENGTH = 100  # shown in headers (150 characters) after "Step 3 synthesis · "


def parse_plan_name(words: list[str]) -> str:
    """The plan's new name: the rest of the command, quoted or not, on one line."""
    name = " ".join(" ".join(words).split())
    if not name:
        raise UserError(f"Give the plan a name: {RENAME_USAGE}")
    if len(name) > PLAN_NAME_LENGTH:
        raise UserError(f"Keep the plan's name to {PLAN_NAME_LENGTH} characters or fewer.")
    return name


FRESHNESS_USAGE = "`/onboarding freshness [<factor>=<days>|default ...] [share=<1-100>|default]`"
MAX_WINDOW_DAYS = 3650  # ten years: a longer window is no window, and the date arithmetic stays in range


@dataclass(frozen=True)
class FreshnessChange:
    """Staleness windows to set (factor key -> days; None: back to the cadence's default) and the minimum data
    share (percent; None: back to the default), each only when given."""

    windows: dict[str, int | None]
    share: int | None
    share_given: bool


def parse_freshness(words: list[str]) -> FreshnessChange:
    """``<factor>=<days>`` pairs and ``share=<percent>``; whether the factors exist is the plan's to say."""
    windows: dict[str, int | None] = {}
    share: int | None = None
    share_given = False
    for pair in words:
        key, sep, raw = pair.partition("=")
        key, raw = key.lower(), raw.strip().lower()
        if not sep or not key or not raw:
            raise UserError(f"`{{pair}}` is not `<factor>=<days>`. Usage: {FRESHNESS_USAGE}", pair=pair)
        if key in windows or (key == "share" and share_given):
            raise UserError("`{key}` is given twice.", key=key)
        if key == "share":
            share_given = True
            share = None if raw == "default" else _whole(pair, raw, 1, 100, "a whole percentage from 1 to 100")
            continue
        wanted = f"a whole number of days from 1 to {MAX_WINDOW_DAYS}"
        windows[key] = None if raw == "default" else _whole(pair, raw, 1, MAX_WINDOW_DAYS, wanted)
    return FreshnessChange(windows, share, share_given)


def _whole(pair: str, raw: str, low: int, high: int, wanted: str) -> int:
    # Only ASCII digits (int() also reads "²" and "٣"), and few of them: int() of thousands of digits raises.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not low <= int(raw) <= high:
        raise UserError(f"`{{pair}}`: the value must be {wanted}, or `default`.", pair=pair)
    return int(raw)
