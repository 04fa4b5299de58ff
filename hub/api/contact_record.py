"""A contact's identities, tags and notes over REST (whoever may see the contact)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api.contact_views import ContactView, load_contact
from hub.api.conversation_views import IdentityView, UserRef
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.crm_link import identities as normalize
from hub.crm_link.annotations import MAX_NOTE_LENGTH, add_note, delete_note, set_tags
from hub.crm_link.contacts import add_identity, remove_identity
from hub.db.models import ContactNote, User
from hub.errors import ValidationFailed
from hub.messages import Identity
from hub.services import Services

routes = web.RouteTableDef()

CONTACT_ID = id_path_param(description="contact id")


class IdentityBody(msgspec.Struct, forbid_unknown_fields=True):
    """An email, a phone (``region`` for numbers without ``+``) or a platform id (``namespace:user``)."""

    kind: Literal["email", "phone", "platform"]
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None


class TagsBody(msgspec.Struct, forbid_unknown_fields=True):
    """The contact's tags, all of them (an empty list removes every tag)."""

    tags: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=50)]


class NoteBody(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE_LENGTH)]


class NoteView(msgspec.Struct):
    id: int
    body: str
    author: UserRef | None
    created_at: datetime


class NoteList(msgspec.Struct):
    items: list[NoteView]


def _identity(body: IdentityBody) -> Identity:
    if body.kind == "email":
        return normalize.email(body.address)
    if body.kind == "phone":
        return normalize.phone(body.address, body.region)
    namespace, colon, user_id = body.address.partition(":")
    if not colon:
        raise ValidationFailed("a platform identity is written 'namespace:user id'")
    return normalize.platform(namespace, user_id)


@operation(
    "POST",
    "/api/v1/contacts/{id}/identities",
    summary="Link another email, phone or platform id to the contact",
    tag="contacts",
    request=IdentityBody,
    response=IdentityView,
    status=201,
    params=(CONTACT_ID,),
    errors=(400, 401, 404, 409, 413, 422),
)
@routes.post("/api/v1/contacts/{id}/identities")
async def post_identity(request: web.Request) -> web.Response:
    """201 with the identity; 409 (``identity_taken``, with ``contact_id``) when it is someone else's."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    identity = _identity(await read_json(request, IdentityBody))
    row = await add_identity(services, principal, contact_id, identity)
    return json_response(IdentityView(row.id, row.kind, row.address), status=201)


@operation(
    "DELETE",
    "/api/v1/contacts/{id}/identities/{identity_id}",
    summary="Unlink an identity from the contact",
    tag="contacts",
    response=ContactView,
    params=(CONTACT_ID, id_path_param("identity_id", "identity id")),
    errors=(401, 404, 409),
)
@routes.delete("/api/v1/contacts/{id}/identities/{identity_id}")
async def delete_identity(request: web.Request) -> web.Response:
    """The contact without the identity."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    identity_id = path_id(request, "identity_id")
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    await remove_identity(services, principal, contact_id, identity_id)
    return json_response(await load_contact(services, principal, contact_id))


@operation(
    "PUT",
    "/api/v1/contacts/{id}/tags",
    summary="Set the contact's tags",
    tag="contacts",
    request=TagsBody,
    response=ContactView,
    params=(CONTACT_ID,),
    errors=(400, 401, 404, 409, 413, 422),
)
@routes.put("/api/v1/contacts/{id}/tags")
async def put_tags(request: web.Request) -> web.Response:
    """Tags are trimmed and lower-cased; each added or removed one is on the timeline."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    body = await read_json(request, TagsBody)
    await set_tags(services, principal, contact_id, body.tags)
    return json_response(await load_contact(services, principal, contact_id))


@operation(
    "GET",
    "/api/v1/contacts/{id}/notes",
    summary="Notes staff wrote about the contact, newest first",
    tag="contacts",
    response=NoteList,
    params=(CONTACT_ID,),
    errors=(401, 404),
)
@routes.get("/api/v1/contacts/{id}/notes")
async def list_notes(request: web.Request) -> web.Response:
    """Every note on the contact."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    return await _notes(services, contact_id)


async def _notes(services: Services, contact_id: int) -> web.Response:
    async with services.sessions() as session:
        rows = await session.execute(
            select(ContactNote, User.name)
            .outerjoin(User, User.id == ContactNote.author_user_id)
            .where(ContactNote.contact_id == contact_id)
            .order_by(ContactNote.id.desc())
        )
        items = [_note(note, author) for note, author in rows]
    return json_response(NoteList(items=items))


@operation(
    "POST",
    "/api/v1/contacts/{id}/notes",
    summary="Write a note about the contact",
    tag="contacts",
    request=NoteBody,
    response=NoteView,
    status=201,
    params=(CONTACT_ID,),
    errors=(400, 401, 404, 409, 413, 422),
)
@routes.post("/api/v1/contacts/{id}/notes")
async def post_note(request: web.Request) -> web.Response:
    """201 with the note (a ``contact_note`` timeline entry)."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    body = await read_json(request, NoteBody)
    note = await add_note(services, principal, contact_id, body.body)
    return json_response(_note(note, principal.name), status=201)


@operation(
    "DELETE",
    "/api/v1/contacts/{id}/notes/{note_id}",
    summary="Delete a note (its author, supervisors, admins)",
    tag="contacts",
    response=NoteList,
    params=(CONTACT_ID, id_path_param("note_id", "note id")),
    errors=(401, 403, 404, 409),
)
@routes.delete("/api/v1/contacts/{id}/notes/{note_id}")
async def remove_note(request: web.Request) -> web.Response:
    """The remaining notes."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    note_id = path_id(request, "note_id")
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    await delete_note(services, principal, contact_id, note_id)
    return await _notes(services, contact_id)


def _note(note: ContactNote, author: str | None) -> NoteView:
    return NoteView(
        id=note.id,
        body=note.body,
        author=UserRef(note.author_user_id, author or "") if note.author_user_id is not None else None,
        created_at=note.created_at,
    )
