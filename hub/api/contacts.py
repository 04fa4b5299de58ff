"""Contacts: search, create, read, change.

Agents see a contact when they may see one of its conversations or own it
(``hub.auth.policy.contact_scope``); any other id reads as 404.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from sqlalchemy import exists, false, or_, select

from hub.api import cursor
from hub.api.contact_views import (
    Attributes,
    ContactPage,
    ContactView,
    Id,
    LifecycleStage,
    Name,
    contact_views,
    load_contact,
)
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import (
    ID_SCHEMA,
    cursor_param,
    id_path_param,
    like_pattern,
    limit_param,
    path_id,
    query_choice,
    query_int,
    query_limit,
    query_text,
    single,
    storable,
)
from hub.api.segments import segment_condition, segment_param
from hub.api.spec import Param, operation
from hub.auth.policy import contact_scope
from hub.crm_link import identities as normalize
from hub.crm_link.annotations import normalize_tags, set_tags
from hub.crm_link.contacts import LIFECYCLE_STAGES, ContactFields, create_contact, update_contact
from hub.db.models import Contact, ContactIdentity, ContactTag, Tag
from hub.messages import Identity

routes = web.RouteTableDef()

MAX_QUERY = 200
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Phone = Annotated[str, msgspec.Meta(min_length=2, max_length=40)]
TagName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ContactPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change. ``attributes`` merges; an attribute set to null is removed; a blank name clears it."""

    name: Name | None | msgspec.UnsetType = msgspec.UNSET
    attributes: Attributes | msgspec.UnsetType = msgspec.UNSET
    company_id: Id | None | msgspec.UnsetType = msgspec.UNSET
    lifecycle_stage: LifecycleStage | None | msgspec.UnsetType = msgspec.UNSET
    owner_id: Id | None | msgspec.UnsetType = msgspec.UNSET


class ContactCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new contact. Phones without ``+`` need ``region`` (ISO 3166 code such as ``DE``)."""

    name: Name | None = None
    emails: Annotated[list[Email], msgspec.Meta(max_length=20)] = []
    phones: Annotated[list[Phone], msgspec.Meta(max_length=20)] = []
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    company_id: Id | None = None
    lifecycle_stage: LifecycleStage | None = None
    owner_id: Id | None | msgspec.UnsetType = msgspec.UNSET
    attributes: Attributes = {}
    tags: Annotated[list[TagName], msgspec.Meta(max_length=50)] = []


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
        Param("company", "query", ID_SCHEMA, "only contacts of this company"),
        Param("tag", "query", {"type": "string", "maxLength": 100}, "only contacts with this tag"),
        Param("lifecycle_stage", "query", {"type": "string", "enum": list(LIFECYCLE_STAGES)}, "only this stage"),
        Param("owner", "query", ID_SCHEMA, "only contacts owned by this user"),
        segment_param("contacts"),
        Param("include_merged", "query", {"type": "string", "enum": ["true", "false"]},
              "also list records merged into others (default false)"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401, 404),
)
@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    """Contacts matching the filters, newest first, one page."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    text = (query_text(request, "q", max_length=MAX_QUERY) or "").strip()
    company = query_int(request, "company")
    tag = query_text(request, "tag", max_length=100)
    stage = query_choice(request, "lifecycle_stage", LIFECYCLE_STAGES)
    owner = query_int(request, "owner")
    include_merged = query_choice(request, "include_merged", ("true", "false")) == "true"
    after = single(request, "cursor")
    in_segment = await segment_condition(request, Contact.id.expression)
    stmt = select(Contact).where(contact_scope(principal, Contact.id.expression))
    if in_segment is not None:
        stmt = stmt.where(in_segment)
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
    if company is not None:
        stmt = stmt.where(Contact.company_id == company)
    if tag is not None:
        tagged = (
            select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id == Contact.id, Tag.name == tag.strip().lower())
        )
        stmt = stmt.where(exists(tagged) if storable(tag) else false())
    if stage is not None:
        stmt = stmt.where(Contact.lifecycle_stage == stage)
    if owner is not None:
        stmt = stmt.where(Contact.owner_id == owner)
    if not include_merged:
        stmt = stmt.where(Contact.merged_into_id.is_(None))
    if after is not None:
        stmt = stmt.where(Contact.id < cursor.id_only(services.settings.secret_key, "contacts", after))
    stmt = stmt.order_by(Contact.id.desc()).limit(limit + 1)
    async with services.sessions() as session:
        contacts = list((await session.scalars(stmt)).all())
        items = await contact_views(session, contacts[:limit])
    next_cursor = cursor.next_by_id(services.settings.secret_key, "contacts", contacts, limit, lambda c: c.id)
    return json_response(ContactPage(items=items, next=next_cursor))


@operation(
    "POST",
    "/api/v1/contacts",
    summary="Create a contact with its emails, phones, company, attributes and tags",
    tag="contacts",
    request=ContactCreate,
    response=ContactView,
    status=201,
    errors=(400, 401, 409, 413, 422),
)
@routes.post("/api/v1/contacts")
async def post_contact(request: web.Request) -> web.Response:
    """201 with the contact; 409 (``identity_taken``) when an email or phone is someone else's."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    body = await read_json(request, ContactCreate)
    found: list[Identity] = [normalize.email(e) for e in body.emails]
    found += [normalize.phone(p, body.region) for p in body.phones]
    tags = normalize_tags(body.tags)
    fields = ContactFields(
        name=body.name,
        attributes=dict(body.attributes),
        company_id=body.company_id,
        lifecycle_stage=body.lifecycle_stage,
        owner_id=body.owner_id,
    )
    contact = await create_contact(services, principal, fields, found)
    if tags:
        await set_tags(services, principal, contact.id, tags)
    return json_response(await load_contact(services, principal, contact.id), status=201)


@operation(
    "GET",
    "/api/v1/contacts/{id}",
    summary="A contact with its attributes, tags and identities",
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
    summary="Change a contact's name, attributes, company, lifecycle stage or owner",
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
    await update_contact(
        services,
        contact_id,
        actor=principal,
        name=patch.name,
        attributes=patch.attributes if isinstance(patch.attributes, msgspec.UnsetType) else dict(patch.attributes),
        company_id=patch.company_id,
        lifecycle_stage=patch.lifecycle_stage,
        owner_id=patch.owner_id,
    )
    return json_response(await load_contact(services, principal, contact_id))
