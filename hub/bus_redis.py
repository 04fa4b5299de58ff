"""The cluster event bus: Redis pub/sub between hub processes.

``publish()`` sends each batch of committed events as one JSON message on one channel.
A listener task in every process -- the publisher's included -- receives the channel and
delivers to that process's subscribers, so all processes see the same stream. Events are
put back into id order by a ``Sequencer`` first (publishers race each other to Redis).

Redis pub/sub keeps nothing for a subscriber that is away. Whenever events may have been
lost or come out of order -- the listener reconnected, a publish failed, an id never
arrived -- every local subscription is flagged (``Subscription.mark_missed``) and its
consumer re-reads the events table; a process whose publish failed also tells the
others with a re-sync notice once Redis answers again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Sequence

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from hub.bus import LocalFanout
from hub.bus_order import Release, Sequencer
from hub.events import Event
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "hub:events"

_encoder = msgspec.json.Encoder()


def encode_events(events: Sequence[Event]) -> bytes:
    """The wire form of a batch: ``{"events": [Event.to_json(), ...]}``."""
    return _encoder.encode({"events": [e.to_json() for e in events]})


def encode_resync(reason: str) -> bytes:
    """A notice that events may have been lost: every process re-syncs its subscribers."""
    return _encoder.encode({"resync": reason})


def decode_message(data: bytes) -> list[Event] | None:
    """The events of a wire message, or None for a re-sync notice. Raises ValueError when malformed."""
    try:
        raw = msgspec.json.decode(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if "resync" in raw:
            return None
        items = raw["events"]
        if not isinstance(items, list):
            raise ValueError("'events' is not a list")
        return [Event.from_json(item) for item in items]
    except (msgspec.DecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from exc


def _default_client_name() -> str:
    return f"hub-events-{socket.gethostname()}-{os.getpid()}"


class RedisBus(LocalFanout):
    """Event bus over Redis pub/sub; ``ping()`` serves ``/healthz``."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = DEFAULT_CHANNEL,
        client_name: str | None = None,
        reorder_window: float = 0.5,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        ping_interval: float = 5.0,
        connect_timeout: float = 5.0,
        publish_timeout: float = 1.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.client_name = client_name or _default_client_name()
        self.reconnects = 0  # how often the listener came back after losing Redis
        self._sequencer = Sequencer(reorder_window)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._ping_interval = ping_interval
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._publisher: aioredis.Redis | None = None
        self._listener_client: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._owe_resync = False

    async def start(self) -> None:
        """Start listening; waits (up to ``connect_timeout``) until subscribed, then keeps retrying."""
        if self._listener is not None:
            return
        # No retries inside redis-py for the listener: a lost connection must surface
        # here, because only this loop knows to flag the gap to subscribers.
        self._listener_client = aioredis.from_url(
            self.url,
            client_name=self.client_name,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=self._connect_timeout,
            socket_keepalive=True,
        )
        self._listener = asyncio.create_task(self._listen(), name=f"redis-bus:{self.channel}")
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._connected.wait()
        except TimeoutError:
            log.warning("event bus: Redis is not reachable yet; the listener keeps trying")

    async def publish(self, events: Sequence[Event]) -> None:
        """Send one committed batch to every process. A failure is logged and flagged, never raised:
        the events are committed, and subscribers re-sync from the database."""
        if not events:
            return
        stored = [e for e in events if not e.transient]
        try:
            if self._listener is not None and not self._connected.is_set():
                # Our own subscription is down, so Redis most likely is: fail fast
                # instead of making every request wait for a connect timeout.
                raise RedisConnectionError("the listener is reconnecting")
            await self._client().publish(self.channel, encode_events(events))
        except (RedisError, OSError) as exc:
            log.warning(
                "event bus: publishing events %s..%s failed (%s); subscribers will re-sync",
                events[0].id,
                events[-1].id,
                type(exc).__name__,
            )
            if stored:  # a lost signal is no gap: nothing to re-read
                self._owe_resync = True
                self.mark_missed()
            return
        if self._owe_resync:
            await self._send_resync()

    async def ping(self) -> None:
        """Raise unless Redis answers."""
        await self._client().ping()

    async def aclose(self) -> None:
        """Stop the listener and close the connections."""
        await cancel_and_wait(self._listener)
        self._listener = None
        for client in (self._listener_client, self._publisher):
            if client is not None:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
        self._listener_client = self._publisher = None

    def _client(self) -> aioredis.Redis:
        # Created on first use so that a CLI command can publish without start().
        if self._publisher is None:
            self._publisher = aioredis.from_url(
                self.url,
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
                socket_connect_timeout=self._publish_timeout,
                socket_timeout=self._publish_timeout,
                socket_keepalive=True,
            )
        return self._publisher

    async def _send_resync(self) -> None:
        try:
            await self._client().publish(self.channel, encode_resync("publish failed"))
        except (RedisError, OSError):
            return  # still owed; the next publish or reconnect tries again
        self._owe_resync = False

    async def _listen(self) -> None:
        assert self._listener_client is not None
        delay = self._backoff_initial
        lost = False  # True once a connection failed: the next subscribe closes a gap
        while True:
            pubsub = self._listener_client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._confirm(pubsub)
                self._connected.set()
                delay = self._backoff_initial
                if lost:
                    self.reconnects += 1
                    log.info("event bus: reconnected to Redis; subscribers re-sync")
                    await self._gap()
                await self._pump(pubsub)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("event bus: Redis connection lost (%s); retrying in %.1fs", type(exc).__name__, delay)
            except Exception:
                log.exception("event bus: listener failed; restarting in %.1fs", delay)
            finally:
                self._connected.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            lost = True
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._backoff_max)

    async def _confirm(self, pubsub: PubSub) -> None:
        async with asyncio.timeout(self._connect_timeout):
            while True:
                message = await pubsub.get_message(timeout=self._connect_timeout)
                if message is not None and message["type"] == "subscribe":
                    return

    async def _gap(self) -> None:
        self._release(self._sequencer.flush())
        if self._owe_resync:
            await self._send_resync()

    async def _pump(self, pubsub: PubSub) -> None:
        """Receive until the connection fails; ping when idle so a dead peer is noticed."""
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        pinged = False
        while True:
            now = loop.time()
            self._release(self._sequencer.expire(now))
            deadline = self._sequencer.next_deadline()
            wait = self._ping_interval if deadline is None else min(self._ping_interval, max(0.0, deadline - now))
            message = await pubsub.get_message(timeout=wait)
            now = loop.time()
            if message is None:
                if now - last_heard >= 2 * self._ping_interval:
                    raise RedisConnectionError("Redis did not answer a ping")
                if now - last_heard >= self._ping_interval and not pinged:
                    await pubsub.ping()
                    pinged = True
                continue
            last_heard, pinged = now, False
            if message["type"] == "message":
                self._receive(message["data"], now)

    def _receive(self, data: bytes, now: float) -> None:
        try:
            events = decode_message(data)
        except ValueError as exc:
            log.warning("event bus: ignored a malformed message on %s (%s)", self.channel, exc)
            return
        if events is None:
            self._release(self._sequencer.flush())
            return
        # Transient events have no id to order by and no place in the table: straight through.
        self.deliver([e for e in events if e.transient])
        self._release(self._sequencer.push([e for e in events if not e.transient], now))

    def _release(self, release: Release) -> None:
        if release.gap:
            self.mark_missed()  # first, so a consumer re-reads the table before it sees these
        self.deliver(release.events)
