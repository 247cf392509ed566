"""Milestone deadlines: when a milestone is due, whether it is overdue, missed or reached on time.

All dates are calendar dates in the plan's time zone; a milestone due on a day is on time for
that whole day and becomes overdue the day after.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["days_overdue", "deadline", "is_missed", "reached_on_time", "recompute_due"]


def deadline(start: date, timeline_days: int) -> date:
    """The due date of a milestone: the customer's onboarding start date plus the milestone's timeline."""
    return start + timedelta(days=timeline_days)


def days_overdue(due: date, today: date) -> int:
    """Whole days past the due date; 0 on or before the due date."""
    return max((today - due).days, 0)


def reached_on_time(due: date, completed_on: date | None) -> bool:
    """Completed on or before its due date."""
    return completed_on is not None and completed_on <= due


def is_missed(due: date, completed_on: date | None, today: date) -> bool:
    """Missed: completed after its due date, or still not completed once the due date has passed."""
    if completed_on is None:
        return today > due
    return completed_on > due


def recompute_due(start: date, old_due: date, new_timeline_days: int, today: date) -> date:
    """The due date after the plan's timeline for a milestone is edited to ``new_timeline_days``.

    Editing the plan recomputes future deadlines, never past ones:

    - a deadline that has already passed (``old_due < today``) is kept, so a milestone that was
      missed stays missed and its alert is not re-raised or withdrawn by a plan edit;
    - a deadline that has not passed yet (due today or later) moves to ``start + new_timeline_days``,
      but never into the past: if that date is before ``today`` the milestone is due ``today``,
      so shortening the timeline cannot turn a pending milestone into a missed one retroactively.
    """
    if old_due < today:
        return old_due
    return max(deadline(start, new_timeline_days), today)
