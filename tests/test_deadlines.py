"""Milestone deadlines: due dates, overdue days, missed / on-time, and recomputing after a plan edit."""

from __future__ import annotations

from datetime import date

import pytest

from steps.deadlines import days_overdue, deadline, is_missed, reached_on_time, recompute_due


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 3, 2), 14, date(2026, 3, 16)),
        (date(2026, 1, 20), 14, date(2026, 2, 3)),  # month boundary
        (date(2026, 12, 20), 30, date(2027, 1, 19)),  # year boundary
        (date(2028, 2, 28), 1, date(2028, 2, 29)),  # leap day
        (date(2027, 2, 28), 1, date(2027, 3, 1)),  # no leap day
        (date(2026, 1, 1), 365, date(2027, 1, 1)),
        (date(2026, 1, 1), 3650, date(2035, 12, 30)),  # longest timeline, over two leap days
    ],
)
def test_deadline_is_start_plus_timeline_days(start: date, days: int, due: date) -> None:
    assert deadline(start, days) == due


@pytest.mark.parametrize(
    ("due", "today", "overdue"),
    [
        (date(2026, 3, 16), date(2026, 3, 1), 0),
        (date(2026, 3, 16), date(2026, 3, 16), 0),  # due today: not overdue
        (date(2026, 3, 16), date(2026, 3, 17), 1),  # the day after
        (date(2026, 1, 31), date(2026, 2, 2), 2),  # month boundary
        (date(2026, 12, 30), date(2027, 1, 2), 3),  # year boundary
        (date(2028, 2, 28), date(2028, 3, 1), 2),  # leap day counts
    ],
)
def test_days_overdue(due: date, today: date, overdue: int) -> None:
    assert days_overdue(due, today) == overdue


DUE = date(2026, 12, 31)


@pytest.mark.parametrize(
    ("completed_on", "on_time"),
    [(None, False), (date(2026, 12, 1), True), (DUE, True), (date(2027, 1, 1), False)],
)
def test_reached_on_time(completed_on: date | None, on_time: bool) -> None:
    assert reached_on_time(DUE, completed_on) is on_time


@pytest.mark.parametrize(
    ("completed_on", "today", "missed"),
    [
        (None, date(2026, 12, 30), False),  # not due yet
        (None, DUE, False),  # due today
        (None, date(2027, 1, 1), True),  # the day after, across the year boundary
        (date(2026, 12, 31), date(2027, 2, 1), False),  # completed on the due date
        (date(2026, 11, 30), date(2027, 2, 1), False),  # completed early
        (date(2027, 1, 1), date(2027, 2, 1), True),  # completed late
        (date(2027, 1, 1), date(2027, 1, 1), True),  # completed late, today
    ],
)
def test_is_missed(completed_on: date | None, today: date, missed: bool) -> None:
    assert is_missed(DUE, completed_on, today) is missed


START = date(2026, 1, 1)


def test_recompute_moves_a_future_deadline() -> None:
    old_due = deadline(START, 60)  # 2026-03-02
    assert recompute_due(START, old_due, 90, today=date(2026, 2, 1)) == date(2026, 4, 1)
    assert recompute_due(START, old_due, 45, today=date(2026, 2, 1)) == date(2026, 2, 15)


def test_recompute_keeps_a_deadline_that_already_passed() -> None:
    old_due = deadline(START, 30)  # 2026-01-31
    assert recompute_due(START, old_due, 90, today=date(2026, 2, 1)) == old_due
    assert recompute_due(START, old_due, 10, today=date(2026, 2, 1)) == old_due


def test_recompute_moves_a_deadline_due_today() -> None:
    old_due = deadline(START, 31)  # 2026-02-01, not overdue yet
    assert recompute_due(START, old_due, 59, today=date(2026, 2, 1)) == date(2026, 3, 1)


def test_recompute_never_moves_a_pending_deadline_into_the_past() -> None:
    old_due = deadline(START, 60)  # 2026-03-02
    today = date(2026, 2, 10)
    assert recompute_due(START, old_due, 14, today=today) == today  # 2026-01-15 would already be missed
    assert not is_missed(recompute_due(START, old_due, 14, today=today), None, today)


def test_recompute_across_a_year_boundary() -> None:
    start = date(2026, 11, 15)
    old_due = deadline(start, 30)  # 2026-12-15
    assert recompute_due(start, old_due, 60, today=date(2026, 12, 1)) == date(2027, 1, 14)
