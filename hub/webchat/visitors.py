"""Visitor sessions of the web chat: create, look up, connect state, and the offline email.

A visitor is one browser's session on one web chat channel; the signed token the widget
keeps names it by ``key``. Its contact is found through its platform identity once it
has written, so merges and erasure in the CRM apply without this module knowing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from hub.db.models import ContactIdentity, Conversation, WebchatVisitor, utcnow
from hub.errors import Unauthorized
from hub.messages import Identity
from hub.services import Services

ANONYMOUS_RETENTION = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A snapshot of a visitor row."""

    id: int
    channel_id: int
    key: str
    contact_id: int | None
    user_id: str | None
    email: str | None
    email_verified: bool
    name: str | None
    locale: str
    prechat: dict[str, Any]
    agent_read_up_to: int | None

    @classmethod
    def of(cls, row: WebchatVisitor) -> Visitor:
        return cls(
            id=row.id,
            channel_id=row.channel_id,
            key=row.key,
            contact_id=row.contact_id,
            user_id=row.user_id,
            email=row.email,
            email_verified=row.email_verified,
            name=row.name,
            locale=row.locale,
            prechat=dict(row.prechat),
            agent_read_up_to=row.agent_read_up_to,
        )


async def create_visitor(
    services: Services,
    channel_id: int,
    key: str,
    *,
    user_id: str | None,
    email: str | None,
    email_verified: bool,
    name: str | None,
    locale: str,
    prechat: dict[str, str],
    now: datetime | None = None,
) -> Visitor:
    """Store a new visitor session."""
    now = now or utcnow()
    async with services.transaction() as unit:
        row = WebchatVisitor(
            channel_id=channel_id,
            key=key,
            user_id=user_id,
            email=email,
            email_verified=email_verified,
            name=name,
            locale=locale,
            prechat=prechat,
            created_at=now,
            last_seen_at=now,
            disconnected_at=now,
        )
        unit.session.add(row)
        await unit.session.flush()
        return Visitor.of(row)


async def load_visitor(services: Services, channel_id: int, key: str) -> Visitor:
    """The visitor with ``key`` on the channel; 401 when it is gone (erased, or purged unused)."""
    async with services.sessions() as session:
        row = await session.scalar(
            select(WebchatVisitor).where(WebchatVisitor.channel_id == channel_id, WebchatVisitor.key == key)
        )
    if row is None:
        raise Unauthorized("this chat session no longer exists; start a new one")
    return Visitor.of(row)


async def contact_of(services: Services, identity: Identity) -> int | None:
    """The contact holding ``identity``, if any."""
    async with services.sessions() as session:
        return await session.scalar(
            select(ContactIdentity.contact_id).where(
                ContactIdentity.kind == identity.kind.value, ContactIdentity.address == identity.address
            )
        )


async def link_contact(services: Services, visitor_id: int, contact_id: int) -> None:
    """Remember the visitor's contact (for erasure) once their first message made one."""
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(WebchatVisitor)
            .where(WebchatVisitor.id == visitor_id)
            .values(contact_id=contact_id)
            .execution_options(synchronize_session=False)
        )


async def set_email(services: Services, visitor_id: int, email: str) -> None:
    """Where replies go by email while the visitor is away (not verified: never links a contact)."""
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(WebchatVisitor)
            .where(WebchatVisitor.id == visitor_id, WebchatVisitor.email_verified.is_(False))
            .values(email=email)
            .execution_options(synchronize_session=False)
        )


async def mark_connected(services: Services, visitor_id: int, *, connected: bool) -> None:
    """Record that a widget of the visitor connected (or the last one went away)."""
    now = utcnow()
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(WebchatVisitor)
            .where(WebchatVisitor.id == visitor_id)
            .values(last_seen_at=now, disconnected_at=None if connected else now)
            .execution_options(synchronize_session=False)
        )


async def conversations_of(services: Services, channel_id: int, contact_id: int | None) -> list[int]:
    """The contact's conversation ids on this channel, oldest first."""
    if contact_id is None:
        return []
    async with services.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Conversation.id)
                    .where(Conversation.channel_id == channel_id, Conversation.contact_id == contact_id)
                    .order_by(Conversation.id)
                )
            ).all()
        )


class VisitorDirectory:
    """``VisitorReach`` for the web chat adapter: is a conversation's visitor gone, and their email."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def offline_email(self, conversation_id: int, *, away_seconds: int) -> str | None:
        """The newest email a visitor of the conversation's contact gave, when none of them is connected."""
        async with self.services.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return None
            rows = (
                await session.execute(
                    select(WebchatVisitor.email, WebchatVisitor.disconnected_at)
                    .where(
                        WebchatVisitor.channel_id == conversation.channel_id,
                        WebchatVisitor.contact_id == conversation.contact_id,
                    )
                    .order_by(WebchatVisitor.last_seen_at.desc())
                )
            ).all()
        cutoff = utcnow() - timedelta(seconds=away_seconds)
        if not rows or any(gone is None or gone > cutoff for _, gone in rows):
            return None  # a widget is open, or was a moment ago
        return next((email for email, _ in rows if email), None)


async def purge_unused(services: Services, now: datetime | None = None) -> int:
    """Delete sessions that never wrote a message and were last seen a day ago; returns how many."""
    cutoff = (now or utcnow()) - ANONYMOUS_RETENTION
    async with services.sessions() as session, session.begin():
        result = await session.execute(
            delete(WebchatVisitor)
            .where(WebchatVisitor.contact_id.is_(None), WebchatVisitor.last_seen_at < cutoff)
            .returning(WebchatVisitor.id)
        )
        return len(result.all())
