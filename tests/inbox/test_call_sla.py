"""Answering a call meets its conversation's first-response target, like a written reply."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hub.calls import CallState
from hub.db.models import SlaClock
from hub.routing.lease import Lease
from hub.routing.router import ChannelInfo
from hub.routing.settings import parse_routing
from hub.routing.sla_worker import SlaWorker
from tests.inbox.call_env import Env, at, call_env

ROUTING = {"enabled": False, "sla": [{"name": "phone", "queues": ["hotline"], "first_response": "2m"}]}


async def _first_response(env: Env, conversation_id: int, seconds: float) -> SlaClock:
    services = env.services
    lease = Lease(services, seconds=30)
    await lease.step(at(seconds - 1))  # the first step only creates the lease row
    assert await lease.step(at(seconds))
    settings = parse_routing(services.settings).with_ids(services.queues)
    channels = {e.channel_id: ChannelInfo(e.name, "voice", True) for e in services.endpoints.values()}
    worker = SlaWorker(services, settings, channels, lease, lambda: at(seconds))
    await worker.recompute([conversation_id])
    async with services.sessions() as session:
        clock = await session.scalar(select(SlaClock).where(
            SlaClock.conversation_id == conversation_id, SlaClock.target == "first_response"))
    assert clock is not None
    return clock


async def test_an_answered_call_meets_the_first_response_target(database_url: str, tmp_path: Path) -> None:
    async with call_env(database_url, tmp_path, routing=ROUTING) as env:
        opened = await env.report(CallState.QUEUED, 0, queue="hotline")
        await env.report(CallState.RINGING, 20, agent=env.anna.id)
        await env.report(CallState.TALKING, 45, agent=env.anna.id)
        assert opened.call.conversation_id is not None
        clock = await _first_response(env, opened.call.conversation_id, 600)
        assert (clock.state, clock.running, clock.met_at) == ("hit", False, at(45))


async def test_a_call_nobody_answers_misses_it(database_url: str, tmp_path: Path) -> None:
    async with call_env(database_url, tmp_path, routing=ROUTING) as env:
        opened = await env.report(CallState.QUEUED, 0, queue="hotline")
        await env.report(CallState.RINGING, 20, agent=env.anna.id)
        await env.report(CallState.QUEUED, 50)
        assert opened.call.conversation_id is not None
        clock = await _first_response(env, opened.call.conversation_id, 600)
        assert (clock.state, clock.met_at) == ("missed", None)
