"""The process's shared resources and the unit of work every write goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.blobs import LocalBlobStore
from hub.bus import EventBus
from hub.config import Settings
from hub.errors import NotFound
from hub.events import Event, write_events


@dataclass(frozen=True)
class Endpoint:
    """A configured channel as the inbox sees it."""

    channel_id: int
    name: str
    type: str
    queue_id: int | None
    # Channels whose conversations a reply through this one may continue, when the
    # adapter verified a token naming the conversation (a web chat's offline email).
    continues: frozenset[int] = frozenset()


class Unit:
    """One transaction: a session plus the events it will publish after commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events: list[Event] = []
        self.written: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Services:
    """Everything a request, a worker or a CLI command shares."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    blobs: LocalBlobStore
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Unit]:
        """Run a write: commit on success, roll back on error, publish events after commit."""
        async with self.sessions() as session, session.begin():
            unit = Unit(session)
            yield unit
            unit.written = await write_events(session, unit.events)
        if unit.written:
            await self.bus.publish(unit.written)

    def endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise NotFound(f"no channel named {name!r}") from None
