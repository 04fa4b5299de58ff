"""Restriction of processing (DSGVO Art. 18): the contact's data is kept, but nothing else happens.

A restricted contact gets no outbound messages (``consent.ensure_outbound_allowed``
refuses with ``processing_restricted``), no automated processing (routing rules,
outgoing webhooks and connectors skip it: ``is_restricted``/``unrestricted``), and
retention leaves it alone (the usual reason for a restriction is that the data must
be kept, e.g. for a legal claim). Inbound messages are still stored.
Only admins (the data-protection officer's role) restrict and lift.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub import events as ev
from hub.auth.audit import record_audit
from hub.auth.principal import Principal, Role
from hub.crm_link.timeline import append_timeline
from hub.db.models import Contact, utcnow
from hub.errors import Conflict, Forbidden, NotFound
from hub.events import Event
from hub.services import Services

CONTACT_RESTRICTED = "contact.restricted"  # audit actions
CONTACT_RESTRICTION_LIFTED = "contact.restriction_lifted"


def ensure_privacy_officer(principal: Principal) -> None:
    """403 unless ``principal`` is an admin: export, erasure and restriction are theirs."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("only admins handle data-subject requests (export, erasure, restriction)")


async def is_restricted(session: AsyncSession, contact_id: int) -> bool:
    """Whether processing of the contact is restricted; automated steps skip it when True."""
    return bool(
        await session.scalar(select(Contact.restricted_at.is_not(None)).where(Contact.id == contact_id))
    )


def unrestricted(contact_id: ColumnElement[int]) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose contact is not restricted (for automation queries)."""
    frozen = aliased(Contact)  # never correlated with a Contact in the outer query
    return ~exists(select(frozen.id).where(frozen.id == contact_id, frozen.restricted_at.is_not(None)))


async def _load(session: AsyncSession, contact_id: int) -> Contact:
    contact = await session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())
    if contact is None:
        raise NotFound("no such contact")
    if contact.erased_at is not None:
        raise Conflict("the contact's personal data was erased")
    return contact


async def restrict_processing(
    services: Services, principal: Principal, contact_id: int, reason: str | None, *, now: datetime | None = None
) -> Contact:
    """Restrict processing of the contact; restricting again only updates the reason."""
    ensure_privacy_officer(principal)
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        contact = await _load(session, contact_id)
        contact.restriction_reason = (reason or "").strip() or None
        if contact.restricted_at is None:
            contact.restricted_at = now
            await append_timeline(session, contact.id, "restricted", actor_user_id=principal.user_id, occurred_at=now)
            await record_audit(
                session, actor_id=principal.user_id, action=CONTACT_RESTRICTED, object_type="contact",
                object_id=contact.id,
            )
            unit.emit(Event(ev.CONTACT_RESTRICTED, contact_id=contact.id, user_id=principal.user_id, occurred_at=now))
        contact.updated_at = now
        await session.flush()
    return contact


async def lift_restriction(
    services: Services, principal: Principal, contact_id: int, *, now: datetime | None = None
) -> Contact:
    """Lift the restriction; lifting when there is none changes nothing."""
    ensure_privacy_officer(principal)
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        contact = await _load(session, contact_id)
        if contact.restricted_at is None:
            return contact
        contact.restricted_at = None
        contact.restriction_reason = None
        contact.updated_at = now
        await append_timeline(
            session, contact.id, "restriction_lifted", actor_user_id=principal.user_id, occurred_at=now
        )
        await record_audit(
            session, actor_id=principal.user_id, action=CONTACT_RESTRICTION_LIFTED, object_type="contact",
            object_id=contact.id,
        )
        unit.emit(Event(ev.CONTACT_RESTRICTION_LIFTED, contact_id=contact.id, user_id=principal.user_id, occurred_at=now))
        await session.flush()
    return contact
