"""The email channel: IMAP in, SMTP out (see docs/channels/email.md)."""

from hub.channels.email.adapter import EmailChannel

__all__ = ["EmailChannel"]
