"""Typed reading of config tables: every wrong key or value is a ConfigError naming it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from hub.errors import ConfigError

E = TypeVar("E")
_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?")


def parse_duration(value: Any, where: str) -> float:
    """Seconds from a number or a string like ``"90s"``, ``"15m"``, ``"4h"``, ``"1d 2h"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a duration (seconds, or e.g. \"4h\", \"30m\"), not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"{where} must not be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    raise ConfigError(f"{where} must be a duration (seconds, or e.g. \"4h\", \"30m\", \"1d 2h\"), not {value!r}")


class Options:
    """Reads one table; ``done()`` rejects keys nobody asked for (typos are errors)."""

    def __init__(
        self, table: Mapping[str, Any], where: str, *, ignore: tuple[str, ...] = (), docs: str = "docs/routing.md"
    ) -> None:
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        self.table = table
        self.where = where
        self.docs = docs
        self._seen: set[str] = set(ignore)

    def _get(self, key: str) -> Any:
        self._seen.add(key)
        return self.table.get(key)

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.where}: {key} must be a non-empty string")
        return value.strip()

    def integer(self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self.where}: {key} must be a whole number, not {value!r}")
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            raise ConfigError(f"{self.where}: {key} must be between {minimum} and {maximum}, not {value}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{self.where}: {key} must be a number, not {value!r}")
        if value < minimum or maximum is not None and value > maximum:
            limit = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise ConfigError(f"{self.where}: {key} must be {limit}, not {value}")
        return float(value)

    def duration(self, key: str, default: float | None) -> float | None:
        value = self._get(key)
        if value is None:
            return default
        return parse_duration(value, f"{self.where}: {key}")

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}: {key} must be true or false, not {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{self.where}: {key} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def integers(self, key: str) -> tuple[int, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{self.where}: {key} must be a list of whole numbers")
        return tuple(value)

    def choice(self, key: str, default: E, choices: Mapping[str, E]) -> E:
        value = self._get(key)
        if value is None:
            return default
        if value not in choices:
            raise ConfigError(f"{self.where}: {key} must be one of {', '.join(choices)}, not {value!r}")
        return choices[value]

    def table_of(self, key: str) -> Mapping[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.where}: {key} must be a table")
        return value

    def tables(self, key: str) -> list[Mapping[str, Any]]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise ConfigError(f"{self.where}: {key} must be an array of tables ([[...]])")
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self._seen)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key(s) {', '.join(unknown)} (see {self.docs})")
