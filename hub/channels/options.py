"""Typed channel options: read a config value of the right type or stop start-up clearly."""

from __future__ import annotations

from hub.config import ChannelConfig
from hub.errors import ConfigError
from hub.net import BlockedDestination, DestinationPolicy


def text(config: ChannelConfig, key: str, default: str | None = None) -> str | None:
    """An optional string option (empty counts as unset)."""
    value = config.options.get(key, default)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ConfigError(f"channel {config.name!r}: option {key!r} must be a string")
    return value


def required_text(config: ChannelConfig, key: str) -> str:
    """A required string option (a secret may come from ``<key>_env``)."""
    value = config.require(key)
    if not isinstance(value, str):
        raise ConfigError(f"channel {config.name!r}: option {key!r} must be a string")
    return value


def flag(config: ChannelConfig, key: str, default: bool) -> bool:
    value = config.options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"channel {config.name!r}: option {key!r} must be true or false")
    return value


def strings(config: ChannelConfig, key: str) -> tuple[str, ...]:
    """A list of strings (absent: empty)."""
    value = config.options.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"channel {config.name!r}: option {key!r} must be a list of strings")
    return tuple(value)


def positive_int(config: ChannelConfig, key: str, default: int) -> int:
    value = config.options.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"channel {config.name!r}: option {key!r} must be a positive integer")
    return value


def api_url(config: ChannelConfig, key: str, default: str, policy: DestinationPolicy) -> str:
    """A provider API base URL (tests point it at a local server); checked by the outbound policy."""
    value = text(config, key, default) or default
    try:
        policy.check_url(value)
    except BlockedDestination as exc:
        raise ConfigError(f"channel {config.name!r}: {key}: {exc.detail}") from exc
    return value.rstrip("/")
