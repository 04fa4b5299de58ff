"""Reading what a running hub stored, for channel tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.keys import ADAPTERS, SERVICES
from hub.auth.principal import Principal, Role
from hub.db.models import Message, OutboxItem
from hub.inbox.outbox import Dispatcher
from tests.factories import create_user
from tests.inbox.outbound_env import FakeClock


async def count(client: TestClient[Any, Any], model: type, *where: Any) -> int:
    async with client.app[SERVICES].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def rows(client: TestClient[Any, Any], stmt: Any) -> list[Any]:
    async with client.app[SERVICES].sessions() as session:
        return list((await session.execute(stmt)).all())


async def reply_state(client: TestClient[Any, Any], message_id: int) -> tuple[Message, OutboxItem]:
    """A reply and its outbox row as stored now."""
    async with client.app[SERVICES].sessions() as session:
        message = await session.get(Message, message_id)
        outbox = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message_id))
    assert message is not None and outbox is not None
    return message, outbox


async def supervisor(client: TestClient[Any, Any]) -> Principal:
    """A new supervisor, as the actions see a caller (sees every conversation)."""
    user = await create_user(client.app[SERVICES], role="supervisor")
    return Principal(user.id, user.email, "Supervisor", Role.SUPERVISOR, frozenset(), via="token")


def dispatcher(client: TestClient[Any, Any], clock: FakeClock | None = None) -> tuple[Dispatcher, FakeClock]:
    """A dispatcher on the app's services and adapters with its own clock, a second ahead."""
    clock = clock or FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    return Dispatcher(client.app[SERVICES], client.app[ADAPTERS], clock=clock, rand=lambda: 0.0), clock
