"""Business-hours calendars: opening hours per weekday in a time zone, minus holidays.

SLA clocks run only while a calendar is open. Opening hours are local wall-clock
times; each day's intervals are turned into UTC through ``zoneinfo``, so a day with a
daylight-saving change has its true length (``00:00-24:00`` on the last Sunday of
March in Europe/Berlin lasts 23 hours). Holidays are explicit dates and/or a
country's (and region's) public holidays from the ``holidays`` package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data

from hub.errors import ConfigError
from hub.routing.options import Options

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
MAX_DAYS = 3660  # how far ``add`` looks ahead before giving up (a calendar open once in ten years)


@dataclass(frozen=True, eq=False)
class Calendar:
    """When the business is open. ``ALWAYS`` (no calendar) is open around the clock."""

    name: str
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # weekday (0 = Monday) -> local (open, close) pairs; close None means midnight at the end of the day
    hours: Mapping[int, tuple[tuple[time, time | None], ...]] = field(
        default_factory=lambda: {d: ((time(0), None),) for d in range(7)}
    )
    dates: frozenset[date] = frozenset()
    public: Any = None  # a holidays.HolidayBase, or None

    def is_holiday(self, day: date) -> bool:
        return day in self.dates or (self.public is not None and day in self.public)

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of a local date, in UTC."""
        if self.is_holiday(day):
            return []
        spans = []
        for opens, closes in self.hours.get(day.weekday(), ()):
            start = datetime.combine(day, opens, tzinfo=self.zone).astimezone(UTC)
            if closes is None:
                end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
            else:
                end = datetime.combine(day, closes, tzinfo=self.zone).astimezone(UTC)
            if end > start:
                spans.append((start, end))
        return spans

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone).date()
        return any(start <= at < end for start, end in self.intervals(local))

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date() + timedelta(days=1)
        while day <= last:
            for opens, closes in self.intervals(day):
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of open time after ``start``."""
        remaining = max(0.0, seconds)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            for opens, closes in self.intervals(day):
                lo = max(opens, start)
                if closes <= lo:
                    continue
                available = (closes - lo).total_seconds()
                if remaining <= available:
                    return lo + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise ConfigError(f"calendar {self.name!r} has no open time within {MAX_DAYS} days")


ALWAYS = Calendar("always")


def _parse_hours(value: Any, where: str) -> tuple[tuple[time, time | None], ...]:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string like \"08:00-18:00\" or \"closed\"")
    if value.strip().lower() == "closed":
        return ()
    spans: list[tuple[time, time | None]] = []
    for part in value.split(","):
        match = _SPAN.fullmatch(part.strip())
        if match is None:
            raise ConfigError(f"{where}: {part.strip()!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ConfigError(f"{where}: {part.strip()!r} is not a valid time span")
        opens, closes = time(h1, m1), (None if h2 == 24 else time(h2, m2))
        if closes is not None and closes <= opens:
            raise ConfigError(f"{where}: {part.strip()!r} closes before it opens")
        spans.append((opens, closes))
    return tuple(sorted(spans, key=lambda s: s[0]))


def _day_keys(key: str, where: str) -> list[int]:
    if key in DAYS:
        return [DAYS.index(key)]
    first, dash, last = key.partition("-")
    if dash and first in DAYS and last in DAYS and DAYS.index(first) <= DAYS.index(last):
        return list(range(DAYS.index(first), DAYS.index(last) + 1))
    raise ConfigError(f"{where}: {key!r} is not a weekday or a range such as mon-fri")


def parse_calendar(name: str, table: Mapping[str, Any]) -> Calendar:
    """One ``[routing.calendars.<name>]`` table."""
    where = f"calendar {name!r}"
    day_keys = [k for k in table if k not in ("timezone", "holidays", "holiday_country", "holiday_subdivision")]
    options = Options(table, where, ignore=tuple(day_keys))
    zone_name = options.string("timezone", "UTC") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {zone_name!r} (use an IANA name like Europe/Berlin)") from None
    hours: dict[int, tuple[tuple[time, time | None], ...]] = {}
    for key in day_keys:
        for day in _day_keys(key, where):
            if day in hours:
                raise ConfigError(f"{where}: {DAYS[day]} is given twice")
            hours[day] = _parse_hours(table[key], f"{where}: {key}")
    if not any(hours.values()):
        raise ConfigError(f"{where}: give opening hours, e.g. mon-fri = \"08:00-18:00\"")
    dates: set[date] = set()
    for text in options.strings("holidays"):
        try:
            dates.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"{where}: holiday {text!r} is not a date like 2026-12-24") from None
    country = options.string("holiday_country")
    subdivision = options.string("holiday_subdivision")
    public = None
    if country is not None:
        try:
            public = holiday_data.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            raise ConfigError(f"{where}: no public holidays known for country {country!r}") from None
    elif subdivision is not None:
        raise ConfigError(f"{where}: holiday_subdivision needs holiday_country")
    options.done()
    return Calendar(name, zone, hours, frozenset(dates), public)


def parse_calendars(table: Mapping[str, Any]) -> dict[str, Calendar]:
    """Every ``[routing.calendars.<name>]``."""
    calendars = {}
    for name, body in table.items():
        if not isinstance(body, Mapping):
            raise ConfigError(f"[routing.calendars] {name!r} must be a table")
        calendars[name] = parse_calendar(name, body)
    return calendars
