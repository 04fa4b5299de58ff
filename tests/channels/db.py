"""Reading what a running hub stored, for channel tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.keys import SERVICES


async def count(client: TestClient[Any, Any], model: type, *where: Any) -> int:
    async with client.app[SERVICES].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def rows(client: TestClient[Any, Any], stmt: Any) -> list[Any]:
    async with client.app[SERVICES].sessions() as session:
        return list((await session.execute(stmt)).all())
