"""The variables a canned response may use, read for one conversation the caller may see.

Only plain dicts of strings and numbers reach the template, so the sandbox exposes
nothing but these values. A value the hub does not know is an empty string, so
``{{ contact.name or "Kunde" }}`` works; a name that is not listed here is an error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.auth.policy import ensure_conversation_visible
from hub.auth.principal import Principal
from hub.db.models import Channel, Company, Contact, ContactIdentity, Conversation, Queue, User
from hub.services import Services

# Documented in docs/api.md ("Canned responses"); the UI lists them for admins.
VARIABLES: dict[str, tuple[str, ...]] = {
    "contact": ("name", "email", "phone", "company"),
    "agent": ("name", "email"),
    "conversation": ("id", "subject", "channel", "queue", "status", "priority"),
}


async def conversation_variables(services: Services, principal: Principal, conversation_id: int) -> dict[str, Any]:
    """The variables for ``conversation_id``; 404 when the caller may not see it."""
    async with services.sessions() as session:
        conversation = ensure_conversation_visible(principal, await session.get(Conversation, conversation_id))
        contact = await session.get(Contact, conversation.contact_id)
        channel = await session.scalar(select(Channel.name).where(Channel.id == conversation.channel_id))
        queue = None
        if conversation.queue_id is not None:
            queue = await session.scalar(select(Queue.name).where(Queue.id == conversation.queue_id))
        identities = (
            await session.execute(
                select(ContactIdentity.kind, ContactIdentity.address)
                .where(ContactIdentity.contact_id == conversation.contact_id)
                .order_by(ContactIdentity.id)
            )
        ).all()
        company = None
        if contact is not None and contact.company_id is not None:
            company = await session.scalar(select(Company.name).where(Company.id == contact.company_id))
        agent_email = await session.scalar(select(User.email).where(User.id == principal.user_id))
    first = {kind: address for kind, address in reversed(identities)}
    return {
        "contact": {
            "name": (contact.name if contact is not None else None) or "",
            "email": first.get("email", ""),
            "phone": first.get("phone", ""),
            "company": company or "",
        },
        "agent": {"name": principal.name, "email": agent_email or principal.email},
        "conversation": {
            "id": conversation.id,
            "subject": conversation.subject or "",
            "channel": channel or "",
            "queue": queue or "",
            "status": conversation.status,
            "priority": conversation.priority,
        },
    }
