"""A hub without HTTP server for the inbox's write actions: services, adapters, people, a clock.

Channels: ``web-form`` (queue support) replies to a local callback receiver;
``shop`` (queue billing) has no callback URL, so it cannot send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hub.auth.accounts import create_user
from hub.auth.principal import Principal, Role
from hub.bootstrap import build_services, sync_config
from hub.bus import InProcessBus
from hub.channels.base import AdapterContext, ChannelAdapter
from hub.channels.registry import build_adapter
from hub.config import ChannelConfig, Settings
from hub.crm_link import identities
from hub.inbox.ingest import IngestResult, ingest_batch
from hub.messages import InboundMessage, Sender, StatusEvent, ThreadHint
from hub.net import DestinationPolicy, create_http_session
from hub.services import Services
from tests.conftest import API_TOKEN, make_settings
from tests.inbox.callback_receiver import SECRET, CallbackReceiver


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 1, 15, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def channels(callback_url: str) -> tuple[ChannelConfig, ...]:
    return (
        ChannelConfig(
            type="api",
            name="web-form",
            queue="support",
            options={"token": API_TOKEN, "callback_url": callback_url, "callback_secret": SECRET},
        ),
        ChannelConfig(type="api", name="shop", queue="billing", options={"token": API_TOKEN + "-shop"}),
    )


@dataclass
class Env:
    services: Services
    adapters: dict[str, ChannelAdapter]
    receiver: CallbackReceiver
    agent: Principal  # support queue
    colleague: Principal  # support queue
    outsider: Principal  # billing queue only
    supervisor: Principal

    async def customer_writes(
        self, *, id: str = "m-1", email: str = "kunde@example.de", channel: str = "web-form",
        thread: str | None = None, now: datetime | None = None,
    ) -> IngestResult:
        """A customer message arrives (ingested as the API channel would)."""
        message = InboundMessage(
            channel=channel,
            provider_message_id=id,
            sender=Sender((identities.email(email),), name="Kunde"),
            text="Wo bleibt meine Bestellung?",
            subject="Bestellung 4711",
            thread=ThreadHint(key=thread),
        )
        async with self.services.transaction() as unit:
            results, events = await ingest_batch(
                unit.session, [message], self.services.endpoints, self.services.blobs,
                now or datetime.now(UTC),
            )
            for event in events:
                unit.emit(event)
        return results[0]

    async def count(self, model: type, *where: Any) -> int:
        async with self.services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def get(self, model: type, row_id: int) -> Any:
        async with self.services.sessions() as session:
            return await session.get(model, row_id)


async def _person(services: Services, email: str, role: Role, queues: list[str]) -> Principal:
    user_id = await create_user(
        services, email=email, name=email.split("@")[0], role=role.value, password=None,
        queues=queues, skills={}, actor_id=None,
    )
    return Principal(
        user_id=user_id, email=email, name=email.split("@")[0], role=role,
        queue_ids=frozenset(services.queues[q] for q in queues), via="token",
    )


@asynccontextmanager
async def outbound_env(
    database_url: str, data_dir: Path, receiver: CallbackReceiver, **settings: Any
) -> AsyncIterator[Env]:
    """Services and adapters on ``database_url``; ``settings`` override ``make_settings``."""
    config: Settings = make_settings(database_url, data_dir, **{"channels": channels(receiver.url), **settings})
    services = build_services(config, bus=InProcessBus())
    try:
        await sync_config(services)
        async with create_http_session(DestinationPolicy(config.outbound_allow_networks)) as http:

            async def ingest(message: InboundMessage) -> object:
                raise AssertionError("API channels push through the route, not the context")

            async def report_status(event: StatusEvent) -> None:
                raise AssertionError("not used here")

            context = AdapterContext(settings=config, http=http, ingest=ingest, report_status=report_status)
            adapters = {c.name: build_adapter(c, context) for c in config.channels}
            yield Env(
                services=services,
                adapters=adapters,
                receiver=receiver,
                agent=await _person(services, "agent@hub.test", Role.AGENT, ["support"]),
                colleague=await _person(services, "colleague@hub.test", Role.AGENT, ["support"]),
                outsider=await _person(services, "outsider@hub.test", Role.AGENT, ["billing"]),
                supervisor=await _person(services, "super@hub.test", Role.SUPERVISOR, []),
            )
    finally:
        await services.engine.dispose()
