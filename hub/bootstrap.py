"""Build the process's services from settings and bring the database in line with config."""

from __future__ import annotations

from sqlalchemy import select

from hub.blobs import LocalBlobStore
from hub.bus import EventBus, InProcessBus
from hub.config import Settings
from hub.db.engine import create_engine, session_factory
from hub.db.models import Channel, Queue
from hub.db.upsert import insert_ignore
from hub.errors import ConfigError
from hub.services import Endpoint, Services


def make_bus(settings: Settings) -> EventBus:
    """In-process alone; Redis pub/sub when ``HUB_REDIS_URL`` joins several processes."""
    if settings.redis_url:
        from hub.bus_redis import RedisBus

        return RedisBus(settings.redis_url, channel=settings.redis_channel)
    return InProcessBus()


def build_services(settings: Settings, *, bus: EventBus | None = None) -> Services:
    engine = create_engine(settings.database_url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        bus=bus or make_bus(settings),
        blobs=LocalBlobStore(settings.data_dir / "blobs", settings.max_attachment_bytes),
    )


async def sync_config(services: Services) -> None:
    """Create the queues and channels the config names; load their ids for the inbox."""
    settings = services.settings
    async with services.transaction() as unit:
        session = unit.session
        await insert_ignore(session, Queue, [{"name": q.name} for q in settings.queues])
        await insert_ignore(session, Channel, [{"name": c.name, "type": c.type} for c in settings.channels])
        queues = {name: qid for qid, name in await session.execute(select(Queue.id, Queue.name))}
        channels = {
            name: (cid, ctype) for cid, name, ctype in await session.execute(select(Channel.id, Channel.name, Channel.type))
        }
    services.queues = queues
    services.endpoints = {}
    # A web chat continues by email through the channel it names (docs/channels/webchat.md).
    continued: dict[str, set[int]] = {}
    for ch in settings.channels:
        target = ch.options.get("offline_email_channel")
        if isinstance(target, str):
            continued.setdefault(target, set()).add(channels[ch.name][0])
    for ch in settings.channels:
        channel_id, stored_type = channels[ch.name]
        if stored_type != ch.type:
            raise ConfigError(
                f"channel {ch.name!r} was created as type {stored_type!r}; a name cannot change type"
            )
        services.endpoints[ch.name] = Endpoint(
            channel_id=channel_id,
            name=ch.name,
            type=ch.type,
            queue_id=queues[ch.queue] if ch.queue else None,
            continues=frozenset(continued.get(ch.name, ())),
        )
