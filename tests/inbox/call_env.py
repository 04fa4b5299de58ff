"""A hub without HTTP server for the call model's tests: a CTI channel ``pbx`` in queue hotline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hub.bootstrap import build_services, sync_config
from hub.calls import CallEvent, CallResult, CallState
from hub.config import ChannelConfig, QueueConfig
from hub.crm_link import identities
from hub.db.models import Call, Conversation, EventRecord, TimelineEntry
from hub.inbox.calls import record_call_event
from hub.services import Services
from tests.conftest import make_settings
from tests.factories import TestUser, create_user

T0 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
CALLER = "+4930123456"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@dataclass
class Env:
    services: Services
    anna: TestUser  # hotline agent
    ben: TestUser  # hotline agent

    async def report(self, state: CallState, seconds: float, call_id: str = "c-1", **fields: Any) -> CallResult:
        fields.setdefault("customer", identities.phone(CALLER))
        fields.setdefault("from_number", CALLER)
        fields.setdefault("to_number", "+4930999")
        fields.setdefault("occurred_at", at(seconds))
        event = CallEvent(channel="pbx", provider_call_id=call_id, state=state, **fields)
        return await record_call_event(self.services, event, now=at(seconds))

    async def call(self, call_id: int) -> Call:
        async with self.services.sessions() as session:
            row = await session.get(Call, call_id)
            assert row is not None
            return row

    async def conversation(self, conversation_id: int | None) -> Conversation:
        async with self.services.sessions() as session:
            row = await session.get(Conversation, conversation_id)
            assert row is not None
            return row

    async def events(self, type_: str) -> list[EventRecord]:
        async with self.services.sessions() as session:
            return list((await session.scalars(
                select(EventRecord).where(EventRecord.type == type_).order_by(EventRecord.id)
            )).all())

    async def calls_timeline(self) -> list[TimelineEntry]:
        async with self.services.sessions() as session:
            return list((await session.scalars(
                select(TimelineEntry).where(TimelineEntry.kind == "call").order_by(TimelineEntry.id)
            )).all())

    async def count(self, model: type, *where: Any) -> int:
        async with self.services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@asynccontextmanager
async def call_env(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Env]:
    """Services with queues hotline and sales (30 s wrap-up), agents Anna and Ben in hotline."""
    base = make_settings(database_url, tmp_path / "data")
    settings = make_settings(
        database_url, tmp_path / "data",
        queues=(*base.queues, QueueConfig("hotline"), QueueConfig("sales", {"wrap_up": 30})),
        channels=(*base.channels, ChannelConfig(type="cti", name="pbx", queue="hotline", options={"token": "t"})),
        **overrides,
    )
    services = build_services(settings)
    await sync_config(services)
    try:
        anna = await create_user(services, role="agent", queues=["hotline"], email="anna@example.test")
        ben = await create_user(services, role="agent", queues=["hotline"], email="ben@example.test")
        yield Env(services, anna, ben)
    finally:
        await services.engine.dispose()
