"""Slack Events API payloads, parsed: no I/O, no configuration beyond what is passed in.

https://api.slack.com/apis/events-api — every request is an envelope: a
``url_verification`` challenge or an ``event_callback`` wrapping one event. Only
``message`` events become customer messages; the envelope's other events are named
so the webhook can log them as acknowledged.

Threading: every message is keyed ``<channel>:<ts>``. A thread reply refers to its
root ``<channel>:<thread_ts>``. In a direct message a new top-level message continues
the customer's open conversation; in a shared channel each top-level message starts
its own conversation (it refers to itself, so no open conversation is joined).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import msgspec

from hub.errors import BadRequest, ValidationFailed

# Message subtypes a customer writes; everything else (joins, topic changes, bots) is not.
CUSTOMER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


class SlackFile(msgspec.Struct):
    id: str
    name: str | None = None
    mimetype: str | None = None
    size: int | None = None
    url_private_download: str | None = None


class MessageEvent(msgspec.Struct):
    """A ``message`` event (https://api.slack.com/events/message)."""

    type: str
    channel: str
    ts: str
    subtype: str | None = None
    channel_type: str | None = None
    user: str | None = None
    user_team: str | None = None
    bot_id: str | None = None
    text: str | None = None
    thread_ts: str | None = None
    files: list[SlackFile] = []


class Edited(msgspec.Struct):
    ts: str
    user: str | None = None


class ChangedMessage(msgspec.Struct):
    """The new version inside a ``message_changed`` event."""

    ts: str
    user: str | None = None
    user_team: str | None = None
    bot_id: str | None = None
    text: str | None = None
    thread_ts: str | None = None
    files: list[SlackFile] = []
    edited: Edited | None = None


class MessageChanged(msgspec.Struct):
    """https://api.slack.com/events/message/message_changed"""

    type: str
    channel: str
    ts: str
    message: ChangedMessage
    channel_type: str | None = None


class EventHead(msgspec.Struct):
    type: str
    subtype: str | None = None


class Envelope(msgspec.Struct):
    type: str
    challenge: str | None = None
    team_id: str | None = None
    api_app_id: str | None = None
    event: msgspec.Raw = msgspec.Raw(b"")  # decoded later: its shape depends on its type
    event_id: str | None = None
    event_time: int | None = None
    is_ext_shared_channel: bool = False


@dataclass(frozen=True)
class SlackMessage:
    """A customer's message as the adapter needs it (before profile and files are fetched)."""

    team_id: str  # the author's workspace (Slack Connect: their own, not ours)
    user: str
    channel: str
    ts: str
    text: str
    thread_key: str
    references: tuple[str, ...]
    received_at: datetime
    files: tuple[SlackFile, ...] = ()
    edited_ts: str | None = None  # set on an edit: when the customer changed the message

    @property
    def provider_id(self) -> str:
        key = f"{self.channel}:{self.ts}"
        return f"{key}:edit:{self.edited_ts}" if self.edited_ts else key

    @property
    def edit_of(self) -> str | None:
        return f"{self.channel}:{self.ts}" if self.edited_ts else None


@dataclass(frozen=True)
class ParsedEnvelope:
    """What one request carries: a challenge, or messages plus the events not used."""

    kind: str
    team_id: str | None = None
    app_id: str | None = None
    event_id: str | None = None
    challenge: str | None = None
    messages: tuple[SlackMessage, ...] = ()
    ignored: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Audience:
    """Which channels carry customers: DMs always; shared channels and a list if configured."""

    team_id: str
    shared_channels: bool = True
    customer_channels: frozenset[str] = frozenset()


_envelope = msgspec.json.Decoder(Envelope)
_head = msgspec.json.Decoder(EventHead)
_message = msgspec.json.Decoder(MessageEvent)
_changed = msgspec.json.Decoder(MessageChanged)


def parse_envelope(body: bytes, audience: Audience) -> ParsedEnvelope:
    """Parse a verified request body; BadRequest when it is not an Events API envelope."""
    try:
        envelope = _envelope.decode(body)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"not a Slack Events API envelope: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if envelope.type == "url_verification":
        if not envelope.challenge:
            raise ValidationFailed("url_verification without a challenge")
        return ParsedEnvelope(kind="url_verification", challenge=envelope.challenge)
    common = ParsedEnvelope(
        kind=envelope.type, team_id=envelope.team_id, app_id=envelope.api_app_id, event_id=envelope.event_id
    )
    if envelope.type != "event_callback" or not envelope.event:
        return replace(common, ignored=(f"envelope {envelope.type}",))
    try:
        head = _head.decode(envelope.event)
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"event without a type: {exc}") from exc
    if head.type != "message":
        return replace(common, ignored=(f"event {head.type}",))
    if head.subtype == "message_changed":
        return _edit(common, envelope, audience)
    if head.subtype not in CUSTOMER_SUBTYPES:
        return replace(common, ignored=(f"message subtype {head.subtype}",))
    try:
        event = _message.decode(envelope.event)
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"malformed message event: {exc}") from exc
    reason = _not_a_customer(event, envelope, audience)
    if reason is not None:
        return replace(common, ignored=(reason,))
    assert event.user is not None
    return replace(common, messages=(_message_of(event, envelope, audience),))


def _edit(common: ParsedEnvelope, envelope: Envelope, audience: Audience) -> ParsedEnvelope:
    """A customer's edit as a message of its own, linked to the original; or why it is none."""
    try:
        changed = _changed.decode(envelope.event)
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"malformed message_changed event: {exc}") from exc
    new = changed.message
    if new.edited is None:
        return replace(common, ignored=("message_changed without an edit (a link preview)",))
    event = MessageEvent(
        type="message", channel=changed.channel, ts=new.ts, channel_type=changed.channel_type, user=new.user,
        user_team=new.user_team, bot_id=new.bot_id, text=new.text, thread_ts=new.thread_ts, files=new.files,
    )
    reason = _not_a_customer(event, envelope, audience)
    if reason is not None:
        return replace(common, ignored=(f"edit: {reason}",))
    original = _message_of(event, envelope, audience)
    # The original's own key finds its conversation; no reference, so nothing new is opened.
    edit = replace(original, references=(), edited_ts=new.edited.ts, received_at=ts_time(new.edited.ts))
    return replace(common, messages=(edit,))


def _not_a_customer(event: MessageEvent, envelope: Envelope, audience: Audience) -> str | None:
    """Why this message is no customer's (None: it is one)."""
    if event.bot_id is not None or event.user is None:
        return "message from a bot (our own replies among them)"
    if not (event.text or "").strip() and not event.files:
        return "empty message"
    if _is_direct(event):
        return None
    listed = event.channel in audience.customer_channels
    if not listed and not (audience.shared_channels and envelope.is_ext_shared_channel):
        return f"message in {event.channel}, which is not a customer channel"
    if not listed and event.user_team == audience.team_id:
        return "message by a colleague in a shared channel"
    return None


def _is_direct(event: MessageEvent) -> bool:
    return event.channel_type == "im" or (event.channel_type is None and event.channel.startswith("D"))


def _message_of(event: MessageEvent, envelope: Envelope, audience: Audience) -> SlackMessage:
    assert event.user is not None
    key = f"{event.channel}:{event.ts}"
    if event.thread_ts and event.thread_ts != event.ts:
        references: tuple[str, ...] = (f"{event.channel}:{event.thread_ts}",)
    elif _is_direct(event):
        references = ()
    else:
        references = (key,)  # a new top-level message in a channel: a conversation of its own
    return SlackMessage(
        team_id=event.user_team or envelope.team_id or audience.team_id,
        user=event.user,
        channel=event.channel,
        ts=event.ts,
        text=event.text or "",
        thread_key=key,
        references=references,
        received_at=ts_time(event.ts),
        files=tuple(event.files),
    )


def ts_time(ts: str) -> datetime:
    """The time a Slack ``ts`` ("1355517523.000005") stands for; ValidationFailed if it is none."""
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC)
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed(f"not a Slack timestamp: {ts[:40]!r}") from exc


def thread_target(thread_key: str) -> tuple[str, str | None]:
    """Where a reply goes: (channel, thread_ts); direct messages get no thread."""
    channel, _, ts = thread_key.partition(":")
    if not channel:
        raise ValueError(f"not a Slack thread key: {thread_key!r}")
    if channel.startswith("D") or not ts:
        return channel, None
    return channel, ts
