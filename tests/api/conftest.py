"""Fixtures for the API tests: a running hub whose API channel replies to a local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.api.keys import SERVICES
from hub.auth.accounts import create_token, create_user
from hub.db.models import OutboxItem
from tests.conftest import API_TOKEN, make_settings
from tests.inbox.callback_receiver import CallbackReceiver, running_receiver
from tests.inbox.outbound_env import channels


@dataclass
class Api:
    client: TestClient[Any, Any]
    receiver: CallbackReceiver
    agent: dict[str, str]
    agent_id: int
    outsider: dict[str, str]
    supervisor: dict[str, str]

    async def customer_writes(self, *, id: str = "m-1", channel: str = "web-form", email: str = "kunde@example.de") -> int:
        token = API_TOKEN if channel == "web-form" else API_TOKEN + "-shop"
        resp = await self.client.post(
            f"/api/v1/channels/{channel}/messages",
            json={"id": id, "sender": {"email": email}, "text": "Hallo?"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status == 202, await resp.text()
        return int((await resp.json())["conversation_id"])

    async def count(self, model: type, *where: Any) -> int:
        async with self.client.app[SERVICES].sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def outbox_settled(self) -> None:
        await eventually(lambda: self._no_pending())

    async def _no_pending(self) -> bool:
        return await self.count(OutboxItem, OutboxItem.state == "pending") == 0


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_receiver() as receiver:
        settings = make_settings(database_url, tmp_path / "data", channels=channels(receiver.url))
        async with TestClient(TestServer(create_app(settings))) as client:
            services = client.app[SERVICES]

            async def person(email: str, role: str, queues: list[str]) -> tuple[int, dict[str, str]]:
                user_id = await create_user(
                    services, email=email, name=email.split("@")[0], role=role, password=None,
                    queues=queues, skills={}, actor_id=None,
                )
                _, token = await create_token(services, user_id=user_id, name="test", actor_id=None)
                return user_id, {"Authorization": f"Bearer {token}"}

            agent_id, agent = await person("agent@hub.test", "agent", ["support"])
            _, outsider = await person("outsider@hub.test", "agent", ["billing"])
            _, supervisor = await person("super@hub.test", "supervisor", [])
            yield Api(client, receiver, agent, agent_id, outsider, supervisor)
