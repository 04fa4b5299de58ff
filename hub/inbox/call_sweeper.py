"""Ends calls whose source went silent: a crashed PBX, a lost status callback (``[calls]``).

A live call the hub has heard nothing about for ``stale_after`` (talking) or
``stale_waiting_after`` (in the menu, queued, ringing) would otherwise stay on the
wall for ever and keep its agent's voice capacity. Each round, every hub process
looks for such calls; a process claims each one with a compare-and-set on the call's
``version``, so with several processes exactly one handles it. Where the channel can
ask its provider (``VoiceChannel.call_status``), it asks first: a call still on the
line counts as active again; one the provider says is over ends at the provider's end
time. Otherwise the call ends at the last moment the hub heard of it, with
``end_reason = "stale"`` on the call, its ``call.updated`` event and its timeline
entry; the conversation is resolved, so routing frees the agent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update

from hub.calls import CallEvent, CallState, EndReason
from hub.channels.base import TransientChannelError
from hub.channels.calls import ProviderCall
from hub.db.models import Call, utcnow
from hub.errors import ConfigError, HubError
from hub.inbox.actions import endpoint_by_id
from hub.inbox.calls import record_call_event
from hub.routing.options import Options
from hub.services import Services

log = logging.getLogger(__name__)

Probe = Callable[[str], Awaitable[ProviderCall | None]]  # the provider's view of a call, by provider call id
WAITING = (CallState.IVR.value, CallState.QUEUED.value, CallState.RINGING.value)
BATCH = 100


@dataclass(frozen=True)
class SweepSettings:
    """``[calls]``: when a silent live call counts as stale, and how often to look."""

    stale_after: float = 4 * 3600.0  # talking
    stale_waiting_after: float = 3600.0  # ivr, queued, ringing
    sweep_interval: float = 60.0

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> SweepSettings:
        options = Options(table, "[calls]", docs="docs/calls.md")
        values = {}
        for key, default in (("stale_after", cls.stale_after), ("stale_waiting_after", cls.stale_waiting_after),
                             ("sweep_interval", cls.sweep_interval)):
            seconds = options.duration(key, default)
            assert seconds is not None
            if seconds <= 0:
                raise ConfigError(f"[calls] {key} must be more than 0 seconds")
            values[key] = seconds
        options.done()
        return cls(**values)


@dataclass(frozen=True)
class SweepResult:
    ended: list[int]  # call ids the sweep ended
    alive: list[int]  # call ids the provider says are still on the line


async def sweep_stale_calls(
    services: Services, settings: SweepSettings, probes: Mapping[str, Probe], *, now: datetime | None = None,
) -> SweepResult:
    """End the live calls silent for too long (see the module doc); which ended, which are alive."""
    now = now or utcnow()
    talking_before = now - timedelta(seconds=settings.stale_after)
    waiting_before = now - timedelta(seconds=settings.stale_waiting_after)
    async with services.sessions() as session:
        stale = (await session.execute(
            select(Call.id, Call.version, Call.channel_id, Call.provider_call_id, Call.updated_at)
            .where(or_(
                and_(Call.state == CallState.TALKING.value, Call.updated_at <= talking_before),
                and_(Call.state.in_(WAITING), Call.updated_at <= waiting_before),
            ))
            .order_by(Call.updated_at).limit(BATCH)
        )).all()
    result = SweepResult([], [])
    for call_id, version, channel_id, provider_call_id, last_heard in stale:
        endpoint = endpoint_by_id(services, channel_id)
        if endpoint is None or not await _claim(services, call_id, version):
            continue  # a channel no longer configured; or another process (or a report) got there first
        probe = probes.get(endpoint.name)
        try:
            provider = await probe(provider_call_id) if probe is not None else None
        except TransientChannelError as exc:
            log.warning("call %d: the provider could not say whether it is still on (%s); asking next round",
                        call_id, exc.detail)
            continue
        except Exception:
            log.exception("call %d: asking the provider failed; ending it as stale", call_id)
            provider = None
        if provider is not None and provider.live:
            await _touch(services, call_id, now)
            result.alive.append(call_id)
            continue
        ended_at = provider.ended_at if provider is not None and provider.ended_at is not None else last_heard
        try:
            await record_call_event(services, CallEvent(
                channel=endpoint.name, provider_call_id=provider_call_id, state=CallState.ENDED,
                occurred_at=ended_at, reason=EndReason.STALE,
            ), now=now)
        except HubError as exc:
            log.warning("call %d: ending it as stale failed: %s", call_id, exc.detail)
            continue
        log.info("call %d ended as stale", call_id, extra={"call_id": call_id, "channel": endpoint.name})
        result.ended.append(call_id)
    return result


async def _claim(services: Services, call_id: int, version: int) -> bool:
    """Compare-and-set on the call's version: whether this process handles the stale call."""
    async with services.transaction() as unit:
        claimed = cast(CursorResult[Any], await unit.session.execute(
            update(Call).where(Call.id == call_id, Call.version == version)
            .values(version=Call.version + 1).execution_options(synchronize_session=False)
        ))
        return claimed.rowcount == 1


async def _touch(services: Services, call_id: int, now: datetime) -> None:
    """The provider says the call is on: it counts as heard of now (asked again after the stale time)."""
    async with services.transaction() as unit:
        await unit.session.execute(
            update(Call).where(Call.id == call_id).values(updated_at=now).execution_options(synchronize_session=False)
        )
