"""When a plan's health-score update is due: its cadence, time of day and time zone.

Weekly updates go out on the weekday the team picked and monthly ones on the day of the month it picked (1-28,
so every month has it); answers saved before those questions existed keep Monday and the 1st.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from steps.step3 import Cadence


def _at(day: date, when: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, when, tzinfo=zone)


def latest_update_due(
    cadence: Cadence, when: time, timezone: str, now: datetime, weekday: int = 0, month_day: int = 1
) -> datetime:
    """The most recent scheduled update instant at or before ``now`` (UTC-aware in, UTC out).

    ``weekday`` (0 = Monday) is the day of weekly updates, ``month_day`` (1-28) that of monthly ones.
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    today = local.date()
    if cadence is Cadence.DAILY:
        candidate = _at(today, when, zone)
        if candidate > local:
            candidate = _at(today - timedelta(days=1), when, zone)
    elif cadence is Cadence.WEEKLY:
        this_week = today - timedelta(days=(today.weekday() - weekday) % 7)
        candidate = _at(this_week, when, zone)
        if candidate > local:
            candidate = _at(this_week - timedelta(days=7), when, zone)
    else:
        this_month = today.replace(day=month_day)
        candidate = _at(this_month, when, zone)
        if candidate > local:
            previous = (today.replace(day=1) - timedelta(days=1)).replace(day=month_day)
            candidate = _at(previous, when, zone)
    return candidate.astimezone(UTC)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def describe(cadence: Cadence, when: time, timezone: str, weekday: int = 0, month_day: int = 1) -> str:
    day = {
        Cadence.DAILY: "every day",
        Cadence.WEEKLY: f"every {WEEKDAYS[weekday]}",
        Cadence.MONTHLY: f"on the {_ordinal(month_day)} of each month",
    }
    return f"{day[cadence]} at {when:%H:%M} ({timezone})"
