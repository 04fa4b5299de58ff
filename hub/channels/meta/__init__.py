"""Meta: WhatsApp Cloud API, Messenger and Instagram through one webhook (see docs/channels/meta.md)."""

from hub.channels.meta.adapter import MetaChannel

__all__ = ["MetaChannel"]
