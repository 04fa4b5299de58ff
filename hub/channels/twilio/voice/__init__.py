"""Twilio voice: a queue-based call center (IVR, queues, agents rung by routing; docs/channels/twilio.md)."""

from hub.channels.twilio.voice.adapter import TwilioVoiceChannel

__all__ = ["TwilioVoiceChannel"]
