"""Response shapes of the contact API and the queries that fill them (after the policy decided)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.conversation_views import IdentityView, identities_of
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.crm_link.annotations import tags_of
from hub.db.models import Contact
from hub.errors import NotFound
from hub.services import Services

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
NO_NUL = r"^[^\x00]*$"

AttributeKey = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
AttributeValue = Annotated[str, msgspec.Meta(max_length=2000, pattern=NO_NUL)] | int | float | bool | None
Attributes = Annotated[dict[AttributeKey, AttributeValue], msgspec.Meta(max_length=100)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PRINTABLE)]
LifecycleStage = Literal["lead", "prospect", "customer", "former_customer"]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class ContactView(msgspec.Struct):
    """A contact: name, company, stage, owner, custom attributes, tags and every identity it is reached by.

    ``merged_into_id`` set: this record was merged into that contact (which holds its data now).
    """

    id: int
    name: str | None
    company_id: int | None
    lifecycle_stage: str | None
    owner_id: int | None
    attributes: dict[str, Any]
    tags: list[str]
    identities: list[IdentityView]
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    restricted_at: datetime | None
    merged_into_id: int | None


class ContactPage(msgspec.Struct):
    items: list[ContactView]
    next: str | None


async def contact_views(session: AsyncSession, contacts: Sequence[Contact]) -> list[ContactView]:
    """Views of ``contacts`` (in their order) with identities and tags."""
    ids = {c.id for c in contacts}
    identities = await identities_of(session, ids)
    tags = await tags_of(session, list(ids))
    return [
        ContactView(
            id=c.id,
            name=c.name,
            company_id=c.company_id,
            lifecycle_stage=c.lifecycle_stage,
            owner_id=c.owner_id,
            attributes=dict(c.attributes or {}),
            tags=tags.get(c.id, []),
            identities=identities.get(c.id, []),
            created_at=c.created_at,
            updated_at=c.updated_at,
            erased_at=c.erased_at,
            restricted_at=c.restricted_at,
            merged_into_id=c.merged_into_id,
        )
        for c in contacts
    ]


async def load_contact(services: Services, principal: Principal, contact_id: int) -> ContactView:
    """The contact as ``principal`` may see it, or 404."""
    async with services.sessions() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.id == contact_id, contact_scope(principal, Contact.id.expression))
        )
        if contact is None:
            raise NotFound("no such contact")
        (view,) = await contact_views(session, [contact])
    return view
