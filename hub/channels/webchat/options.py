"""A web chat channel's options from ``[[channels]] type = "webchat"``, checked at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from hub.channels.webchat.hours import BusinessHours, parse_business_hours
from hub.config import ChannelConfig, Settings
from hub.errors import ConfigError

MAX_TEXT_LENGTH = 5000
DEFAULT_ATTACHMENT_BYTES = 10 << 20
DEFAULT_ATTACHMENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)
LANGUAGES = ("de", "en")
BUILTIN_FIELDS: dict[str, dict[str, str]] = {
    "name": {"en": "Your name", "de": "Ihr Name"},
    "email": {"en": "Your email address", "de": "Ihre E-Mail-Adresse"},
}
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True, slots=True)
class PrechatField:
    """One field of the pre-chat form; ``name`` and ``email`` fill the contact, others are kept as answers."""

    name: str
    labels: Mapping[str, str]
    required: bool
    kind: str  # "name", "email" or "text"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "labels": dict(self.labels), "required": self.required, "type": self.kind}


@dataclass(frozen=True, slots=True)
class Origin:
    """``scheme://host[:port]`` as browsers send it in the ``Origin`` header."""

    scheme: str
    host: str
    port: int | None

    @classmethod
    def parse(cls, value: str) -> Origin | None:
        """The origin of ``value``, or None when it is not an http(s) origin."""
        try:
            url = URL(value.strip())
        except ValueError:
            return None
        if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
            return None
        if url.query_string or url.fragment or url.user:
            return None
        return cls(url.scheme, url.host.lower(), url.port)


@dataclass(frozen=True, slots=True)
class WebchatOptions:
    """Everything a web chat channel is configured with."""

    allowed_origins: frozenset[Origin]
    identity_secret: bytes | None
    identity_required: bool
    offline_email_channel: str | None
    business_hours: BusinessHours | None
    prechat: tuple[PrechatField, ...]
    messages_per_minute: int
    sessions_per_ip_per_hour: int
    attachment_types: frozenset[str]
    max_attachment_bytes: int
    session_days: int
    offline_after_seconds: int
    color: str
    titles: Mapping[str, str]

    def origin_allowed(self, header: str | None) -> bool:
        """True when an ``Origin`` header names one of the allowed origins."""
        if header is None:
            return False
        origin = Origin.parse(header)
        return origin is not None and origin in self.allowed_origins


def parse_options(config: ChannelConfig, settings: Settings) -> WebchatOptions:
    """Check and convert the channel's options; a mistake stops start-up with the key's name."""
    where = f"channel {config.name!r}"
    raw = config.options
    known = {
        "allowed_origins", "identity_secret", "identity_secret_env", "identity_required",
        "offline_email_channel", "business_hours", "prechat", "messages_per_minute",
        "sessions_per_ip_per_hour", "attachment_types", "max_attachment_bytes", "session_days",
        "offline_after_seconds", "color", "title_en", "title_de",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}")
    origins = _origins(raw.get("allowed_origins"), where)
    secret = raw.get("identity_secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise ConfigError(f"{where}: identity_secret must be at least 16 characters")
    identity_required = _bool(raw.get("identity_required", False), f"{where}: identity_required")
    if identity_required and not secret:
        raise ConfigError(f"{where}: identity_required needs identity_secret")
    offline = raw.get("offline_email_channel")
    if offline is not None:
        target = next((c for c in settings.channels if c.name == offline), None)
        if target is None or target.type != "email":
            raise ConfigError(f"{where}: offline_email_channel {offline!r} is not an email channel of this hub")
    hours = raw.get("business_hours")
    limit = _int(raw.get("max_attachment_bytes", DEFAULT_ATTACHMENT_BYTES), f"{where}: max_attachment_bytes")
    types = raw.get("attachment_types", list(DEFAULT_ATTACHMENT_TYPES))
    if not isinstance(types, list) or not all(isinstance(t, str) and "/" in t for t in types):
        raise ConfigError(f"{where}: attachment_types must be a list of MIME types")
    color = raw.get("color", "#1f5fbf")
    if not isinstance(color, str) or not _COLOR.match(color):
        raise ConfigError(f"{where}: color must look like #1f5fbf")
    return WebchatOptions(
        allowed_origins=origins,
        identity_secret=secret.encode() if isinstance(secret, str) else None,
        identity_required=identity_required,
        offline_email_channel=offline,
        business_hours=parse_business_hours(hours, f"{where}: business_hours") if hours is not None else None,
        prechat=_prechat(raw.get("prechat", []), where),
        messages_per_minute=_int(raw.get("messages_per_minute", 20), f"{where}: messages_per_minute"),
        sessions_per_ip_per_hour=_int(raw.get("sessions_per_ip_per_hour", 20), f"{where}: sessions_per_ip_per_hour"),
        attachment_types=frozenset(t.lower() for t in types),
        max_attachment_bytes=min(limit, settings.max_attachment_bytes),
        session_days=_int(raw.get("session_days", 30), f"{where}: session_days"),
        offline_after_seconds=_int(raw.get("offline_after_seconds", 120), f"{where}: offline_after_seconds"),
        color=color,
        titles={
            "en": str(raw.get("title_en", "Chat with us")),
            "de": str(raw.get("title_de", "Schreiben Sie uns")),
        },
    )


def _origins(value: object, where: str) -> frozenset[Origin]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: allowed_origins must list the sites that embed the widget")
    found: set[Origin] = set()
    for item in value:
        origin = Origin.parse(item) if isinstance(item, str) else None
        if origin is None:
            raise ConfigError(f"{where}: allowed_origins: {item!r} is not an origin like https://www.example.com")
        found.add(origin)
    return frozenset(found)


def _prechat(value: object, where: str) -> tuple[PrechatField, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: prechat must be a list of fields")
    fields: list[PrechatField] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"{where}: every prechat field needs a name")
        name = item["name"]
        if not _FIELD_NAME.match(name) or name in {f.name for f in fields}:
            raise ConfigError(f"{where}: prechat field name {name!r} is invalid or repeated")
        labels = dict(BUILTIN_FIELDS.get(name, {}))
        for lang in LANGUAGES:
            label = item.get(f"label_{lang}")
            if label is not None:
                labels[lang] = str(label)
        if set(labels) != set(LANGUAGES):
            raise ConfigError(f"{where}: prechat field {name!r} needs label_en and label_de")
        kind = name if name in BUILTIN_FIELDS else "text"
        fields.append(PrechatField(name, labels, _bool(item.get("required", False), f"{where}: {name}"), kind))
    return tuple(fields)


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where} must be a positive integer (got {value!r})")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value
