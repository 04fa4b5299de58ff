"""The database side of ``ChannelStorage``: adapter state, quarantine, cluster locks.

Locks: on PostgreSQL a session-level advisory lock (``pg_try_advisory_lock``) held on
a connection of its own, outside the pool; when that connection dies (the process
was killed, the network broke) PostgreSQL releases the lock and another hub process
takes over. The holder checks its connection every few seconds and reports a lost
lock, so two processes never work one mailbox. On SQLite there is one process, and
an asyncio lock suffices.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from hub import events as ev
from hub.channels.base import QuarantineRecord
from hub.db.models import Blob, ChannelState, ContactIdentity, Message, QuarantinedItem, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import NotFound
from hub.events import Event
from hub.services import Services
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 2.0
LOCK_CHECK_SECONDS = 5.0
LOOKUP_CHUNK = 500


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(f"hub-lock:{name}".encode()).digest()[:8], "big", signed=True)


class DbChannelStorage:
    """``ChannelStorage`` on the hub's database."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._local_locks: dict[str, asyncio.Lock] = {}

    def _channel_id(self, channel: str) -> int:
        return self.services.endpoint(channel).channel_id

    async def load_state(self, channel: str, key: str) -> dict[str, Any] | None:
        async with self.services.sessions() as session:
            data = await session.scalar(
                select(ChannelState.data).where(
                    ChannelState.channel_id == self._channel_id(channel), ChannelState.key == key
                )
            )
        return dict(data) if data is not None else None

    async def save_state(self, channel: str, key: str, data: dict[str, Any]) -> None:
        row = {"channel_id": self._channel_id(channel), "key": key, "data": data, "updated_at": utcnow()}
        async with self.services.sessions() as session, session.begin():
            if self.services.dialect == "postgresql":
                stmt: Any = postgresql.insert(ChannelState).values(**row)
            else:
                stmt = sqlite.insert(ChannelState).values(**row)
            stmt = stmt.on_conflict_do_update(
                index_elements=["channel_id", "key"], set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at}
            )
            await session.execute(stmt)

    async def quarantine(self, record: QuarantineRecord) -> int:
        channel_id = self._channel_id(record.channel)
        digest = await self.services.blobs.put(record.raw) if record.raw is not None else None
        now = utcnow()
        async with self.services.transaction() as unit:
            session = unit.session
            if record.source is not None:
                existing = await session.scalar(
                    select(QuarantinedItem.id).where(
                        QuarantinedItem.channel_id == channel_id, QuarantinedItem.source == record.source
                    )
                )
                if existing is not None:
                    return int(existing)
            if digest is not None and record.raw is not None:
                await insert_ignore(session, Blob, [{"sha256": digest, "size": len(record.raw), "created_at": now}])
            contact_id = None
            if record.sender is not None:
                contact_id = await session.scalar(
                    select(ContactIdentity.contact_id).where(
                        ContactIdentity.kind == "email", ContactIdentity.address == record.sender.lower()
                    )
                )
            item = QuarantinedItem(
                channel_id=channel_id,
                reason=record.reason[:64],
                detail=record.detail[:1000],
                source=record.source[:300] if record.source else None,
                blob_sha256=digest,
                size=record.size,
                sender=record.sender[:320] if record.sender else None,
                contact_id=contact_id,
                subject=record.subject[:500] if record.subject else None,
                state="open",
                created_at=now,
                updated_at=now,
            )
            session.add(item)
            await session.flush()
            unit.emit(
                Event(
                    ev.CHANNEL_QUARANTINED,
                    data={"channel": record.channel, "quarantine_id": item.id, "reason": item.reason},
                    occurred_at=now,
                )
            )
        log.warning("channel %s: item quarantined (%s) as %d", record.channel, record.reason, item.id)
        return item.id

    async def known_message_ids(self, channel: str, provider_ids: Sequence[str]) -> set[str]:
        channel_id = self._channel_id(channel)
        wanted = list(dict.fromkeys(provider_ids))
        known: set[str] = set()
        async with self.services.sessions() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = await session.scalars(
                    select(Message.provider_message_id).where(
                        Message.channel_id == channel_id, Message.provider_message_id.in_(chunk)
                    )
                )
                known.update(value for value in rows if value is not None)
        return known

    async def holds_messages(self, channel: str) -> bool:
        channel_id = self._channel_id(channel)
        async with self.services.sessions() as session:
            found = await session.scalar(select(Message.id).where(Message.channel_id == channel_id).limit(1))
        return found is not None

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[asyncio.Event]:
        lost = asyncio.Event()
        if self.services.dialect != "postgresql":
            lock = self._local_locks.setdefault(name, asyncio.Lock())
            async with lock:
                yield lost
            return
        dsn = self.services.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        key = lock_key(name)
        connection = await _acquire(dsn, key)
        watchdog = asyncio.create_task(_watch(connection, lost, name), name=f"lock-watch:{name}")
        try:
            yield lost
        finally:
            await cancel_and_wait(watchdog)
            with contextlib.suppress(Exception):
                await connection.execute("SELECT pg_advisory_unlock($1)", key)
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)


async def _acquire(dsn: str, key: int) -> asyncpg.Connection:
    """A connection holding the advisory lock ``key``; waits while another process holds it."""
    while True:
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("lock connection failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(LOCK_RETRY_SECONDS)
            continue
        try:
            while True:
                if await connection.fetchval("SELECT pg_try_advisory_lock($1)", key):
                    return connection
                await asyncio.sleep(LOCK_RETRY_SECONDS)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("lock connection lost while waiting (%s); reconnecting", type(exc).__name__)
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)
            raise


async def _watch(connection: asyncpg.Connection, lost: asyncio.Event, name: str) -> None:
    while True:
        await asyncio.sleep(LOCK_CHECK_SECONDS)
        try:
            await asyncio.wait_for(connection.fetchval("SELECT 1"), LOCK_CHECK_SECONDS)
        except Exception as exc:  # closed, terminated, unreachable: the lock may be gone
            log.error("lock %s lost with its database connection (%s)", name, type(exc).__name__)
            lost.set()
            return


async def quarantine_item(services: Services, channel_id: int, item_id: int) -> QuarantinedItem:
    """One quarantined item of ``channel_id``, or 404."""
    async with services.sessions() as session:
        item = await session.get(QuarantinedItem, item_id)
    if item is None or item.channel_id != channel_id:
        raise NotFound("no such quarantined item")
    return item
