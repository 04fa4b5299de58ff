"""The explicit list of channel adapters, by config ``type``."""

from __future__ import annotations

from hub.channels.api import ApiChannel
from hub.channels.base import AdapterContext, ChannelAdapter
from hub.channels.cti import CtiChannel
from hub.channels.email import EmailChannel
from hub.channels.meta import MetaChannel
from hub.channels.slack import SlackChannel
from hub.channels.telegram import TelegramChannel
from hub.channels.twilio import TwilioChannel
from hub.channels.twilio.voice import TwilioVoiceChannel
from hub.channels.webchat import WebchatChannel
from hub.config import ChannelConfig
from hub.errors import ConfigError

ADAPTERS: dict[str, type[ChannelAdapter]] = {
    ApiChannel.type: ApiChannel,
    EmailChannel.type: EmailChannel,
    SlackChannel.type: SlackChannel,
    WebchatChannel.type: WebchatChannel,
    TelegramChannel.type: TelegramChannel,
    MetaChannel.type: MetaChannel,
    TwilioChannel.type: TwilioChannel,
    CtiChannel.type: CtiChannel,
    TwilioVoiceChannel.type: TwilioVoiceChannel,
}


def build_adapter(config: ChannelConfig, context: AdapterContext) -> ChannelAdapter:
    """Instantiate the adapter for ``config``; unknown types stop start-up."""
    try:
        adapter_cls = ADAPTERS[config.type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigError(f"channel {config.name!r}: unknown type {config.type!r} (known: {known})") from None
    return adapter_cls(config, context)
