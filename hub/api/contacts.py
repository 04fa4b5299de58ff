"""Contacts: search, read, change, and the interaction timeline.

Agents see a contact when they may see one of its conversations
(``hub.auth.policy.contact_scope``); any other id reads as 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web
from sqlalchemy import exists, false, or_, select

from hub.api import cursor
from hub.api.conversation_views import IdentityView, UserRef, identities_of
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    like_pattern,
    limit_param,
    path_id,
    query_limit,
    query_text,
    single,
    storable,
)
from hub.api.spec import Param, operation
from hub.auth.policy import contact_scope
from hub.auth.principal import Principal
from hub.crm_link.contacts import update_contact
from hub.db.models import Channel, Contact, ContactIdentity, TimelineEntry, User
from hub.errors import NotFound
from hub.services import Services

routes = web.RouteTableDef()

MAX_QUERY = 200
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"

AttributeKey = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_PRINTABLE)]
AttributeValue = (
    Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]
    | int
    | float
    | bool
    | None
)


class ContactView(msgspec.Struct):
    """A contact: name, custom attributes and every identity it is reached by."""

    id: int
    name: str | None
    company_id: int | None
    attributes: dict[str, Any]
    identities: list[IdentityView]
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    restricted_at: datetime | None


class ContactPage(msgspec.Struct):
    items: list[ContactView]
    next: str | None


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change. ``attributes`` merges; an attribute set to null is removed; a blank name clears it."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_PRINTABLE)] | None | msgspec.UnsetType = (
        msgspec.UNSET
    )
    attributes: Annotated[dict[AttributeKey, AttributeValue], msgspec.Meta(max_length=100)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class TimelineEntryView(msgspec.Struct):
    """One interaction on the contact's record; ``data`` holds ids and states, no content."""

    id: int
    kind: str
    occurred_at: datetime
    conversation_id: int | None
    message_id: int | None
    channel: str | None
    actor: UserRef | None
    data: dict[str, Any]


class TimelinePage(msgspec.Struct):
    items: list[TimelineEntryView]
    next: str | None


@operation(
    "GET",
    "/api/v1/contacts",
    summary="Search the contacts the caller may see, newest first",
    tag="contacts",
    response=ContactPage,
    params=(
        Param(
            "q",
            "query",
            {"type": "string", "maxLength": MAX_QUERY},
            "text to find in the name or any identity address (case-insensitive substring)",
        ),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401),
)
@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    """Contacts matching ``q`` by name or address, newest first, one page."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    text = (query_text(request, "q", max_length=MAX_QUERY) or "").strip()
    after = single(request, "cursor")
    stmt = select(Contact).where(contact_scope(principal, Contact.id.expression))
    if text:
        if storable(text):
            pattern = like_pattern(text)
            by_address = exists(
                select(ContactIdentity.id).where(
                    ContactIdentity.contact_id == Contact.id, ContactIdentity.address.ilike(pattern, escape="\\")
                )
            )
            stmt = stmt.where(or_(Contact.name.ilike(pattern, escape="\\"), by_address))
        else:
            stmt = stmt.where(false())
    if after is not None:
        stmt = stmt.where(Contact.id < cursor.id_only(services.settings.secret_key, "contacts", after))
    stmt = stmt.order_by(Contact.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        contacts = list((await session.scalars(stmt)).all())
        identities = await identities_of(session, {c.id for c in contacts[:limit]})
    items = [_view(c, identities.get(c.id, [])) for c in contacts[:limit]]
    next_cursor = cursor.next_by_id(services.settings.secret_key, "contacts", contacts, limit, lambda c: c.id)
    return json_response(ContactPage(items=items, next=next_cursor))


@operation(
    "GET",
    "/api/v1/contacts/{id}",
    summary="A contact with its attributes and identities",
    tag="contacts",
    response=ContactView,
    params=(id_path_param(description="contact id"),),
    errors=(401, 404),
)
@routes.get("/api/v1/contacts/{id}")
async def get_contact(request: web.Request) -> web.Response:
    """One contact the caller may see, else 404."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    return json_response(await load_contact(request.app[SERVICES], principal, contact_id))


@operation(
    "PATCH",
    "/api/v1/contacts/{id}",
    summary="Change a contact's name or attributes",
    tag="contacts",
    request=ContactPatch,
    response=ContactView,
    params=(id_path_param(description="contact id"),),
    errors=(400, 401, 403, 404, 409, 413, 422),
)
@routes.patch("/api/v1/contacts/{id}")
async def patch_contact(request: web.Request) -> web.Response:
    """Apply the patch in one transaction (timeline entry and ``contact.updated`` event included)."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)  # 404 before a body is even read
    patch = await read_json(request, ContactPatch)
    await update_contact(services, contact_id, actor=principal, name=patch.name, attributes=patch.attributes)
    return json_response(await load_contact(services, principal, contact_id))


@operation(
    "GET",
    "/api/v1/contacts/{id}/timeline",
    summary="Every interaction with the contact, newest first",
    tag="contacts",
    response=TimelinePage,
    params=(
        id_path_param(description="contact id"),
        Param("kind", "query", {"type": "string", "maxLength": 40}, "only entries of this kind (docs/crm.md)"),
        Param("channel", "query", {"type": "string", "maxLength": 100}, "only entries on this channel (its name)"),
        Param("channel_type", "query", {"type": "string", "maxLength": 32}, "only entries on channels of this type"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/contacts/{id}/timeline")
async def get_timeline(request: web.Request) -> web.Response:
    """The contact's timeline entries, newest first, one page."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    after = single(request, "cursor")
    kind = query_text(request, "kind", max_length=40)
    channel_name = query_text(request, "channel", max_length=100)
    channel_type = query_text(request, "channel_type", max_length=32)
    await load_contact(services, principal, contact_id)
    stmt = (
        select(TimelineEntry, Channel.name, User.name)
        .outerjoin(Channel, Channel.id == TimelineEntry.channel_id)
        .outerjoin(User, User.id == TimelineEntry.actor_user_id)
        .where(TimelineEntry.contact_id == contact_id)
    )
    for column, wanted in ((TimelineEntry.kind, kind), (Channel.name, channel_name), (Channel.type, channel_type)):
        if wanted is not None:
            stmt = stmt.where(column == wanted if storable(wanted) else false())
    if after is not None:
        stmt = stmt.where(TimelineEntry.id < cursor.id_only(services.settings.secret_key, "timeline", after))
    stmt = stmt.order_by(TimelineEntry.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        rows = (await session.execute(stmt)).all()
    items = [
        TimelineEntryView(
            id=entry.id,
            kind=entry.kind,
            occurred_at=entry.occurred_at,
            conversation_id=entry.conversation_id,
            message_id=entry.message_id,
            channel=channel,
            actor=UserRef(entry.actor_user_id, actor or "") if entry.actor_user_id is not None else None,
            data=entry.data or {},
        )
        for entry, channel, actor in rows[:limit]
    ]
    next_cursor = cursor.next_by_id(services.settings.secret_key, "timeline", rows, limit, lambda r: r[0].id)
    return json_response(TimelinePage(items=items, next=next_cursor))


async def load_contact(services: Services, principal: Principal, contact_id: int) -> ContactView:
    """The contact as ``principal`` may see it, or 404."""
    async with services.sessions() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.id == contact_id, contact_scope(principal, Contact.id.expression))
        )
        if contact is None:
            raise NotFound("no such contact")
        identities = await identities_of(session, {contact.id})
    return _view(contact, identities.get(contact.id, []))


def _view(contact: Contact, identities: list[IdentityView]) -> ContactView:
    return ContactView(
        id=contact.id,
        name=contact.name,
        company_id=contact.company_id,
        attributes=dict(contact.attributes or {}),
        identities=identities,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        erased_at=contact.erased_at,
        restricted_at=contact.restricted_at,
    )
