"""Actions on contacts: each change is one transaction with its timeline entry and event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal, Role
from hub.crm_link.attributes import check_attributes, definitions
from hub.crm_link.timeline import append_timeline
from hub.db.models import Company, Contact, ContactIdentity, User, utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event
from hub.messages import Identity
from hub.services import Services, Unit

MAX_ATTRIBUTES = 200
LIFECYCLE_STAGES: tuple[str, ...] = ("lead", "prospect", "customer", "former_customer")

AttributeValue = str | int | float | bool | None


@dataclass
class ContactFields:
    """The fields a create or update sets; ``UNSET`` leaves a field alone."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    attributes: dict[str, AttributeValue] | msgspec.UnsetType = msgspec.UNSET
    company_id: int | None | msgspec.UnsetType = msgspec.UNSET
    lifecycle_stage: str | None | msgspec.UnsetType = msgspec.UNSET
    owner_id: int | None | msgspec.UnsetType = msgspec.UNSET


async def load_for_change(session: AsyncSession, actor: Principal | None, contact_id: int) -> Contact:
    """The contact, row-locked; 404 when the actor may not see it, 409 when erased or merged away."""
    stmt = select(Contact).where(Contact.id == contact_id).with_for_update()
    if actor is not None:
        stmt = stmt.where(contact_scope(actor, Contact.id.expression))
    contact = await session.scalar(stmt)
    if contact is None:
        raise NotFound("no such contact")
    if contact.erased_at is not None:
        raise Conflict("the contact's personal data was erased; it cannot be changed")
    if contact.merged_into_id is not None:
        raise Conflict(f"the contact was merged into contact {contact.merged_into_id}; change that one")
    return contact


async def _apply(session: AsyncSession, contact: Contact, fields: ContactFields) -> list[str]:
    """Set the given fields on ``contact``; the names of those that changed."""
    changed: list[str] = []
    if not isinstance(fields.name, msgspec.UnsetType):
        new_name = (fields.name or "").strip() or None
        if new_name != contact.name:
            contact.name = new_name
            changed.append("name")
    if not isinstance(fields.attributes, msgspec.UnsetType):
        checked = check_attributes(await definitions(session), fields.attributes)
        merged = _merge(contact.attributes or {}, checked)
        if merged != (contact.attributes or {}):
            contact.attributes = merged
            changed.append("attributes")
    if not isinstance(fields.company_id, msgspec.UnsetType) and fields.company_id != contact.company_id:
        if fields.company_id is not None and await session.get(Company, fields.company_id) is None:
            raise ValidationFailed(f"there is no company with id {fields.company_id}")
        contact.company_id = fields.company_id
        changed.append("company_id")
    if not isinstance(fields.lifecycle_stage, msgspec.UnsetType) and fields.lifecycle_stage != contact.lifecycle_stage:
        if fields.lifecycle_stage is not None and fields.lifecycle_stage not in LIFECYCLE_STAGES:
            raise ValidationFailed(f"lifecycle_stage must be one of {', '.join(LIFECYCLE_STAGES)}")
        contact.lifecycle_stage = fields.lifecycle_stage
        changed.append("lifecycle_stage")
    if not isinstance(fields.owner_id, msgspec.UnsetType) and fields.owner_id != contact.owner_id:
        if fields.owner_id is not None:
            owner = await session.get(User, fields.owner_id)
            if owner is None or not owner.active:
                raise ValidationFailed(f"there is no active user with id {fields.owner_id}")
        contact.owner_id = fields.owner_id
        changed.append("owner_id")
    return changed


async def update_contact(
    services: Services,
    contact_id: int,
    *,
    actor: Principal | None,
    name: str | None | msgspec.UnsetType = msgspec.UNSET,
    attributes: dict[str, AttributeValue] | msgspec.UnsetType = msgspec.UNSET,
    company_id: int | None | msgspec.UnsetType = msgspec.UNSET,
    lifecycle_stage: str | None | msgspec.UnsetType = msgspec.UNSET,
    owner_id: int | None | msgspec.UnsetType = msgspec.UNSET,
) -> Contact:
    """Change a contact's fields; ``actor`` None is the system.

    ``attributes`` is merged into the stored ones; a key set to ``None`` is removed;
    values of defined attributes are type-checked. A blank name clears it. An actor
    who may not see the contact gets 404; a change that changes nothing records nothing.
    """
    fields = ContactFields(name, attributes, company_id, lifecycle_stage, owner_id)
    async with services.transaction() as unit:
        contact = await load_for_change(unit.session, actor, contact_id)
        await record_update(unit, contact, await _apply(unit.session, contact, fields), actor)
        await unit.session.flush()
    return contact


async def record_update(unit: Unit, contact: Contact, changed: list[str], actor: Principal | None) -> None:
    """Timeline entry and ``contact.updated`` event for the fields that changed (none: nothing)."""
    if not changed:
        return
    now = utcnow()
    contact.updated_at = now
    actor_id = actor.user_id if actor is not None else None
    await append_timeline(
        unit.session, contact.id, "contact_updated", actor_user_id=actor_id, occurred_at=now, data={"fields": changed}
    )
    unit.emit(Event(ev.CONTACT_UPDATED, contact_id=contact.id, user_id=actor_id, data={"fields": changed}, occurred_at=now))


async def create_contact(
    services: Services,
    actor: Principal,
    fields: ContactFields,
    identities: Sequence[Identity] = (),
) -> Contact:
    """A new contact with its identities; 409 when an identity belongs to someone already.

    An agent who creates a contact owns it (unless an owner is given), so they see it.
    """
    if isinstance(fields.owner_id, msgspec.UnsetType) and actor.role is Role.AGENT:
        fields.owner_id = actor.user_id
    async with services.transaction() as unit:
        session = unit.session
        now = utcnow()
        contact = Contact(attributes={}, created_at=now, updated_at=now)
        session.add(contact)
        await session.flush()
        await _apply(session, contact, fields)
        for identity in dict.fromkeys(identities):
            await _link(unit, contact, identity, actor)
        unit.emit(Event(ev.CONTACT_CREATED, contact_id=contact.id, user_id=actor.user_id, occurred_at=now))
        await session.flush()
    return contact


async def _link(unit: Unit, contact: Contact, identity: Identity, actor: Principal | None) -> ContactIdentity:
    session = unit.session
    holder = await session.scalar(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.kind == identity.kind.value, ContactIdentity.address == identity.address
        )
    )
    if holder is not None:
        raise Conflict(
            f"this {identity.kind.value} belongs to contact {holder} already; merge the contacts instead",
            extra={"code": "identity_taken", "contact_id": holder},
        )
    row = ContactIdentity(contact_id=contact.id, kind=identity.kind.value, address=identity.address)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"this {identity.kind.value} was just linked to another contact") from None
    await append_timeline(
        session, contact.id, "identity_added", actor_user_id=actor.user_id if actor else None,
        data={"identity_id": row.id, "kind": row.kind},
    )
    return row


async def add_identity(services: Services, actor: Principal, contact_id: int, identity: Identity) -> ContactIdentity:
    """Link another email, phone or platform id to the contact; 409 when it is someone else's."""
    async with services.transaction() as unit:
        contact = await load_for_change(unit.session, actor, contact_id)
        row = await _link(unit, contact, identity, actor)
        await record_update(unit, contact, ["identities"], actor)
    return row


async def remove_identity(services: Services, actor: Principal, contact_id: int, identity_id: int) -> None:
    """Unlink an identity from the contact; its conversations keep their history."""
    async with services.transaction() as unit:
        contact = await load_for_change(unit.session, actor, contact_id)
        row = await unit.session.get(ContactIdentity, identity_id)
        if row is None or row.contact_id != contact.id:
            raise NotFound("no such identity on this contact")
        kind = row.kind
        await unit.session.delete(row)
        await append_timeline(
            unit.session, contact.id, "identity_removed", actor_user_id=actor.user_id, data={"kind": kind}
        )
        await record_update(unit, contact, ["identities"], actor)


def _merge(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_ATTRIBUTES:
        raise ValidationFailed(f"a contact holds at most {MAX_ATTRIBUTES} attributes")
    return merged
