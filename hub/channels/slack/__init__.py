"""Slack: Events API in, chat.postMessage out (see docs/channels/slack.md)."""

from hub.channels.slack.adapter import SlackChannel

__all__ = ["SlackChannel"]
