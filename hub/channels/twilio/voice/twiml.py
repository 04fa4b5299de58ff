"""The TwiML documents the voice channel answers with (pure: options and links in, XML out).

Built with the twilio library's ``VoiceResponse``. Every URL in them is absolute and
under the hub's public URL, because Twilio signs the URL it calls and the hub checks
that signature against ``server.public_url`` + path.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from hub.channels.twilio.voice.settings import VoiceOptions

WEBHOOK_PREFIX = "/webhooks/twilio/voice"
# The largest Twilio queue name is 64 characters.
MAX_QUEUE_NAME = 64


@dataclass(frozen=True, slots=True)
class Links:
    """The absolute webhook URLs of one channel."""

    base: str  # e.g. https://hub.example.com/webhooks/twilio/voice/hotline

    @classmethod
    def of(cls, public_url: str, channel: str) -> Links:
        return cls(f"{public_url.rstrip('/')}{WEBHOOK_PREFIX}/{channel}")

    def url(self, step: str, **query: str | int) -> str:
        """The URL of ``step`` with ``query`` (sorted, so a URL is always spelled the same)."""
        suffix = f"?{urlencode(sorted(query.items()))}" if query else ""
        return f"{self.base}/{step}{suffix}"


@dataclass(frozen=True, slots=True)
class AgentTarget:
    """Where an agent answers calls: a phone number (E.164) or a SIP address."""

    phone: str | None = None
    sip: str | None = None


def twilio_queue_name(channel: str, queue: str) -> str:
    """The Twilio queue a hub queue's callers wait in (one per channel and hub queue)."""
    return f"{channel}.{queue}"[:MAX_QUEUE_NAME]


def _say(response: VoiceResponse, text: str, language: str) -> None:
    response.say(text, language=language)


def menu(options: VoiceOptions, links: Links, language: str, *, attempt: int = 1, first: bool = True) -> str:
    """The IVR: welcome (first time only), then the menu, listening for a key or a keyword."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech", action=links.url("menu", lang=language, attempt=attempt), method="POST",
        language=language, num_digits=1, timeout=5, hints=options.hints() or None,
        action_on_empty_result=True,
    )
    if first:
        gather.say(options.prompt(language, "welcome"), language=language)
    gather.say(options.prompt(language, "menu"), language=language)
    return str(response.to_xml())


def not_understood(options: VoiceOptions, links: Links, language: str, attempt: int) -> str:
    """A choice that matched nothing: say so and ask again."""
    response = VoiceResponse()
    _say(response, options.prompt(language, "not_understood"), language)
    gather = response.gather(
        input="dtmf speech", action=links.url("menu", lang=language, attempt=attempt), method="POST",
        language=language, num_digits=1, timeout=5, hints=options.hints() or None,
        action_on_empty_result=True,
    )
    gather.say(options.prompt(language, "menu"), language=language)
    return str(response.to_xml())


def enqueue(options: VoiceOptions, links: Links, language: str, queue_name: str, *, notice: bool) -> str:
    """Into the Twilio queue; with call recording on, the privacy notice is played first."""
    response = VoiceResponse()
    if notice and options.record_calls:
        _say(response, options.prompt(language, "recording_notice"), language)
    response.enqueue(
        queue_name, action=links.url("queue-exit", lang=language), method="POST",
        wait_url=links.url("wait", lang=language), wait_url_method="POST",
    )
    return str(response.to_xml())


def wait(options: VoiceOptions, language: str, position: int | None) -> str:
    """What a waiting caller hears, again and again: their position, then the hold music."""
    response = VoiceResponse()
    if options.announce_position and position is not None and position > 0:
        _say(response, options.prompt(language, "position", position=position), language)
    if options.hold_music_url:
        response.play(options.hold_music_url)
    else:
        response.pause(length=10)
    return str(response.to_xml())


def connect(
    options: VoiceOptions, links: Links, language: str, target: AgentTarget, *, offer_id: int, timeout: int,
    call_id: str, queue: str,
) -> str:
    """Ring the agent; the whisper URL runs on the agent's side when they pick up."""
    response = VoiceResponse()
    dial = response.dial(
        action=links.url("dial-done", lang=language, offer=offer_id), method="POST", timeout=timeout,
        caller_id=options.caller_id,
        record="record-from-answer-dual" if options.record_calls else None,
        recording_status_callback=links.url("recording") if options.record_calls else None,
        recording_status_callback_event="completed" if options.record_calls else None,
    )
    whisper_url = links.url("whisper", call=call_id, lang=language, offer=offer_id, queue=queue)
    if target.sip:
        dial.sip(target.sip, url=whisper_url, method="POST")
    elif target.phone:
        dial.number(target.phone, url=whisper_url, method="POST")
    else:
        raise ValueError("an agent target needs a phone number or a SIP address")
    return str(response.to_xml())


def whisper(options: VoiceOptions, language: str, queue: str) -> str:
    """Played to the agent before the caller is put through: which queue the call comes from."""
    response = VoiceResponse()
    _say(response, options.prompt(language, "whisper", queue=queue), language)
    return str(response.to_xml())


def closed(options: VoiceOptions, links: Links, language: str) -> str:
    """Outside business hours: the announcement, then voicemail (or goodbye)."""
    response = VoiceResponse()
    _say(response, options.prompt(language, "closed"), language)
    _voicemail_or_goodbye(response, options, links, language)
    return str(response.to_xml())


def voicemail(options: VoiceOptions, links: Links, language: str) -> str:
    """Leave a message (when the queue cannot take the call)."""
    response = VoiceResponse()
    _voicemail_or_goodbye(response, options, links, language)
    return str(response.to_xml())


def _voicemail_or_goodbye(response: VoiceResponse, options: VoiceOptions, links: Links, language: str) -> None:
    if options.voicemail:
        _voicemail(response, options, links, language)
    else:
        _say(response, options.prompt(language, "goodbye"), language)
        response.hangup()


def _voicemail(response: VoiceResponse, options: VoiceOptions, links: Links, language: str) -> None:
    _say(response, options.prompt(language, "voicemail"), language)
    response.record(
        action=links.url("voicemail", lang=language), method="POST", max_length=options.voicemail_max_seconds,
        play_beep=True, finish_on_key="#", timeout=5,
        transcribe=True if options.transcribe else None,
        transcribe_callback=links.url("transcription") if options.transcribe else None,
    )
    # Reached when the caller said nothing: Record only calls its action after a recording.
    response.hangup()


def goodbye(options: VoiceOptions, language: str, key: str = "goodbye") -> str:
    """Say ``key`` (``goodbye``, ``voicemail_thanks``) and hang up."""
    response = VoiceResponse()
    _say(response, options.prompt(language, key), language)
    response.hangup()
    return str(response.to_xml())


def hangup() -> str:
    """End this leg at once (the agent picked up too late)."""
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def empty() -> str:
    """Nothing to do (a status callback; Twilio ignores TwiML there)."""
    return str(VoiceResponse().to_xml())
