"""Rings agents for waiting calls: routing's ``conversation.offered`` → the voice channel's ``ring()``.

Every hub process listens; the call desk lets one of them claim each offer. When the
bus may have lost events, pending offers of live calls nobody rang are looked up in
the database. A ring that fails (the call has gone, the provider refused) leaves the
call waiting; routing times the offer out and asks the next agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from hub import events as ev
from hub.api.keys import ADAPTERS, SERVICES
from hub.bus import Subscription
from hub.channels.base import ChannelAdapter, PermanentChannelError, TransientChannelError
from hub.channels.calls import VoiceChannel
from hub.inbox.call_desk import CallService

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Start ringing with the app (after the adapters)."""
    app.cleanup_ctx.append(_ringer)


async def _ringer(app: web.Application) -> AsyncIterator[None]:
    voice = {name: a for name, a in app[ADAPTERS].items() if isinstance(a, VoiceChannel)}
    if not voice:
        yield
        return
    desk = CallService(app[SERVICES])  # the voice channels report to their context's; this one rings
    subscription = app[SERVICES].bus.subscribe()
    task = asyncio.create_task(_listen(desk, subscription, voice), name="call-ringer")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    subscription.close()


async def _listen(desk: CallService, subscription: Subscription, voice: Mapping[str, ChannelAdapter]) -> None:
    await _catch_up(desk, voice)
    while True:
        event = await subscription.next()
        if event is None:
            subscription.reset()
            await _catch_up(desk, voice)
            continue
        if event.type == ev.CONVERSATION_OFFERED and isinstance(event.data.get("offer_id"), int):
            await _ring(desk, voice, event.data["offer_id"])


async def _catch_up(desk: CallService, voice: Mapping[str, ChannelAdapter]) -> None:
    try:
        for offer_id in await desk.unrung():
            await _ring(desk, voice, offer_id)
    except Exception:
        log.exception("looking for calls nobody rang failed")


async def _ring(desk: CallService, voice: Mapping[str, ChannelAdapter], offer_id: int) -> None:
    try:
        ring = await desk.ring_for_offer(offer_id)
        if ring is None:
            return
        adapter = voice.get(ring.channel)
        if not isinstance(adapter, VoiceChannel):
            return
        try:
            await adapter.ring(ring)
        except (TransientChannelError, PermanentChannelError) as exc:
            log.warning("ringing for offer %d on channel %s failed: %s", offer_id, ring.channel, exc.detail)
            await desk.ring_failed(ring)
    except Exception:
        log.exception("ringing for offer %d failed", offer_id)
