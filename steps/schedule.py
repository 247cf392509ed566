"""When a plan's health-score update is due: its cadence, time of day and time zone.

Weekly updates go out on Mondays and monthly ones on the 1st: the Step 3 questions ask only
"how often" and "at what time", so the bot picks the conventional day and says so in help.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from steps.step3 import Cadence


def _at(day: date, when: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, when, tzinfo=zone)


def latest_update_due(cadence: Cadence, when: time, timezone: str, now: datetime) -> datetime:
    """The most recent scheduled update instant at or before ``now`` (UTC-aware in, UTC out)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    today = local.date()
    if cadence is Cadence.DAILY:
        candidate = _at(today, when, zone)
        if candidate > local:
            candidate = _at(today - timedelta(days=1), when, zone)
    elif cadence is Cadence.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        candidate = _at(monday, when, zone)
        if candidate > local:
            candidate = _at(monday - timedelta(days=7), when, zone)
    else:
        first = today.replace(day=1)
        candidate = _at(first, when, zone)
        if candidate > local:
            previous = (first - timedelta(days=1)).replace(day=1)
            candidate = _at(previous, when, zone)
    return candidate.astimezone(UTC)


def describe(cadence: Cadence, when: time, timezone: str) -> str:
    day = {Cadence.DAILY: "every day", Cadence.WEEKLY: "every Monday", Cadence.MONTHLY: "on the 1st of each month"}
    return f"{day[cadence]} at {when:%H:%M} ({timezone})"
