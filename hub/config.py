"""Configuration: ``config/hub.toml`` plus ``HUB_*`` environment overrides.

Secrets never live in the file itself when an operator prefers the environment: any
key ``<name>_env = "VAR"`` is resolved to ``<name>`` from that variable. Secret values
are redacted from ``repr`` so logs and diagnostics never carry them.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/hub.toml")
DEFAULT_DATA_DIR = Path("var")
SECRET_WORDS = ("secret", "token", "password", "key", "auth")


def is_secret_key(name: str) -> bool:
    """True for option names whose values must never be logged."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS) and not lowered.endswith("_env")


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` with secret values replaced by ``"***"``."""
    return {k: ("***" if is_secret_key(k) and v else v) for k, v in options.items()}


@dataclass(frozen=True)
class QueueConfig:
    """A queue from the config file; routing options stay in ``options``."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelConfig:
    """A channel endpoint: its adapter ``type``, unique ``name`` and adapter options."""

    type: str
    name: str
    queue: str | None
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"ChannelConfig(type={self.type!r}, name={self.name!r}, queue={self.queue!r}, "
            f"options={redact(self.options)!r})"
        )

    def require(self, key: str) -> Any:
        """The option ``key``, or a ConfigError naming the channel and key."""
        if key not in self.options or self.options[key] in (None, ""):
            raise ConfigError(f"channel {self.name!r}: option {key!r} is required")
        return self.options[key]


@dataclass(frozen=True)
class Settings:
    """Everything the hub process needs to start."""

    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = field(default="", repr=False)
    redis_url: str | None = None
    redis_channel: str = "hub:events"
    max_body_bytes: int = 1 << 20
    max_attachment_bytes: int = 25 << 20
    outbound_allow_networks: tuple[str, ...] = ()
    login_max_failures: int = 5
    login_window_seconds: int = 900
    outbox_max_attempts: int = 8
    outbox_poll_seconds: float = 2.0
    quarantine_keep_days: int = 30
    queues: tuple[QueueConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    source: Path | None = None
    routing: Mapping[str, Any] = field(default_factory=dict)  # [routing], parsed by hub.routing.settings
    calls: Mapping[str, Any] = field(default_factory=dict)  # [calls], parsed by hub.inbox.call_sweeper
    # The raw [webhooks] and [retention] tables and [[connectors]] (env refs resolved);
    # hub.crm_link parses and checks them when the app starts (docs/crm.md, docs/privacy.md).
    crm: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cookie_secure(self) -> bool:
        return self.public_url.startswith("https://")


def _redis_channel(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ConfigError("[server] redis_channel must be a name of 1 to 200 characters")
    return value.strip()


def _resolve_env_refs(table: Mapping[str, Any], env: Mapping[str, str], where: str) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in table.items():
        if key.endswith("_env") and isinstance(value, str):
            target = key[: -len("_env")]
            if value not in env:
                raise ConfigError(f"{where}: environment variable {value} (for {target!r}) is not set")
            resolved[target] = env[value]
        resolved[key] = value
    return resolved


def load_settings(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (if any) and apply environment overrides."""
    env = os.environ if env is None else env
    config_path: Path | None
    if path is not None:
        config_path = Path(path)
        if not config_path.is_file():
            raise ConfigError(f"config file {config_path} does not exist")
    elif env.get("HUB_CONFIG"):
        config_path = Path(env["HUB_CONFIG"])
        if not config_path.is_file():
            raise ConfigError(f"HUB_CONFIG names {config_path}, which does not exist")
    else:
        config_path = DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None

    raw: dict[str, Any] = {}
    if config_path is not None:
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc

    server = _resolve_env_refs(raw.get("server", {}), env, "[server]")
    database = _resolve_env_refs(raw.get("database", {}), env, "[database]")
    security = raw.get("security", {})
    outbox = raw.get("outbox", {})
    quarantine = raw.get("quarantine", {})
    data_dir = Path(env.get("HUB_DATA_DIR") or server.get("data_dir") or DEFAULT_DATA_DIR)
    database_url = (
        env.get("HUB_DATABASE_URL")
        or database.get("url")
        or f"sqlite+aiosqlite:///{data_dir / 'hub.db'}"
    )
    secret_key = env.get("HUB_SECRET_KEY") or server.get("secret_key") or ""
    if not secret_key:
        secret_key = _persistent_secret(data_dir)

    queues = tuple(
        QueueConfig(name=_name(q, "queue"), options={k: v for k, v in q.items() if k != "name"})
        for q in raw.get("queues", [])
    )
    channels: list[ChannelConfig] = []
    seen: set[str] = set()
    for item in raw.get("channels", []):
        name = _name(item, "channel")
        if name in seen:
            raise ConfigError(f"channel name {name!r} is used twice")
        seen.add(name)
        if "type" not in item:
            raise ConfigError(f"channel {name!r} has no type")
        options = _resolve_env_refs(
            {k: v for k, v in item.items() if k not in ("type", "name", "queue")}, env, f"channel {name!r}"
        )
        channels.append(
            ChannelConfig(type=str(item["type"]), name=name, queue=item.get("queue"), options=options)
        )
    queue_names = {q.name for q in queues}
    for ch in channels:
        if ch.queue is not None and ch.queue not in queue_names:
            raise ConfigError(f"channel {ch.name!r} names unknown queue {ch.queue!r}")

    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        host=env.get("HUB_HOST") or server.get("host", "127.0.0.1"),
        port=int(env.get("HUB_PORT") or server.get("port", 8080)),
        public_url=(env.get("HUB_PUBLIC_URL") or server.get("public_url") or "http://127.0.0.1:8080").rstrip("/"),
        secret_key=secret_key,
        redis_url=env.get("HUB_REDIS_URL") or server.get("redis_url") or None,
        redis_channel=_redis_channel(env.get("HUB_REDIS_CHANNEL") or server.get("redis_channel", "hub:events")),
        max_body_bytes=int(server.get("max_body_bytes", 1 << 20)),
        max_attachment_bytes=int(server.get("max_attachment_bytes", 25 << 20)),
        outbound_allow_networks=tuple(security.get("outbound_allow_networks", ())),
        login_max_failures=int(security.get("login_max_failures", 5)),
        login_window_seconds=int(security.get("login_window_seconds", 900)),
        outbox_max_attempts=_positive(outbox.get("max_attempts", 8), "[outbox] max_attempts"),
        outbox_poll_seconds=_positive(outbox.get("poll_seconds", 2.0), "[outbox] poll_seconds"),
        quarantine_keep_days=int(_positive(quarantine.get("keep_days", 30), "[quarantine] keep_days")),
        queues=queues,
        channels=tuple(channels),
        source=config_path,
        routing=_table(raw.get("routing", {}), "[routing]"),
        calls=_table(raw.get("calls", {}), "[calls]"),
        crm={
            "webhooks": dict(raw.get("webhooks", {})),
            "retention": dict(raw.get("retention", {})),
            "connectors": [
                _resolve_env_refs(table, env, f"connector {table.get('name')!r}") for table in raw.get("connectors", [])
            ],
        },
    )


def _positive(value: Any, where: str) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where} must be a positive number (got {value!r})")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    return value


def _name(table: Mapping[str, Any], what: str) -> str:
    name = table.get("name")
    if not isinstance(name, str) or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"every {what} needs a name of letters, digits, '-' or '_' (got {name!r})")
    return name


def _persistent_secret(data_dir: Path) -> str:
    """A random secret kept in the data dir, so a single node needs no configuration."""
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value
