"""The rest of the customer record: tags, notes, typed attributes, merges, duplicate decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class ContactTag(Base):
    __tablename__ = "contact_tags"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class ContactNote(Base):
    """A note on the contact written by staff; ``body`` is personal data."""

    __tablename__ = "contact_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_contact_notes_contact", ContactNote.contact_id, ContactNote.id)


class AttributeDefinition(Base):
    """A custom attribute admins define: its key, label and type (text, number, date, choice)."""

    __tablename__ = "attribute_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"values": [...]} for choice
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactMerge(Base):
    """One merge of ``merged_id`` into ``survivor_id``, with what it moved so it can be undone.

    ``moved`` lists row ids per table ({"conversations": [..]}); ``survivor_before`` the
    survivor's fields the merge filled from the other contact, with their old values.
    """

    __tablename__ = "contact_merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    unmerged_at: Mapped[datetime | None] = mapped_column()
    unmerged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class DuplicateDismissal(Base):
    """A human decided two contacts are different people: never suggest the pair again."""

    __tablename__ = "duplicate_dismissals"
    __table_args__ = (UniqueConstraint("low_id", "high_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    low_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    high_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    dismissed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Segment(Base):
    """A saved filter over contacts (``hub.crm_link.segments``); ``definition`` is its JSON."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
