"""Contacts, their identities across channels, and companies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, BigId, utcnow


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """A customer. Personal data lives in ``name``, ``attributes`` and the identities.

    ``restricted_at`` set: processing is restricted (DSGVO Art. 18): no outbound
    messages, no automated processing; the data is only stored.
    """

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()
    restricted_at: Mapped[datetime | None] = mapped_column()
    restriction_reason: Mapped[str | None] = mapped_column(String(500))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(32))  # lead | prospect | customer | former_customer
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when this contact was merged into another (hub.crm_link.merge); it is then hidden.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)


class ContactIdentity(Base):
    """One normalized way to reach a contact; (kind, address) belongs to one contact only."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_contact_identities_contact_id", ContactIdentity.contact_id)
