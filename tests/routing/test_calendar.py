"""Business hours across a weekend, a holiday and the daylight-saving changes in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.routing.calendar import ALWAYS, parse_calendar

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = parse_calendar("office", {
    "timezone": "Europe/Berlin", "mon-fri": "08:00-18:00", "sat": "09:00-13:00",
    "holidays": ["2026-12-24"], "holiday_country": "DE", "holiday_subdivision": "BE",
})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


HOUR = 3600.0


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (local(2026, 3, 6, 17, 0), local(2026, 3, 9, 9, 0), 1 + 4 + 1),  # Fri 17-18, Sat 9-13, Mon 8-9
        (local(2026, 3, 7, 14, 0), local(2026, 3, 8, 20, 0), 0),  # Saturday afternoon to Sunday night
        (local(2026, 3, 27, 12, 0), local(2026, 3, 30, 12, 0), 6 + 4 + 4),  # across the spring change
        (local(2026, 10, 23, 12, 0), local(2026, 10, 26, 12, 0), 6 + 4 + 4),  # across the autumn change
        (local(2026, 12, 23, 17, 0), local(2026, 12, 28, 9, 0), 1 + 1),  # 24th ours; 25th, 26th (a Saturday) public
    ],
)
def test_open_hours_between_two_moments(start: datetime, end: datetime, hours: float) -> None:
    assert OFFICE.seconds_between(start, end) == hours * HOUR


def test_adding_business_time_skips_the_weekend() -> None:
    due = OFFICE.add(local(2026, 3, 6, 16, 0), 8 * HOUR)  # Fri 16-18 (2h), Sat 9-13 (4h), Mon 8-10 (2h)
    assert due == local(2026, 3, 9, 10, 0)


def test_a_day_with_the_spring_change_lasts_23_hours_around_the_clock() -> None:
    allday = parse_calendar("allday", {"timezone": "Europe/Berlin", "mon-sun": "00:00-24:00"})
    assert allday.seconds_between(local(2026, 3, 29, 0, 0), local(2026, 3, 30, 0, 0)) == 23 * HOUR
    assert allday.seconds_between(local(2026, 10, 25, 0, 0), local(2026, 10, 26, 0, 0)) == 25 * HOUR
    # business time added across the change keeps the wall clock honest
    assert allday.add(local(2026, 3, 28, 12, 0), 24 * HOUR) == local(2026, 3, 29, 13, 0)


def test_opening_hours_are_local_time_on_both_sides_of_the_change() -> None:
    before = OFFICE.intervals(local(2026, 3, 27, 0, 0).date())
    after = OFFICE.intervals(local(2026, 3, 30, 0, 0).date())
    assert before == [(datetime(2026, 3, 27, 7, 0, tzinfo=UTC), datetime(2026, 3, 27, 17, 0, tzinfo=UTC))]
    assert after == [(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), datetime(2026, 3, 30, 16, 0, tzinfo=UTC))]
    assert OFFICE.is_open(local(2026, 3, 30, 8, 30)) and not OFFICE.is_open(local(2026, 3, 29, 10, 0))


def test_no_calendar_is_open_around_the_clock() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert ALWAYS.seconds_between(start, start + timedelta(days=2)) == 48 * HOUR
