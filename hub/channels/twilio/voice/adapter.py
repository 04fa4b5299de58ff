"""The Twilio voice channel: a queue-based call center on Twilio Programmable Voice.

Twilio calls ``/webhooks/twilio/voice/<channel>/<step>``; every request is checked
with the account's auth token (``hub.channels.twilio.signature``) before its form is
read, and answered with TwiML (``twiml``). The steps:

``incoming`` (the number's voice URL) → closed: announcement and voicemail; open:
the IVR menu (``menu``), whose choice puts the caller into a Twilio queue
(``<Enqueue>``) while the call waits in the hub queue as a real-time ``voice``
conversation; ``wait`` announces the position and plays hold music. When routing
offers the call to an agent, ``ring()`` updates the live call over the REST API with
a ``<Dial>`` to the agent's phone or SIP address; the agent hears the whisper
(``whisper``: picking up accepts the offer) and is put through. ``dial-done``: not
reached → back into the queue (routing counts the miss and asks the next agent);
talked → goodbye. ``queue-exit`` with a hang-up and ``status`` (the number's
status callback) end the call. ``voicemail``, ``transcription`` and ``recording``
turn recordings into inbox messages with the audio attached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hub.calls import CallEvent, CallOutcome, CallState, call_thread_key
from hub.channels import media
from hub.channels.base import (
    AdapterContext,
    Capabilities,
    InboundRequest,
    WebhookReply,
    WebhookResult,
    WebhookRoute,
)
from hub.channels.calls import NotReached, ProviderCall, Ring, VoiceChannel
from hub.channels.twilio.voice import params, twiml
from hub.channels.twilio.voice.account import VoiceAccount
from hub.channels.twilio.voice.settings import VoiceOptions, parse_voice_options
from hub.config import ChannelConfig
from hub.errors import BadRequest, NotFound
from hub.messages import Attachment, InboundMessage, Sender, ThreadHint

log = logging.getLogger(__name__)

TWIML = "text/xml"
# A recording's audio; Twilio serves the WAV at the recording URL and MP3 with ".mp3" appended.
RECORDING_SUFFIX = ".mp3"
RECORDING_TYPES = ("audio/*",)


def _now() -> datetime:
    return datetime.now(UTC)


class TwilioVoiceChannel(VoiceChannel):
    type = "twilio_voice"
    webhook_routes = (WebhookRoute(twiml.WEBHOOK_PREFIX + "/{name}/{step}", by_name=True),)
    capabilities = Capabilities(realtime=True, media="voice", attachments=False)

    def __init__(self, config: ChannelConfig, context: AdapterContext) -> None:
        super().__init__(config, context)
        self.options: VoiceOptions = parse_voice_options(config, context.settings)
        self.account = VoiceAccount.from_config(config, context)
        self.links = twiml.Links.of(context.settings.public_url, config.name)
        self.clock: Callable[[], datetime] = _now
        self._max_recording = context.settings.max_attachment_bytes

    @property
    def can_send(self) -> bool:
        return False  # a call is answered on the phone, not with a message

    def verify(self, request: InboundRequest) -> None:
        self.account.verify(request)

    async def receive(self, request: InboundRequest) -> WebhookResult:
        step = request.path.split("?")[0].rsplit("/", 1)[-1]
        fields = params.form(request.body)
        handler = _STEPS.get(step)
        if handler is None:
            raise NotFound(f"no voice step {step!r}")
        return await handler(self, request.query, fields)

    # --- the caller's way in -------------------------------------------------------

    def _language(self, query: Mapping[str, str]) -> str:
        return self.options.known_language(query.get("lang"))

    def _event(
        self, sid: str, state: CallState, fields: Mapping[str, str], *,
        queue: str | None = None, outcome: CallOutcome | None = None,
    ) -> CallEvent:
        """A report on call ``sid``; the customer goes along so the desk can open a call it missed."""
        return CallEvent(
            channel=self.name, provider_call_id=sid, state=state, customer=params.caller(fields, sid),
            from_number=params.number(fields, "From"), to_number=params.number(fields, "To"),
            queue=queue, outcome=outcome, occurred_at=self.clock(),
        )

    async def _incoming(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        language = self.options.language
        calendar = self.options.calendar
        is_open = calendar is None or calendar.is_open(self.clock())
        desk = self.call_desk()
        if await desk.info(self.name, sid) is None:  # else Twilio repeats a request whose answer it lost
            await desk.report(self._event(sid, CallState.IVR, fields), language=language)
        if not is_open:
            return _reply(twiml.closed(self.options, self.links, language))
        if self.options.menu:
            return _reply(twiml.menu(self.options, self.links, language))
        return await self._enqueue(sid, fields, self.options.default_queue, language)

    async def _menu(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        language = self._language(query)
        answer = params.choice(fields)
        option = self.options.choose(answer.digits, answer.speech)
        if option is not None and option.language is not None:
            return _reply(twiml.menu(self.options, self.links, option.language, first=False))
        if option is not None and option.queue is not None:
            return await self._enqueue(sid, fields, option.queue, language)
        attempt = params.attempt(query)
        if attempt < self.options.menu_attempts:
            return _reply(twiml.not_understood(self.options, self.links, language, attempt + 1))
        return await self._enqueue(sid, fields, self.options.default_queue, language)

    async def _enqueue(
        self, sid: str, fields: Mapping[str, str], queue: str, language: str, *, requeue: bool = False,
    ) -> WebhookResult:
        """Into the queue: the caller's choice, or again after an agent was not reached (``requeue``)."""
        desk = self.call_desk()
        info = None if requeue else await desk.info(self.name, sid)
        if info is None or info.state == CallState.IVR.value:
            info = await self.report_call(self._event(sid, CallState.QUEUED, fields, queue=queue), language=language)
        # else: a repeated choice (Twilio lost the answer); the call went on from there already
        if info.state == CallState.ENDED.value:
            return _reply(twiml.hangup())
        name = twiml.twilio_queue_name(self.name, info.queue or queue)
        return _reply(twiml.enqueue(self.options, self.links, language, name, notice=not requeue))

    async def _wait(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        params.call_sid(fields)
        position = params.integer(fields, "QueuePosition")
        return _reply(twiml.wait(self.options, self._language(query), position))

    async def _queue_exit(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        result = fields.get("QueueResult", "")
        if result == "hangup":
            await self.call_desk().report(self._event(sid, CallState.ENDED, fields))
            return _reply(twiml.empty())
        if result in ("bridged", "bridging-in-process", "redirected"):
            return _reply(twiml.empty())  # the TwiML the hub gave the call over the REST API runs instead
        log.warning("voice channel %s: a call left the queue with %r; offering voicemail", self.name, result[:40])
        return _reply(twiml.voicemail(self.options, self.links, self._language(query)))

    # --- ringing the agent ---------------------------------------------------------

    async def ring(self, ring: Ring) -> None:
        """Move the waiting call out of the Twilio queue into a ``<Dial>`` of the agent."""
        remaining = int((ring.expires_at - self.clock()).total_seconds())
        timeout = max(1, min(self.options.ring_timeout, remaining))
        target = twiml.AgentTarget(phone=ring.phone, sip=ring.sip)
        language = self.options.known_language(ring.language)
        document = twiml.connect(
            self.options, self.links, language, target, offer_id=ring.offer_id, timeout=timeout,
            call_id=ring.call_id, queue=ring.queue,
        )
        await self.account.update_call(ring.call_id, twiml=document)
        log.info("voice channel %s: ringing agent %d for conversation %d (offer %d)",
                 self.name, ring.agent_id, ring.conversation_id, ring.offer_id)

    async def call_status(self, call_id: str) -> ProviderCall | None:
        """Twilio's status of the call (the Calls API): still on, or over (unknown to Twilio: over)."""
        found = await self.account.fetch_call(call_id)
        if found is None:
            return ProviderCall(live=False)
        status, ended_at = found
        if status in params.FINAL_STATUSES:
            return ProviderCall(live=False, ended_at=ended_at)
        return ProviderCall(live=True)

    async def _whisper(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = _parent_call(query)
        offer = params.offer_id(query)
        if not await self.call_desk().answered(self.name, sid, offer, at=self.clock()):
            return _reply(twiml.hangup())  # too late: another agent is rung by now; this agent's leg ends
        return _reply(twiml.whisper(self.options, self._language(query), query.get("queue", "")))

    async def _dial_done(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        offer = params.offer_id(query)
        language = self._language(query)
        desk = self.call_desk()
        info = await desk.info(self.name, sid)
        if info is None:
            raise NotFound("no such call")
        if info.ring_offer_id != offer:
            return _reply(twiml.empty())  # a dial the hub already replaced by ringing another agent
        status = fields.get("DialCallStatus", "")
        if info.state in _TALKED:  # the agent took the call (whisper): the talk is over
            await desk.report(self._event(sid, CallState.ENDED, fields))
            return _reply(twiml.goodbye(self.options, language))
        why: NotReached = status if status in params.NOT_REACHED else "no-answer"  # type: ignore[assignment]
        await desk.not_reached(self.name, sid, offer, why, at=self.clock())
        return await self._enqueue(sid, fields, info.queue or self.options.default_queue, language, requeue=True)

    # --- the end of a call and its recordings -----------------------------------

    async def _status(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        if fields.get("CallStatus") in params.FINAL_STATUSES:
            await self.call_desk().report(self._event(sid, CallState.ENDED, fields))
        return _reply(twiml.empty())

    async def _voicemail(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        language = self._language(query)
        items: list[InboundMessage] = []
        if not self.options.transcribe:
            items.append(await self._recording_message(sid, fields, self._voicemail_text(fields, None)))
        await self.call_desk().report(self._event(sid, CallState.ENDED, fields, outcome=CallOutcome.VOICEMAIL))
        document = twiml.goodbye(self.options, language, "voicemail_thanks")
        return WebhookResult(items=items, reply=WebhookReply(document.encode(), TWIML))

    async def _transcription(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        text = fields.get("TranscriptionText") if fields.get("TranscriptionStatus") == "completed" else None
        message = await self._recording_message(sid, fields, self._voicemail_text(fields, text))
        return WebhookResult(items=[message], reply=WebhookReply(twiml.empty().encode(), TWIML))

    async def _recording(self, query: Mapping[str, str], fields: dict[str, str]) -> WebhookResult:
        sid = params.call_sid(fields)
        params.recording_sid(fields)
        if fields.get("RecordingStatus", "completed") != "completed":
            return _reply(twiml.empty())
        got = await self._download(fields)
        await self.call_desk().attach_recording(
            self.name, sid, got.content, got.content_type, duration_seconds=params.integer(fields, "RecordingDuration"),
        )
        return _reply(twiml.empty())

    async def _download(self, fields: Mapping[str, str]) -> media.Media:
        url = fields.get("RecordingUrl", "")
        if not url:
            raise BadRequest("RecordingUrl is missing")
        return await self.account.download(url + RECORDING_SUFFIX, max_bytes=self._max_recording,
                                           allowed_types=RECORDING_TYPES)

    def _voicemail_text(self, fields: Mapping[str, str], transcription: str | None) -> str:
        seconds = params.integer(fields, "RecordingDuration")
        head = f"Voicemail ({seconds} s)" if seconds is not None else "Voicemail"
        if transcription:
            return f"{head}:\n{transcription.strip()[:10_000]}"
        return f"{head}, no transcription."

    async def _recording_message(self, sid: str, fields: Mapping[str, str], text: str) -> InboundMessage:
        """The voicemail as an inbox message of the call's conversation, the audio attached."""
        recording = params.recording_sid(fields)
        if not fields.get("From"):
            info = await self.call_desk().info(self.name, sid)
            fields = {**fields, "From": info.caller or ""} if info is not None else fields
        attachments: tuple[Attachment, ...] = ()
        try:
            got = await self._download(fields)
        except media.MediaRejected as exc:
            text = f"{text}\n{media.omitted(recording, exc.detail)}"
        else:
            attachments = (Attachment(f"voicemail-{recording}.mp3", got.content_type.split(";")[0], got.content),)
        return InboundMessage(
            channel=self.name,
            provider_message_id=recording,
            sender=Sender((params.caller(fields, sid),)),
            text=text,
            thread=ThreadHint(key=call_thread_key(sid), join_open=False),
            attachments=attachments,
            received_at=self.clock(),
        )


def _reply(document: str) -> WebhookResult:
    return WebhookResult(reply=WebhookReply(document.encode(), TWIML))


def _parent_call(query: Mapping[str, str]) -> str:
    """The caller's call on the agent's leg (the hub put it into the URL it gave Twilio)."""
    return params.call_sid({"CallSid": query.get("call", "")})


_TALKED = frozenset({CallState.TALKING.value, CallState.WRAP_UP.value, CallState.ENDED.value})

_STEPS = {
    "incoming": TwilioVoiceChannel._incoming,
    "menu": TwilioVoiceChannel._menu,
    "wait": TwilioVoiceChannel._wait,
    "queue-exit": TwilioVoiceChannel._queue_exit,
    "whisper": TwilioVoiceChannel._whisper,
    "dial-done": TwilioVoiceChannel._dial_done,
    "status": TwilioVoiceChannel._status,
    "voicemail": TwilioVoiceChannel._voicemail,
    "transcription": TwilioVoiceChannel._transcription,
    "recording": TwilioVoiceChannel._recording,
}
