"""Stale calls: a call whose source went silent is ended, once, and frees its agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.calls import CallState
from hub.channels.base import TransientChannelError
from hub.channels.calls import ProviderCall
from hub.db.models import Call, EventRecord
from hub.errors import ConfigError
from hub.inbox.call_sweeper import Probe, SweepSettings, sweep_stale_calls
from tests.inbox.call_env import Env, at, call_env

H = 3600.0
SETTINGS = SweepSettings(stale_after=4 * H, stale_waiting_after=H)


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with call_env(database_url, tmp_path) as built:
        yield built


async def test_a_talking_call_silent_for_too_long_is_ended_as_stale(env: Env) -> None:
    await env.report(CallState.QUEUED, 0, queue="sales")  # sales has a wrap-up time: not after a stale call
    talking = await env.report(CallState.TALKING, 30, agent=env.anna.id)
    assert (await sweep_stale_calls(env.services, SETTINGS, {}, now=at(30 + 4 * H - 1))).ended == []

    swept = await sweep_stale_calls(env.services, SETTINGS, {}, now=at(30 + 4 * H))
    assert swept.ended == [talking.call.id]
    call = await env.call(talking.call.id)
    assert (call.state, call.outcome, call.end_reason) == ("ended", "answered", "stale")
    assert call.ended_at == at(30)  # the last the hub heard of it, not the sweep's time
    conversation = await env.conversation(call.conversation_id)
    assert conversation.status == "resolved"  # routing releases the agent's voice capacity
    (entry,) = await env.calls_timeline()
    assert entry.data == {"call_id": call.id, "direction": "in", "outcome": "answered",
                          "duration_seconds": 0, "wait_seconds": 30, "reason": "stale"}
    last = (await env.events("call.updated"))[-1]
    assert (last.data["previous"], last.data["state"], last.data["end_reason"]) == ("talking", "ended", "stale")
    assert (await sweep_stale_calls(env.services, SETTINGS, {}, now=at(10 * H))).ended == []


async def test_waiting_calls_go_stale_sooner_and_a_normal_end_has_no_reason(env: Env) -> None:
    queued = await env.report(CallState.QUEUED, 0)
    ringing = await env.report(CallState.RINGING, 0, call_id="c-2", agent=env.ben.id)
    talking = await env.report(CallState.TALKING, 0, call_id="c-3", agent=env.anna.id)
    swept = await sweep_stale_calls(env.services, SETTINGS, {}, now=at(H))
    assert sorted(swept.ended) == sorted([queued.call.id, ringing.call.id])
    assert [(await env.call(i)).outcome for i in (queued.call.id, ringing.call.id)] == ["abandoned", "missed"]
    assert (await env.call(talking.call.id)).state == "talking"  # two hours of talk are no reason yet
    done = await env.report(CallState.ENDED, 60, call_id="c-3")
    assert done.call.end_reason is None and "reason" not in (await env.calls_timeline())[-1].data


async def test_a_call_the_provider_says_is_on_stays_and_one_it_says_is_over_ends_then(env: Env) -> None:
    on = await env.report(CallState.TALKING, 0, agent=env.anna.id)
    over = await env.report(CallState.TALKING, 0, call_id="c-2", agent=env.ben.id)
    asked: list[str] = []

    async def provider(call_id: str) -> ProviderCall:
        asked.append(call_id)
        return ProviderCall(live=True) if call_id == "c-1" else ProviderCall(live=False, ended_at=at(600))

    probes: dict[str, Probe] = {"pbx": provider}
    swept = await sweep_stale_calls(env.services, SETTINGS, probes, now=at(5 * H))
    assert (swept.ended, swept.alive) == ([over.call.id], [on.call.id])
    assert (await env.call(on.call.id)).state == "talking"
    ended = await env.call(over.call.id)
    assert (ended.ended_at, ended.talk_seconds, ended.end_reason) == (at(600), 600, "stale")
    # Still on: asked again only once it has been silent for the stale time once more.
    assert (await sweep_stale_calls(env.services, SETTINGS, probes, now=at(6 * H))).alive == []
    assert (await sweep_stale_calls(env.services, SETTINGS, probes, now=at(9 * H))).alive == [on.call.id]
    assert asked == ["c-1", "c-2", "c-1"]


async def test_a_provider_that_cannot_answer_now_is_asked_again_next_round(env: Env) -> None:
    talking = await env.report(CallState.TALKING, 0, agent=env.anna.id)
    answers: list[ProviderCall | Exception] = [TransientChannelError("Twilio call fetch: HTTP 503"),
                                               ProviderCall(live=False)]

    async def provider(call_id: str) -> ProviderCall:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert (await sweep_stale_calls(env.services, SETTINGS, {"pbx": provider}, now=at(5 * H))).ended == []
    assert (await env.call(talking.call.id)).state == "talking"
    assert (await sweep_stale_calls(env.services, SETTINGS, {"pbx": provider}, now=at(5 * H + 60))).ended == [
        talking.call.id]


async def test_two_sweeps_at_once_end_a_stale_call_once(env: Env) -> None:
    await env.report(CallState.TALKING, 0, agent=env.anna.id)
    results = await asyncio.gather(*(sweep_stale_calls(env.services, SETTINGS, {}, now=at(5 * H)) for _ in range(3)))
    assert sorted(len(r.ended) for r in results) == [0, 0, 1]
    assert len(await env.calls_timeline()) == 1
    async with env.services.sessions() as session:
        ends = (await session.scalars(select(EventRecord).where(EventRecord.type == "call.updated"))).all()
        assert [e.data["state"] for e in ends] == ["talking", "ended"]
        assert (await session.scalar(select(Call.state))) == "ended"


def test_the_calls_table_is_read_with_durations_and_checked() -> None:
    parsed = SweepSettings.from_config({"stale_after": "2h", "stale_waiting_after": "20m", "sweep_interval": 30})
    assert (parsed.stale_after, parsed.stale_waiting_after, parsed.sweep_interval) == (7200, 1200, 30)
    assert SweepSettings.from_config({}) == SweepSettings(4 * H, H, 60)
    with pytest.raises(ConfigError, match="stale_after"):
        SweepSettings.from_config({"stale_after": "soon"})
    with pytest.raises(ConfigError, match=r"unknown key.*docs/calls.md"):
        SweepSettings.from_config({"stale_afetr": "1h"})
    with pytest.raises(ConfigError, match="more than 0"):
        SweepSettings.from_config({"sweep_interval": 0})
