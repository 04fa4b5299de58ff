"""The normalized message model every channel adapter speaks.

Plain frozen dataclasses: no ORM, no I/O. Adapters turn provider payloads into these;
the inbox stores them; the outbox hands ``OutboundMessage`` back to the adapter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class IdentityKind(enum.StrEnum):
    """What an identity's address is. Platform kinds carry a provider-scoped user id."""

    EMAIL = "email"
    PHONE = "phone"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class Identity:
    """A way to reach a contact: ``kind`` plus a normalized ``address``.

    Build with ``hub.crm_link.identities.email()``/``phone()``/``platform()`` so the
    address is normalized (lower-case email, E.164 phone, ``<namespace>:<id>``).
    """

    kind: IdentityKind
    address: str


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote an inbound message: their identities (first is primary) and name."""

    identities: tuple[Identity, ...]
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.identities:
            raise ValueError("a sender needs at least one identity")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message; ``content`` is the raw bytes."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None  # for inline images referenced as cid: in HTML


@dataclass(frozen=True, slots=True)
class ThreadHint:
    """How the provider threads messages: ``key`` names this message's thread.

    ``references`` lists earlier thread keys this message answers (email References,
    Slack ``thread_ts``); the inbox looks each up before opening a new conversation.
    """

    key: str | None = None
    references: tuple[str, ...] = ()
    # A conversation the adapter has verified this message belongs to (e.g. an email
    # subject token carrying an HMAC); used when no reference matches.
    conversation_id: int | None = None
    # Whether a message without matching references may join the sender's open
    # conversation on the channel (chat: yes; email: a new mail is a new conversation).
    join_open: bool = True


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An automatic first answer the adapter asks for, should this message open a conversation.

    It is stored and queued in the same transaction as the message, so it goes out
    exactly once; not to machine-written mail, not to a contact whose processing is
    restricted, and not twice to one contact within ``min_interval``.
    """

    text: str
    min_interval: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ConsentStatement:
    """The message itself states consent: an SMS that is only STOP (withdrawn) or START (given).

    The inbox records it on the sender's consent ledger in the same transaction as the
    message, with the message as evidence. ``channel`` is a consent channel (``sms``,
    ``whatsapp``); ``purpose`` ``all`` is for withdrawals only.
    """

    channel: str
    granted: bool
    purpose: str
    keyword: str
    source: str = "sms_keyword"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message, normalized. ``provider_message_id`` makes ingest idempotent."""

    channel: str
    provider_message_id: str
    sender: Sender
    text: str
    html: str | None = None
    subject: str | None = None
    thread: ThreadHint = field(default_factory=ThreadHint)
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime | None = None
    # The provider id of an earlier message this one replaces (the customer edited it):
    # stored as a message of its own, linked to the original.
    edit_of: str | None = None
    # Offset in ``text`` where quoted earlier messages and the signature begin; the UI
    # collapses from there, the full text stays stored.
    quote_start: int | None = None
    # Set when a machine wrote it (``auto_reply``, ``bounce``, ``bulk``) or it is a command to
    # the hub (``keyword``: an SMS STOP): it never gets an automatic answer and does not
    # reopen or re-queue its conversation.
    auto_submitted: str | None = None
    acknowledgement: Acknowledgement | None = None
    consent: ConsentStatement | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A message template the provider approved beforehand (WhatsApp), by name and language.

    ``parameters`` fill the template's body placeholders in order ({{1}}, {{2}}, ...).
    """

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply the outbox asks an adapter to send."""

    channel: str
    message_id: int
    conversation_id: int
    recipient: Identity
    text: str
    html: str | None = None
    subject: str | None = None
    thread_key: str | None = None
    in_reply_to: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    template: Template | None = None  # send this approved template instead of free text
    tag: str | None = None  # a message tag that lets the reply out after the reply window
    # Every thread key of the conversation, oldest first (email References).
    references: tuple[str, ...] = ()
    recipient_name: str | None = None
    automatic: bool = False  # the hub wrote it (an acknowledgement), not an agent


class DeliveryStatus(enum.StrEnum):
    """Delivery states of an outbound message, in the order they can advance."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A provider's report on an outbound message (delivered, read, failed, ...)."""

    channel: str
    provider_message_id: str
    status: DeliveryStatus
    error: str | None = None
    occurred_at: datetime | None = None
