from datetime import UTC, datetime, time

import pytest

from steps.schedule import describe, latest_update_due
from steps.step3 import Cadence


@pytest.mark.parametrize(
    ("cadence", "now", "expected"),
    [
        (Cadence.DAILY, datetime(2026, 11, 27, 8, 30, tzinfo=UTC), datetime(2026, 11, 27, 8, 0, tzinfo=UTC)),
        (Cadence.DAILY, datetime(2026, 11, 27, 7, 59, tzinfo=UTC), datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        # Friday 27 Nov 2026: the latest Monday is the 23rd
        (Cadence.WEEKLY, datetime(2026, 11, 27, 12, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
        (Cadence.WEEKLY, datetime(2026, 11, 23, 7, 0, tzinfo=UTC), datetime(2026, 11, 16, 8, 0, tzinfo=UTC)),
        (Cadence.MONTHLY, datetime(2026, 11, 27, 12, 0, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC)),
        (Cadence.MONTHLY, datetime(2026, 11, 1, 7, 0, tzinfo=UTC), datetime(2026, 10, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_latest_update_due_in_berlin(cadence: Cadence, now: datetime, expected: datetime) -> None:
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer (1 October is still summer time).
    assert latest_update_due(cadence, time(9, 0), "Europe/Berlin", now) == expected


def test_describe() -> None:
    assert describe(Cadence.WEEKLY, time(9, 0), "Europe/Berlin") == "every Monday at 09:00 (Europe/Berlin)"


def test_weekly_and_monthly_updates_go_out_on_the_day_the_team_picked() -> None:
    now = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)  # a Thursday
    wednesday = latest_update_due(Cadence.WEEKLY, time(9, 0), "Europe/Berlin", now, weekday=2)
    assert wednesday == datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
    friday = latest_update_due(Cadence.WEEKLY, time(9, 0), "Europe/Berlin", now, weekday=4)
    assert friday == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # this week's Friday has not come yet
    fifteenth = latest_update_due(Cadence.MONTHLY, time(9, 0), "Europe/Berlin", now, month_day=15)
    assert fifteenth == datetime(2026, 11, 15, 8, 0, tzinfo=UTC)
    assert describe(Cadence.WEEKLY, time(9, 0), "UTC", weekday=2) == "every Wednesday at 09:00 (UTC)"
    assert describe(Cadence.MONTHLY, time(9, 0), "UTC", month_day=22) == "on the 22nd of each month at 09:00 (UTC)"
