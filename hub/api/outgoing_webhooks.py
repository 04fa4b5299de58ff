"""Outgoing webhooks over REST (admins): subscriptions, their delivery log, replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import func, select

from hub.api import cursor
from hub.api.contact_views import PRINTABLE
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import (
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_choice,
    query_limit,
    single,
)
from hub.api.spec import Param, operation
from hub.auth.principal import Principal
from hub.crm_link.connectors.webhooks import (
    create_subscription,
    delete_subscription,
    replay_delivery,
    update_subscription,
)
from hub.db.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from hub.errors import Forbidden, NotFound
from hub.services import Services

routes = web.RouteTableDef()

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000, pattern=r"^https?://[!-~]+$")]  # printable ASCII
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
STATES = ("pending", "done", "dead")


class WebhookBody(msgspec.Struct, forbid_unknown_fields=True):
    """A subscription; ``secret`` is generated unless given (at least 16 characters)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=PRINTABLE)]
    url: Url
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=100)]
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200, pattern=PRINTABLE)] | None = None


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=100)] | None = None
    active: bool | None = None


class WebhookView(msgspec.Struct):
    """A subscription; ``secret`` only in the answer to its creation."""

    id: int
    name: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    pending: int
    dead: int
    secret: str | None = None


class WebhookList(msgspec.Struct):
    items: list[WebhookView]


class AttemptView(msgspec.Struct):
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int
    replay: bool


class DeliveryView(msgspec.Struct):
    """One event for the subscription, with every try to deliver it."""

    id: int
    event_id: int
    event_type: str
    contact_id: int | None
    state: Literal["pending", "done", "dead"]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    tries: list[AttemptView]


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryView]
    next: str | None


WEBHOOK_ID = id_path_param(description="webhook id")


async def _admin(request: web.Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise Forbidden("only admins manage webhooks")
    return principal


@operation("GET", "/api/v1/webhooks", summary="Outgoing webhook subscriptions", tag="webhooks",
           response=WebhookList, errors=(401, 403))
@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    """Every subscription with its pending and dead deliveries."""
    await _admin(request)
    return await _list(request.app[SERVICES])


async def _list(services: Services) -> web.Response:
    async with services.sessions() as session:
        subscriptions = list((await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name))).all())
    return json_response(WebhookList(items=[await _view(services, s) for s in subscriptions]))


@operation("POST", "/api/v1/webhooks", summary="Subscribe a URL to events (signed, retried, logged)",
           tag="webhooks", request=WebhookBody, response=WebhookView, status=201,
           errors=(400, 401, 403, 409, 413, 422))
@routes.post("/api/v1/webhooks")
async def post_webhook(request: web.Request) -> web.Response:
    """422 for a URL hub may not call (private, loopback, link-local unless allowed in config)."""
    principal = await _admin(request)
    body = await read_json(request, WebhookBody)
    services = request.app[SERVICES]
    subscription = await create_subscription(services, principal, body.name, body.url, body.event_types, body.secret)
    view = await _view(services, subscription)
    view.secret = subscription.secret
    return json_response(view, status=201)


@operation("PATCH", "/api/v1/webhooks/{id}", summary="Change a webhook's URL, events or whether it is active",
           tag="webhooks", request=WebhookPatch, response=WebhookView, params=(WEBHOOK_ID,),
           errors=(400, 401, 403, 404, 413, 422))
@routes.patch("/api/v1/webhooks/{id}")
async def patch_webhook(request: web.Request) -> web.Response:
    """A deactivated webhook gets no new deliveries; pending ones are still tried."""
    principal = await _admin(request)
    webhook_id = path_id(request)
    body = await read_json(request, WebhookPatch)
    services = request.app[SERVICES]
    subscription = await update_subscription(
        services, principal, webhook_id, url=body.url, event_types=body.event_types, active=body.active
    )
    return json_response(await _view(services, subscription))


@operation("DELETE", "/api/v1/webhooks/{id}", summary="Delete a webhook and its delivery log", tag="webhooks",
           response=WebhookList, params=(WEBHOOK_ID,), errors=(401, 403, 404))
@routes.delete("/api/v1/webhooks/{id}")
async def remove_webhook(request: web.Request) -> web.Response:
    """The remaining subscriptions."""
    principal = await _admin(request)
    await delete_subscription(request.app[SERVICES], principal, path_id(request))
    return await _list(request.app[SERVICES])


@operation(
    "GET",
    "/api/v1/webhooks/{id}/deliveries",
    summary="The delivery log of a webhook, newest first",
    tag="webhooks",
    response=DeliveryPage,
    params=(WEBHOOK_ID, Param("state", "query", {"type": "string", "enum": list(STATES)}, "only this state"),
            limit_param(), cursor_param()),
    errors=(400, 401, 403, 404),
)
@routes.get("/api/v1/webhooks/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Deliveries with their tries."""
    await _admin(request)
    webhook_id = path_id(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    state = query_choice(request, "state", STATES)
    after = single(request, "cursor")
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id)
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    if after is not None:
        stmt = stmt.where(WebhookDelivery.id < cursor.id_only(services.settings.secret_key, "deliveries", after))
    async with services.sessions() as session:
        if await session.get(WebhookSubscription, webhook_id) is None:
            raise NotFound("no such webhook")
        deliveries = list((await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).all())
        items = await _deliveries(services, deliveries[:limit])
    next_cursor = cursor.next_by_id(services.settings.secret_key, "deliveries", deliveries, limit, lambda d: d.id)
    return json_response(DeliveryPage(items=items, next=next_cursor))


@operation(
    "POST",
    "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
    summary="Send a delivery again",
    tag="webhooks",
    response=DeliveryView,
    params=(WEBHOOK_ID, id_path_param("delivery_id", "delivery id")),
    errors=(401, 403, 404, 409),
)
@routes.post("/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay")
async def post_replay(request: web.Request) -> web.Response:
    """409 while the delivery is still pending."""
    principal = await _admin(request)
    services = request.app[SERVICES]
    delivery = await replay_delivery(services, principal, path_id(request), path_id(request, "delivery_id"))
    (view,) = await _deliveries(services, [delivery])
    return json_response(view)


async def _view(services: Services, subscription: WebhookSubscription) -> WebhookView:
    async with services.sessions() as session:
        counts = dict(
            (
                await session.execute(
                    select(WebhookDelivery.state, func.count())
                    .where(WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.state != "done")
                    .group_by(WebhookDelivery.state)
                )
            ).all()
        )
    return WebhookView(
        id=subscription.id,
        name=subscription.name,
        url=subscription.url,
        event_types=list((subscription.event_types or {}).get("types", [])),
        active=subscription.active,
        created_at=subscription.created_at,
        pending=int(counts.get("pending", 0)),
        dead=int(counts.get("dead", 0)),
    )


async def _deliveries(services: Services, deliveries: list[WebhookDelivery]) -> list[DeliveryView]:
    async with services.sessions() as session:
        tries: dict[int, list[AttemptView]] = {}
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(WebhookAttempt.id)
        )
        for attempt in rows:
            tries.setdefault(attempt.delivery_id, []).append(
                AttemptView(attempt.at, attempt.status, attempt.error, attempt.duration_ms, attempt.replay)
            )
    return [
        DeliveryView(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            contact_id=d.contact_id,
            state=d.state,  # type: ignore[arg-type]
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            tries=tries.get(d.id, []),
        )
        for d in deliveries
    ]
