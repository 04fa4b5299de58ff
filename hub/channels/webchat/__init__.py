"""The embeddable web chat: adapter, options, tokens and the widget's wire format."""

from hub.channels.webchat.adapter import WebchatChannel

__all__ = ["WebchatChannel"]
