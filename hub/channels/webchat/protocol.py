"""What the widget sends: session requests over HTTP and frames over the visitor websocket.

Decoded by raising (msgspec): a frame of the wrong shape is refused with an error frame
and changes nothing. Server frames are documented in docs/channels/webchat.md.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from hub.errors import BadRequest, ValidationFailed

ClientId = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
MessageId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class IdentityClaim(msgspec.Struct, forbid_unknown_fields=True):
    """The website's signed statement of who its logged-in user is."""

    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^\S+$")]
    timestamp: Annotated[int, msgspec.Meta(ge=0, le=2**40)]
    signature: Annotated[str, msgspec.Meta(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")]
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class SessionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /widget/{channel}/sessions``: start a visitor session."""

    locale: Annotated[str, msgspec.Meta(max_length=35)] | None = None
    identity: IdentityClaim | None = None
    prechat: Annotated[dict[Annotated[str, msgspec.Meta(max_length=32)], Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=20)] = {}


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=True):
    """First frame on the socket: the visitor token."""

    token: Annotated[str, msgspec.Meta(max_length=200)]


class SendMessage(msgspec.Struct, tag="message", tag_field="type", forbid_unknown_fields=True):
    """A visitor's message; ``client_id`` makes a resend after a reconnect a no-op."""

    client_id: ClientId
    text: Text


class Typing(msgspec.Struct, tag="typing", tag_field="type", forbid_unknown_fields=True):
    typing: bool


class Read(msgspec.Struct, tag="read", tag_field="type", forbid_unknown_fields=True):
    """The visitor has seen the agents' messages up to this id."""

    up_to: MessageId


class Delivered(msgspec.Struct, tag="delivered", tag_field="type", forbid_unknown_fields=True):
    """The widget has received the agents' messages up to this id."""

    up_to: MessageId


class Rate(msgspec.Struct, tag="rate", tag_field="type", forbid_unknown_fields=True):
    """A satisfaction rating of a resolved conversation."""

    conversation_id: MessageId
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class SetEmail(msgspec.Struct, tag="email", tag_field="type", forbid_unknown_fields=True):
    """Where to continue by email when no one is online."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]


Frame = SendMessage | Typing | Read | Delivered | Rate | SetEmail

_hello = msgspec.json.Decoder(Hello)
_frame: msgspec.json.Decoder[Frame] = msgspec.json.Decoder(Frame)
_session = msgspec.json.Decoder(SessionRequest)


def decode_hello(data: str | bytes) -> Hello:
    """The first frame, or BadRequest."""
    try:
        return _hello.decode(data)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the first frame must be {{\"type\": \"hello\", \"token\": ...}}: {exc}") from exc


def decode_frame(data: str | bytes) -> Frame:
    """A visitor frame, or BadRequest (not JSON) / ValidationFailed (wrong shape)."""
    try:
        return _frame.decode(data)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the frame is not valid JSON: {exc}") from exc


def decode_session(body: bytes) -> SessionRequest:
    """A session request, or BadRequest / ValidationFailed."""
    try:
        return _session.decode(body)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
