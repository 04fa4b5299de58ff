"""Actions on contacts: each change is one transaction with its timeline entry and event."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select

from hub import events as ev
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.crm_link.timeline import append_timeline
from hub.db.models import Contact, utcnow
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event
from hub.services import Services

MAX_ATTRIBUTES = 200

AttributeValue = str | int | float | bool | None


async def update_contact(
    services: Services,
    contact_id: int,
    *,
    actor: Principal | None,
    name: str | None | msgspec.UnsetType = msgspec.UNSET,
    attributes: dict[str, AttributeValue] | msgspec.UnsetType = msgspec.UNSET,
) -> Contact:
    """Change a contact's name and/or attributes; ``actor`` None is the system.

    ``attributes`` is merged into the stored ones; a key set to ``None`` is removed.
    A blank name clears it. An actor who may not see the contact gets 404; a
    change that changes nothing records nothing.
    """
    async with services.transaction() as unit:
        stmt = select(Contact).where(Contact.id == contact_id).with_for_update()
        if actor is not None:
            stmt = stmt.where(contact_scope(actor, Contact.id.expression))
        contact = await unit.session.scalar(stmt)
        if contact is None:
            raise NotFound("no such contact")
        if contact.erased_at is not None:
            raise Conflict("the contact's personal data was erased; it cannot be changed")
        changed: list[str] = []
        if not isinstance(name, msgspec.UnsetType):
            new_name = (name or "").strip() or None
            if new_name != contact.name:
                contact.name = new_name
                changed.append("name")
        if not isinstance(attributes, msgspec.UnsetType):
            merged = _merge(contact.attributes or {}, attributes)
            if merged != (contact.attributes or {}):
                contact.attributes = merged
                changed.append("attributes")
        if changed:
            now = utcnow()
            contact.updated_at = now
            actor_id = actor.user_id if actor is not None else None
            await append_timeline(
                unit.session, contact.id, "contact_updated", actor_user_id=actor_id, occurred_at=now,
                data={"fields": changed},
            )
            unit.emit(
                Event(
                    ev.CONTACT_UPDATED,
                    contact_id=contact.id,
                    user_id=actor_id,
                    data={"fields": changed},
                    occurred_at=now,
                )
            )
        await unit.session.flush()
    return contact


def _merge(stored: dict[str, Any], patch: dict[str, AttributeValue]) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_ATTRIBUTES:
        raise ValidationFailed(f"a contact holds at most {MAX_ATTRIBUTES} attributes")
    return merged
