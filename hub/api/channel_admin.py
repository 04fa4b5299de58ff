"""Channels for supervisors and admins: live status, and the quarantine of unreadable input.

Status comes from the database (``channel_state``), written by whichever hub process
runs the channel's long-lived connection, so every process answers the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import func, select

from hub.api.channel_activity import ChannelActivity, channel_activity
from hub.api.conversations import content_disposition
from hub.api.guard import authenticate
from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, INBOX, SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_choice,
    query_int,
    query_limit,
)
from hub.api.spec import Param, operation
from hub.auth.principal import Principal
from hub.channels.base import ChannelAdapter
from hub.db.models import ChannelState, QuarantinedItem
from hub.errors import Forbidden, NotFound
from hub.inbox import quarantine
from hub.services import Services

routes = web.RouteTableDef()

STATES = ("open", "imported", "discarded")
NAME = Param("name", "path", {"type": "string", "maxLength": 100}, "the channel's name", required=True)


class ChannelView(msgspec.Struct):
    """A configured channel and what it reports about itself."""

    name: str
    type: str
    queue: str | None
    can_send: bool
    status: dict[str, Any]
    quarantined: int
    activity: ChannelActivity


class ChannelList(msgspec.Struct):
    items: list[ChannelView]
    next: str | None = None


class QuarantinedView(msgspec.Struct):
    """An inbound item that could not become a message; ``raw`` downloads what arrived."""

    id: int
    channel: str
    reason: str
    detail: str
    source: str | None
    size: int
    sender: str | None
    subject: str | None
    state: str
    message_id: int | None
    has_raw: bool
    created_at: datetime
    updated_at: datetime


class QuarantinePage(msgspec.Struct):
    items: list[QuarantinedView]
    next: str | None


class RetryOutcome(msgspec.Struct):
    id: int
    state: str
    message_id: int | None
    duplicate: bool
    reports: int


def _staff(principal: Principal) -> None:
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins see channel administration")


def _adapter(request: web.Request) -> ChannelAdapter:
    adapter = request.app[ADAPTERS].get(request.match_info["name"])
    if adapter is None:
        raise NotFound("no such channel")
    return adapter


async def _views(services: Services, adapters: dict[str, ChannelAdapter], names: list[str]) -> list[ChannelView]:
    ids = {name: services.endpoint(name).channel_id for name in names}
    async with services.sessions() as session:
        states = (
            await session.execute(
                select(ChannelState.channel_id, ChannelState.key, ChannelState.data).where(
                    ChannelState.channel_id.in_(list(ids.values())),
                    ChannelState.key.in_(("status", "outbound_status")),
                )
            )
        ).all()
        counts = dict(
            (
                await session.execute(
                    select(QuarantinedItem.channel_id, func.count())
                    .where(QuarantinedItem.channel_id.in_(list(ids.values())), QuarantinedItem.state == "open")
                    .group_by(QuarantinedItem.channel_id)
                )
            ).all()
        )
        activity = await channel_activity(session, list(ids.values()))
    stored: dict[int, dict[str, Any]] = {}
    for channel_id, key, data in states:
        stored.setdefault(channel_id, {})[key] = data
    queue_names = {qid: name for name, qid in services.queues.items()}
    views = []
    for name in names:
        adapter = adapters[name]
        endpoint = services.endpoint(name)
        saved = stored.get(endpoint.channel_id, {})
        status: dict[str, Any] = dict(saved.get("status") or adapter.status())
        if "outbound_status" in saved:
            status["outbound"] = saved["outbound_status"]
        views.append(
            ChannelView(
                name=name,
                type=adapter.type,
                queue=queue_names.get(endpoint.queue_id) if endpoint.queue_id else None,
                can_send=adapter.can_send,
                status=status,
                quarantined=int(counts.get(endpoint.channel_id, 0)),
                activity=activity[endpoint.channel_id],
            )
        )
    return views


@operation(
    "GET",
    "/api/v1/channels",
    summary="Configured channels with their live status (supervisors and admins)",
    tag="channels",
    response=ChannelList,
    errors=(401, 403),
)
@routes.get("/api/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    """Every configured channel: type, queue, whether it can send, status, open quarantine count."""
    _staff(await authenticate(request))
    adapters = request.app[ADAPTERS]
    views = await _views(request.app[SERVICES], adapters, sorted(adapters))
    return json_response(ChannelList(items=views))


@operation(
    "GET",
    "/api/v1/channels/{name}",
    summary="One channel with its live status (supervisors and admins)",
    tag="channels",
    response=ChannelView,
    params=(NAME,),
    errors=(401, 403, 404),
)
@routes.get("/api/v1/channels/{name}")
async def get_channel(request: web.Request) -> web.Response:
    _staff(await authenticate(request))
    adapter = _adapter(request)
    (view,) = await _views(request.app[SERVICES], request.app[ADAPTERS], [adapter.name])
    return json_response(view)


def _item_view(item: QuarantinedItem, channel: str) -> QuarantinedView:
    return QuarantinedView(
        id=item.id,
        channel=channel,
        reason=item.reason,
        detail=item.detail,
        source=item.source,
        size=item.size,
        sender=item.sender,
        subject=item.subject,
        state=item.state,
        message_id=item.message_id,
        has_raw=item.blob_sha256 is not None,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


@operation(
    "GET",
    "/api/v1/channels/{name}/quarantine",
    summary="Inbound items the channel could not import, newest first (supervisors and admins)",
    tag="channels",
    response=QuarantinePage,
    params=(
        NAME,
        Param("state", "query", {"type": "string", "enum": list(STATES)}, "only items in this state"),
        limit_param(),
        cursor_param(),
    ),
    errors=(400, 401, 403, 404),
)
@routes.get("/api/v1/channels/{name}/quarantine")
async def list_quarantine(request: web.Request) -> web.Response:
    _staff(await authenticate(request))
    adapter = _adapter(request)
    services = request.app[SERVICES]
    state = query_choice(request, "state", STATES)
    limit = query_limit(request)
    before = query_int(request, "cursor")
    stmt = select(QuarantinedItem).where(QuarantinedItem.channel_id == services.endpoint(adapter.name).channel_id)
    if state is not None:
        stmt = stmt.where(QuarantinedItem.state == state)
    if before is not None:
        stmt = stmt.where(QuarantinedItem.id < before)
    async with services.sessions() as session:
        items = list((await session.scalars(stmt.order_by(QuarantinedItem.id.desc()).limit(limit + 1))).all())
    more = len(items) > limit
    items = items[:limit]
    return json_response(
        QuarantinePage(
            items=[_item_view(item, adapter.name) for item in items],
            next=str(items[-1].id) if more and items else None,
        )
    )


@operation(
    "GET",
    "/api/v1/channels/{name}/quarantine/{id}/raw",
    summary="Download a quarantined item exactly as it arrived (supervisors and admins)",
    tag="channels",
    response=bytes,
    params=(NAME, id_path_param(description="quarantine id")),
    errors=(401, 403, 404),
)
@routes.get("/api/v1/channels/{name}/quarantine/{id}/raw")
async def download_quarantined(request: web.Request) -> web.Response:
    _staff(await authenticate(request))
    adapter = _adapter(request)
    services = request.app[SERVICES]
    item_id = path_id(request)
    async with services.sessions() as session:
        item = await session.get(QuarantinedItem, item_id)
    if item is None or item.channel_id != services.endpoint(adapter.name).channel_id:
        raise NotFound("no such quarantined item")
    if item.blob_sha256 is None:
        raise NotFound("the raw content of this item is not kept")
    try:
        content = await services.blobs.get(item.blob_sha256)
    except FileNotFoundError:
        raise NotFound("the raw content of this item is no longer stored") from None
    return web.Response(
        body=content,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(f"quarantine-{item.id}.eml"),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@operation(
    "POST",
    "/api/v1/channels/{name}/quarantine/{id}/retry",
    summary="Parse a quarantined item again and import it if that works now",
    tag="channels",
    response=RetryOutcome,
    params=(NAME, id_path_param(description="quarantine id")),
    errors=(401, 403, 404, 409, 422),
)
@routes.post("/api/v1/channels/{name}/quarantine/{id}/retry")
async def retry_quarantined(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    _staff(principal)
    adapter = _adapter(request)
    result = await quarantine.retry(
        request.app[SERVICES], request.app[INBOX], adapter, principal, path_id(request)
    )
    return json_response(
        RetryOutcome(result.item_id, "imported", result.message_id, result.duplicate, result.reports)
    )


@operation(
    "DELETE",
    "/api/v1/channels/{name}/quarantine/{id}",
    summary="Discard a quarantined item and delete its raw content",
    tag="channels",
    status=204,
    params=(NAME, id_path_param(description="quarantine id")),
    errors=(401, 403, 404, 409),
)
@routes.delete("/api/v1/channels/{name}/quarantine/{id}")
async def discard_quarantined(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    _staff(principal)
    adapter = _adapter(request)
    await quarantine.discard(request.app[SERVICES], adapter.name, principal, path_id(request))
    return web.Response(status=204)
