"""The options of a ``twilio`` messaging channel beyond the account (docs/channels/twilio.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers

from hub.channels import media, options
from hub.config import ChannelConfig, Settings
from hub.crm_link import identities
from hub.errors import ConfigError, ValidationFailed

Platform = Literal["sms", "whatsapp"]
PLATFORMS: tuple[Platform, ...] = ("sms", "whatsapp")
DEFAULT_MAX_SEGMENTS = 10
MAX_MEDIA_BYTES = 16 << 20  # WhatsApp's limit; Twilio keeps MMS media under 5 MB anyway
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class MessagingOptions:
    platform: Platform
    number: str | None  # the channel's own number in E.164
    messaging_service_sid: str | None
    default_region: str | None
    help_text: str | None
    opt_out_text: str | None
    opt_in_text: str | None
    max_segments: int
    max_media_bytes: int
    media_types: tuple[str, ...]
    # "name" or "name@language" -> Content SID (WhatsApp templates from the Content API)
    templates: Mapping[str, str] = field(default_factory=dict)

    def address(self, number: str) -> str:
        """``number`` as Twilio spells it on this platform (``whatsapp:+49...``)."""
        return f"whatsapp:{number}" if self.platform == "whatsapp" else number

    def content_sid(self, name: str, language: str) -> str | None:
        return self.templates.get(f"{name}@{language}") or self.templates.get(name)


def messaging_options(config: ChannelConfig, settings: Settings) -> MessagingOptions:
    """Read and check the channel's messaging options; ConfigError names the wrong one."""
    platform = options.text(config, "platform", "sms")
    if platform not in PLATFORMS:
        raise ConfigError(f"channel {config.name!r}: platform must be one of {', '.join(PLATFORMS)}")
    region = options.text(config, "default_region")
    if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"channel {config.name!r}: default_region {region!r} is not an ISO 3166 region code")
    number = options.text(config, "phone_number")
    if number is not None:
        try:
            number = identities.phone(number, region.upper() if region else None).address
        except ValidationFailed as exc:
            raise ConfigError(f"channel {config.name!r}: phone_number: {exc.detail}") from exc
    service = options.text(config, "messaging_service_sid")
    if service is not None and not _SERVICE_SID.match(service):
        raise ConfigError(f"channel {config.name!r}: messaging_service_sid must be 'MG' followed by 32 hex digits")
    if number is None and service is None:
        raise ConfigError(f"channel {config.name!r}: give phone_number (the Twilio number) or messaging_service_sid")
    if platform == "whatsapp" and number is None:
        raise ConfigError(f"channel {config.name!r}: a WhatsApp channel needs its phone_number")
    templates = config.options.get("templates", {})
    if not isinstance(templates, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and _CONTENT_SID.match(v) for k, v in templates.items()
    ):
        raise ConfigError(
            f"channel {config.name!r}: templates maps names (or name@language) to Content SIDs ('HX' + 32 hex digits)"
        )
    if templates and platform != "whatsapp":
        raise ConfigError(f"channel {config.name!r}: templates are for WhatsApp channels")
    return MessagingOptions(
        platform=platform,
        number=number,
        messaging_service_sid=service,
        default_region=region.upper() if region else None,
        help_text=options.text(config, "help_text"),
        opt_out_text=options.text(config, "opt_out_text"),
        opt_in_text=options.text(config, "opt_in_text"),
        max_segments=options.positive_int(config, "max_segments", DEFAULT_MAX_SEGMENTS),
        max_media_bytes=min(
            options.positive_int(config, "max_media_bytes", min(MAX_MEDIA_BYTES, settings.max_attachment_bytes)),
            settings.max_attachment_bytes,
        ),
        media_types=options.strings(config, "media_types") or media.DEFAULT_MEDIA_TYPES,
        templates=dict(templates),
    )
