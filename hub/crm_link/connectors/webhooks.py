"""Outgoing webhooks: subscriptions, the connector that turns events into deliveries, and sending.

Each delivery is a POST of ``{"delivery_id", "event": {...}}`` (the event as on ``/ws``:
ids and states, no personal data) to the subscription's URL, signed like the API
channel's callbacks (docs/crm.md, "Outgoing webhooks"): ``X-Hub-Timestamp`` (Unix seconds) and
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``, plus
``X-Hub-Event`` and ``X-Hub-Delivery``. A 2xx answer delivers it; 408, 425, 429, 5xx,
timeouts and refused connections are retried with backoff (never sooner than
``Retry-After``), up to ``max_attempts``, then the delivery is dead; any other
answer, or an address the outbound policy refuses, makes it dead at once. Every try
is in the delivery log (``webhook_attempts``); a replay puts a delivery back in line.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.channels.base import PermanentChannelError
from hub.channels.transport import RETRYABLE_STATUS, retry_after, transport_error
from hub.crm_link.connectors.base import Connector
from hub.db.models import WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import ConfigError, Conflict, Forbidden, NotFound, ValidationFailed
from hub.events import EVENT_TYPES, Event
from hub.inbox.outbox import backoff_delay
from hub.net import BlockedDestination, DestinationPolicy
from hub.services import Services
from hub.signing import sign

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_MAX_ATTEMPTS = 8
ANSWER_EXCERPT = 200
WEBHOOK_CHANGED = "webhook.changed"  # audit actions
WEBHOOK_REPLAYED = "webhook.replayed"


def _check(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins manage webhooks")


def _types(event_types: Sequence[str]) -> list[str]:
    chosen = sorted(set(event_types))
    if not chosen:
        raise ValidationFailed("subscribe to at least one event type, or '*' for all")
    unknown = [t for t in chosen if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(f"unknown event types: {', '.join(unknown)}")
    return ["*"] if "*" in chosen else chosen


async def check_target(url: str, policy: DestinationPolicy) -> str:
    """The URL, if the outbound policy lets hub call it (checked again at every connect); else 422."""
    try:
        host = urlsplit(url).hostname or ""
        policy.check_url(url)
    except ValueError as exc:  # urlsplit: e.g. "Invalid IPv6 URL"
        raise ValidationFailed(f"url: not a URL ({exc})") from exc
    except BlockedDestination as exc:
        raise ValidationFailed(f"url: {exc.detail}") from exc
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: not a name IDNA can encode
        raise ValidationFailed(f"url: the host {host[:60]!r} does not resolve") from exc
    for *_rest, address in answers:
        ip = ipaddress.ip_address(address[0])
        if not policy.permits(ip):
            raise ValidationFailed(f"url: {host} resolves to {ip}, which hub may not call")
    return url


async def create_subscription(
    services: Services, principal: Principal, name: str, url: str, event_types: Sequence[str], secret: str | None
) -> WebhookSubscription:
    """A new subscription (admins); the secret is generated unless given, and shown only now."""
    _check(principal)
    await check_target(url, DestinationPolicy(services.settings.outbound_allow_networks))
    now = utcnow()
    try:
        async with services.transaction() as unit:
            subscription = WebhookSubscription(
                name=name.strip(), url=url, secret=secret or secrets.token_urlsafe(32),
                event_types={"types": _types(event_types)}, active=True, created_by=principal.user_id,
                created_at=now, updated_at=now,
            )
            unit.session.add(subscription)
            await unit.session.flush()
            await record_audit(
                unit.session, actor_id=principal.user_id, action=WEBHOOK_CHANGED, object_type="webhook",
                object_id=subscription.id, data={"created": True, "name": subscription.name},
            )
    except IntegrityError:
        raise Conflict(f"a webhook named {name.strip()!r} exists already") from None
    return subscription


async def update_subscription(
    services: Services,
    principal: Principal,
    subscription_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change a subscription's URL, event types or whether it is active."""
    _check(principal)
    if url is not None:
        await check_target(url, DestinationPolicy(services.settings.outbound_allow_networks))
    async with services.transaction() as unit:
        subscription = await unit.session.get(WebhookSubscription, subscription_id, with_for_update=True)
        if subscription is None:
            raise NotFound("no such webhook")
        if url is not None:
            subscription.url = url
        if event_types is not None:
            subscription.event_types = {"types": _types(event_types)}
        if active is not None:
            subscription.active = active
        subscription.updated_at = utcnow()
        await record_audit(
            unit.session, actor_id=principal.user_id, action=WEBHOOK_CHANGED, object_type="webhook",
            object_id=subscription.id, data={"updated": True},
        )
    return subscription


async def delete_subscription(services: Services, principal: Principal, subscription_id: int) -> None:
    """Delete a subscription and its delivery log."""
    _check(principal)
    async with services.transaction() as unit:
        subscription = await unit.session.get(WebhookSubscription, subscription_id)
        if subscription is None:
            raise NotFound("no such webhook")
        await unit.session.delete(subscription)
        await record_audit(
            unit.session, actor_id=principal.user_id, action=WEBHOOK_CHANGED, object_type="webhook",
            object_id=subscription_id, data={"deleted": True},
        )


async def replay_delivery(services: Services, principal: Principal, subscription_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (done or dead); its next tries are logged as replays."""
    _check(principal)
    async with services.transaction() as unit:
        delivery = await unit.session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise NotFound("no such delivery")
        if delivery.state == "pending":
            raise Conflict("the delivery is pending already")
        delivery.state = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        delivery.locked_until = None
        await record_audit(
            unit.session, actor_id=principal.user_id, action=WEBHOOK_REPLAYED, object_type="webhook",
            object_id=subscription_id, data={"delivery_id": delivery_id},
        )
    return delivery


class WebhookFanout(Connector):
    """The built-in connector: each event becomes one delivery per subscription that wants it."""

    type = "webhooks"

    async def idle(self) -> bool:
        """No active subscription: an event now becomes no delivery."""
        async with self.context.services.sessions() as session:
            active = await session.scalar(select(WebhookSubscription.id).where(WebhookSubscription.active).limit(1))
        return active is None

    async def handle(self, events: Sequence[Event]) -> None:
        services = self.context.services
        async with services.sessions() as session, session.begin():
            subscriptions = (
                await session.execute(
                    select(WebhookSubscription.id, WebhookSubscription.event_types).where(WebhookSubscription.active)
                )
            ).all()
            now = utcnow()
            rows = []
            for event in events:
                body = msgspec.json.encode({"event": event.to_json()}).decode()
                for subscription_id, types in subscriptions:
                    wanted = (types or {}).get("types", [])
                    if "*" in wanted or event.type in wanted:
                        rows.append({
                            "subscription_id": subscription_id, "event_id": event.id, "event_type": event.type,
                            "contact_id": event.contact_id, "payload": body, "state": "pending", "attempts": 0,
                            "next_attempt_at": now, "created_at": now,
                        })
            # A batch handled twice (a crash before the cursor moved) adds nothing twice.
            await insert_ignore(session, WebhookDelivery, rows)


@dataclass(frozen=True)
class Claimed:
    id: int
    url: str
    secret: str
    event_type: str
    payload: str
    attempts: int
    replay: bool


class WebhookSender:
    """Claims due deliveries (lease; SKIP LOCKED on PostgreSQL) and POSTs them."""

    def __init__(
        self,
        services: Services,
        http: aiohttp.ClientSession,
        *,
        clock: Clock = utcnow,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        batch_size: int = 16,
        timeout: float = 10.0,
        lease: timedelta = timedelta(minutes=2),
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.services = services
        self.http = http
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.timeout = timeout
        self.lease = lease
        self._rand = rand
        self._policy = DestinationPolicy(services.settings.outbound_allow_networks)

    async def run_once(self) -> int:
        """Send the due deliveries; returns how many were claimed."""
        claimed = await self._claim()
        await asyncio.gather(*(self._send(item) for item in claimed))
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        now = self.clock()
        free = or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now)
        due = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now, free)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(self.batch_size)
        )
        if self.services.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self.services.sessions() as session, session.begin():
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            taken = list(
                (
                    await session.scalars(
                        update(WebhookDelivery)
                        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.state == "pending", free)
                        .values(locked_until=now + self.lease)
                        .returning(WebhookDelivery.id)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
            rows = await session.execute(
                select(WebhookDelivery, WebhookSubscription.url, WebhookSubscription.secret)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.id.in_(taken))
            )
            replays = set(
                (await session.scalars(
                    select(WebhookAttempt.delivery_id).where(WebhookAttempt.delivery_id.in_(taken)).distinct()
                )).all()
            )
            return [
                Claimed(d.id, url, secret, d.event_type, d.payload, d.attempts, d.id in replays and d.attempts == 0)
                for d, url, secret in rows
            ]

    async def _send(self, item: Claimed) -> None:
        body = msgspec.json.encode({"delivery_id": item.id, **msgspec.json.decode(item.payload)})
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hub-webhooks/1",
            "X-Hub-Event": item.event_type,
            "X-Hub-Delivery": str(item.id),
            "X-Hub-Timestamp": str(timestamp),
            "X-Hub-Signature-256": sign(item.secret.encode(), timestamp, body),
        }
        started = time.monotonic()
        status: int | None = None
        wait: float | None = None
        error: str | None = None
        permanent = False
        try:
            self._policy.check_url(item.url)
            async with self.http.post(
                item.url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                excerpt = (await response.content.read(ANSWER_EXCERPT)).decode(errors="replace")
                if not 200 <= status < 300:
                    error = f"HTTP {status}: {excerpt}"[:ANSWER_EXCERPT]
                    permanent = status not in RETRYABLE_STATUS
                    wait = retry_after(response.headers.get("Retry-After"))
        except BlockedDestination as exc:
            error, permanent = exc.detail, True
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = transport_error(exc, "the webhook")
            error, permanent = failure.detail[:ANSWER_EXCERPT], isinstance(failure, PermanentChannelError)
        await self._record(item, status, error, permanent, wait, int((time.monotonic() - started) * 1000))

    async def _record(
        self, item: Claimed, status: int | None, error: str | None, permanent: bool, retry_after: float | None,
        duration_ms: int,
    ) -> None:
        now = self.clock()
        async with self.services.sessions() as session, session.begin():
            delivery = await session.get(WebhookDelivery, item.id)
            if delivery is None:
                return  # the subscription was deleted meanwhile
            session.add(
                WebhookAttempt(delivery_id=item.id, at=now, status=status, error=error, duration_ms=duration_ms,
                               replay=item.replay)
            )
            delivery.attempts += 1
            delivery.locked_until = None
            if error is None:
                delivery.state = "done"
                delivery.delivered_at = now
            elif permanent or delivery.attempts >= self.max_attempts:
                delivery.state = "dead"
                log.warning("webhook delivery %d is dead after %d tries", item.id, delivery.attempts)
            else:
                kwargs: dict[str, Any] = {} if self._rand is None else {"rand": self._rand}
                delivery.next_attempt_at = now + timedelta(
                    seconds=backoff_delay(delivery.attempts, retry_after, **kwargs)
                )


@dataclass(frozen=True)
class WebhookOptions:
    """``[webhooks]`` in the configuration."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> WebhookOptions:
        """Checked options; ConfigError naming the key."""
        unknown = set(table) - {"max_attempts", "timeout_seconds", "poll_seconds"}
        if unknown:
            raise ConfigError(f"[webhooks]: unknown keys {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, kind in (("max_attempts", int), ("timeout_seconds", float), ("poll_seconds", float)):
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ConfigError(f"[webhooks] {key} must be a positive number")
                values[key] = kind(value)
        return cls(**values)
