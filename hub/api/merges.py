"""Merging contacts, undoing merges, and duplicate suggestions over REST."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web
from sqlalchemy import or_, select

from hub.api.contact_views import ContactView, contact_views, load_contact
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import MAX_ID, id_path_param, path_id
from hub.api.spec import operation
from hub.auth.principal import Principal
from hub.crm_link.duplicates import dismiss_duplicate, suggest_duplicates
from hub.crm_link.merge import merge_contacts, unmerge
from hub.db.models import Contact, ContactMerge
from hub.services import Services

routes = web.RouteTableDef()

CONTACT_ID = id_path_param(description="contact id")


class MergeBody(msgspec.Struct, forbid_unknown_fields=True):
    """The contact to merge into this one (it is hidden afterwards; undo restores it)."""

    other_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class MergeView(msgspec.Struct):
    """A merge; ``moved`` counts the rows it moved per table."""

    id: int
    survivor_id: int
    merged_id: int
    merged_at: datetime
    merged_by: int | None
    unmerged_at: datetime | None
    unmerged_by: int | None
    moved: dict[str, int]


class MergeList(msgspec.Struct):
    items: list[MergeView]


class DuplicateView(msgspec.Struct):
    """A contact that may be the same person; ``reasons`` from same_name_and_company,
    similar_email, same_phone_other_format."""

    contact: ContactView
    reasons: list[str]


class DuplicateList(msgspec.Struct):
    items: list[DuplicateView]


@operation(
    "POST",
    "/api/v1/contacts/{id}/merge",
    summary="Merge another contact into this one (undoable)",
    tag="contacts",
    request=MergeBody,
    response=MergeView,
    params=(CONTACT_ID,),
    errors=(400, 401, 404, 409, 413, 422),
)
@routes.post("/api/v1/contacts/{id}/merge")
async def post_merge(request: web.Request) -> web.Response:
    """This contact survives; 409 when either was erased, merged already or is restricted."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    body = await read_json(request, MergeBody)
    return json_response(_view(await merge_contacts(services, principal, contact_id, body.other_id)))


@operation(
    "GET",
    "/api/v1/contacts/{id}/merges",
    summary="The merges this contact took part in, newest first",
    tag="contacts",
    response=MergeList,
    params=(CONTACT_ID,),
    errors=(401, 404),
)
@routes.get("/api/v1/contacts/{id}/merges")
async def list_merges(request: web.Request) -> web.Response:
    """Merges into this contact and of this contact into others."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    services = request.app[SERVICES]
    await load_contact(services, principal, contact_id)
    async with services.sessions() as session:
        merges = (
            await session.scalars(
                select(ContactMerge)
                .where(or_(ContactMerge.survivor_id == contact_id, ContactMerge.merged_id == contact_id))
                .order_by(ContactMerge.id.desc())
            )
        ).all()
    return json_response(MergeList(items=[_view(m) for m in merges]))


@operation(
    "POST",
    "/api/v1/merges/{id}/undo",
    summary="Undo a merge: both contacts as they were, with what arrived since",
    tag="contacts",
    response=MergeView,
    params=(id_path_param(description="merge id"),),
    errors=(401, 404, 409),
)
@routes.post("/api/v1/merges/{id}/undo")
async def post_undo(request: web.Request) -> web.Response:
    """404 unless the caller sees both contacts; 409 when undone already or merged further."""
    principal = await authenticate(request)
    merge_id = path_id(request)
    return json_response(_view(await unmerge(request.app[SERVICES], principal, merge_id)))


@operation(
    "GET",
    "/api/v1/contacts/{id}/duplicates",
    summary="Contacts that may be the same person, for a human to merge or dismiss",
    tag="contacts",
    response=DuplicateList,
    params=(CONTACT_ID,),
    errors=(401, 404),
)
@routes.get("/api/v1/contacts/{id}/duplicates")
async def list_duplicates(request: web.Request) -> web.Response:
    """Suggestions among the contacts the caller may see."""
    principal = await authenticate(request)
    return await _duplicates(request.app[SERVICES], principal, path_id(request))


async def _duplicates(services: Services, principal: Principal, contact_id: int) -> web.Response:
    suggestions = await suggest_duplicates(services, principal, contact_id)
    async with services.sessions() as session:
        contacts = {
            c.id: c
            for c in (
                await session.scalars(select(Contact).where(Contact.id.in_([s.contact_id for s in suggestions])))
            ).all()
        }
        views = {v.id: v for v in await contact_views(session, list(contacts.values()))}
    return json_response(
        DuplicateList(items=[DuplicateView(views[s.contact_id], s.reasons) for s in suggestions if s.contact_id in views])
    )


@operation(
    "POST",
    "/api/v1/contacts/{id}/duplicates/{other_id}/dismiss",
    summary="Record that two contacts are different people (no more suggestion)",
    tag="contacts",
    response=DuplicateList,
    params=(CONTACT_ID, id_path_param("other_id", "the other contact's id")),
    errors=(401, 404, 422),
)
@routes.post("/api/v1/contacts/{id}/duplicates/{other_id}/dismiss")
async def post_dismiss(request: web.Request) -> web.Response:
    """The remaining suggestions."""
    principal = await authenticate(request)
    contact_id = path_id(request)
    other_id = path_id(request, "other_id")
    await dismiss_duplicate(request.app[SERVICES], principal, contact_id, other_id)
    return await _duplicates(request.app[SERVICES], principal, contact_id)


def _view(merge: ContactMerge) -> MergeView:
    rows = merge.moved.get("rows", {})
    copied = merge.moved.get("copied", {})
    return MergeView(
        id=merge.id,
        survivor_id=merge.survivor_id,
        merged_id=merge.merged_id,
        merged_at=merge.merged_at,
        merged_by=merge.merged_by,
        unmerged_at=merge.unmerged_at,
        unmerged_by=merge.unmerged_by,
        moved={**{t: len(ids) for t, ids in rows.items()}, **{t: len(keys) for t, keys in copied.items()}},
    )
