"""The router's leadership: one hub process routes, the others stand by.

A row in ``routing_leases`` names the holder and when its lease expires. The holder
renews it every third of the lease; a process that dies (``kill -9``) simply stops
renewing, and once the lease has expired another process takes it, with a higher
``epoch``. Every transaction the router writes checks, under a row lock, that it still
holds the lease with its epoch (``fence``), so a paused old leader that wakes up
cannot write over the new one. Offers and assignments are additionally
compare-and-set in the database, so even two routers could never give one
conversation to two agents.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import RoutingLease
from hub.db.upsert import insert_ignore
from hub.services import Services

LEASE_NAME = "router"


class LeaseLost(Exception):
    """This process no longer holds the router lease; it must stop routing."""


def holder_name() -> str:
    """A name unique to this process (host, pid, random), shown to operators."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """Acquire, renew, check and release the router lease for one process."""

    def __init__(self, services: Services, *, seconds: float, holder: str | None = None) -> None:
        self.services = services
        self.seconds = seconds
        self.holder = holder or holder_name()
        self.epoch: int | None = None

    @property
    def held(self) -> bool:
        return self.epoch is not None

    async def step(self, now: datetime) -> bool:
        """Renew the lease if held, else try to take it; True while this process holds it."""
        until = now + timedelta(seconds=self.seconds)
        async with self.services.sessions() as session, session.begin():
            await insert_ignore(
                session, RoutingLease, [{"name": LEASE_NAME, "holder": None, "epoch": 0, "expires_at": now}]
            )
            if self.epoch is not None:
                renewed = await _update(
                    session,
                    update(RoutingLease)
                    .where(
                        RoutingLease.name == LEASE_NAME,
                        RoutingLease.holder == self.holder,
                        RoutingLease.epoch == self.epoch,
                    )
                    .values(expires_at=until),
                )
                if renewed:
                    return True
                self.epoch = None
            taken = (
                await session.execute(
                    update(RoutingLease)
                    .where(RoutingLease.name == LEASE_NAME, RoutingLease.expires_at < now)
                    .values(holder=self.holder, epoch=RoutingLease.epoch + 1, expires_at=until)
                    .returning(RoutingLease.epoch)
                )
            ).scalar_one_or_none()
            self.epoch = taken
        return self.epoch is not None

    async def fence(self, session: AsyncSession) -> None:
        """In a router transaction: raise ``LeaseLost`` unless this process still holds the lease."""
        if self.epoch is None:
            raise LeaseLost("not the router")
        stmt = select(RoutingLease.epoch).where(
            RoutingLease.name == LEASE_NAME, RoutingLease.holder == self.holder, RoutingLease.epoch == self.epoch
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(read=True)
        if (await session.execute(stmt)).scalar_one_or_none() is None:
            self.epoch = None
            raise LeaseLost("another process took over routing")

    async def release(self, now: datetime) -> None:
        """Give the lease up (clean shutdown) so another process takes over at once."""
        if self.epoch is None:
            return
        async with self.services.sessions() as session, session.begin():
            await session.execute(
                update(RoutingLease)
                .where(RoutingLease.name == LEASE_NAME, RoutingLease.holder == self.holder)
                .values(expires_at=now, holder=None)
            )
        self.epoch = None


async def _update(session: AsyncSession, stmt: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(stmt))
    return int(result.rowcount)


async def current_holder(services: Services, now: datetime) -> tuple[str | None, int] | None:
    """Who routes now and with which epoch (None: nobody holds a live lease)."""
    async with services.sessions() as session:
        row = (
            await session.execute(select(RoutingLease.holder, RoutingLease.epoch, RoutingLease.expires_at))
        ).first()
    if row is None or row[2] <= now:
        return None
    return row[0], row[1]
