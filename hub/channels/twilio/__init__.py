"""Twilio: the ``twilio`` messaging channel (SMS, MMS, WhatsApp); shared account, signature and REST pieces."""

from hub.channels.twilio.adapter import TwilioChannel

__all__ = ["TwilioChannel"]
