"""Telegram: a bot's webhook in, sendMessage/sendPhoto/sendDocument out (see docs/channels/telegram.md)."""

from hub.channels.telegram.adapter import TelegramChannel

__all__ = ["TelegramChannel"]
