"""Business hours of a web chat channel: outside them the widget collects an email address.

Configured per weekday in the channel's time zone::

    business_hours = { timezone = "Europe/Berlin", mon-fri = "09:00-17:00", sat = "10:00-13:00" }

A day may list several ranges ("08:00-12:00,13:00-17:00"); days left out are closed.
Pure: the time to check is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening ranges per weekday (0 = Monday) in ``zone``."""

    zone: ZoneInfo
    ranges: tuple[tuple[tuple[time, time | None], ...], ...]  # per weekday; None end = midnight

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls inside the opening hours."""
        local = at.astimezone(self.zone)
        now = local.time().replace(tzinfo=None)
        return any(start <= now and (end is None or now < end) for start, end in self.ranges[local.weekday()])


def parse_business_hours(table: object, where: str) -> BusinessHours:
    """Read the ``business_hours`` table; ConfigError naming the key when it is wrong."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table like {{ timezone = \"Europe/Berlin\", mon-fri = \"09:00-17:00\" }}")
    try:
        zone = ZoneInfo(str(table.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}: unknown timezone {table.get('timezone')!r}") from exc
    per_day: list[list[tuple[time, time | None]]] = [[] for _ in DAYS]
    for key, value in table.items():
        if key == "timezone":
            continue
        days = _days(key, where)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string like \"09:00-17:00\"")
        for part in value.split(","):
            match = _RANGE.match(part.strip())
            if match is None:
                raise ConfigError(f"{where}: {key}: {part.strip()!r} is not a range like 09:00-17:00")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if (h2, m2) > (24, 0) or (h2, m2) <= (h1, m1):
                raise ConfigError(f"{where}: {key}: {part.strip()!r} must end after it starts")
            end = None if (h2, m2) == (24, 0) else time(h2, m2)
            for day in days:
                per_day[day].append((time(h1, m1), end))
    return BusinessHours(zone, tuple(tuple(day) for day in per_day))


def _days(key: str, where: str) -> list[int]:
    first, sep, last = key.partition("-")
    if first not in DAYS or (sep and last not in DAYS):
        raise ConfigError(f"{where}: {key!r} is not a weekday (mon..sun) or a range of them (mon-fri)")
    start = DAYS.index(first)
    stop = DAYS.index(last) if sep else start
    if stop < start:
        raise ConfigError(f"{where}: {key!r} must run forwards (mon-fri, not fri-mon)")
    return list(range(start, stop + 1))
