"""Channels, conversations, their messages, attachments, tags and thread keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class Channel(Base):
    """A configured channel endpoint (one mailbox, one phone number, one API source)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The identity the customer wrote from; replies go back to it.
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("contact_identities.id", ondelete="SET NULL"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[int] = mapped_column(default=1)
    subject: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    snoozed_until: Mapped[datetime | None] = mapped_column()


Index("ix_conversations_contact_channel_status", Conversation.contact_id, Conversation.channel_id, Conversation.status)
Index("ix_conversations_queue_status", Conversation.queue_id, Conversation.status)
Index("ix_conversations_assignee_status", Conversation.assignee_id, Conversation.status)
Index("ix_conversations_last_message_at", Conversation.last_message_at)
Index("ix_conversations_status_snoozed_until", Conversation.status, Conversation.snoozed_until)
# Deleting an identity (erasure, unlinking) sets identity_id to NULL: each delete looks it up here.
Index("ix_conversations_identity_id", Conversation.identity_id)
# The inbox list: each of its equality filters, then newest activity first (bench/inbox_ui.py).
Index("ix_conversations_assignee_last_message", Conversation.assignee_id, Conversation.last_message_at)
Index("ix_conversations_status_last_message", Conversation.status, Conversation.last_message_at)
Index("ix_conversations_queue_last_message", Conversation.queue_id, Conversation.last_message_at)


class ThreadKey(Base):
    """A provider thread id (email Message-ID, Slack thread_ts) pointing at its conversation."""

    __tablename__ = "thread_keys"
    __table_args__ = (UniqueConstraint("channel_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    key: Mapped[str] = mapped_column(String(500))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)


class Message(Base):
    """A message in a conversation: inbound, outbound, or a private note (never sent).

    Personal data: ``text``, ``html``, ``subject``.
    """

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    private: Mapped[bool] = mapped_column(default=False)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # received | queued | sending | sent | delivered | read | failed
    error: Mapped[str | None] = mapped_column(String(1000))
    # Where quoted earlier mail and the signature begin in ``text`` (collapsed for display).
    quote_start: Mapped[int | None] = mapped_column()
    # auto_reply | bulk | bounce | report when a machine wrote it; None for people.
    auto_submitted: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # How a reply must go out besides its text: {"template": {...}} or {"tag": "..."}.
    send_options: Mapped[dict[str, Any] | None] = mapped_column()
    # An inbound edit: the provider id of the message (same channel) the customer edited.
    edit_of: Mapped[str | None] = mapped_column(String(500))


Index("ix_messages_conversation_id", Message.conversation_id, Message.id)


class Blob(Base):
    """File content in the blob store, addressed by SHA-256."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageAttachment(Base):
    """An attachment of a message; ``filename`` is personal data."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    content_id: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column()


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
