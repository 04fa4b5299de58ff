"""The stale-call sweeper's lifecycle: every ``[calls] sweep_interval``, in every hub process.

The processes never handle one call twice (``hub.inbox.call_sweeper`` claims each call);
voice channels that can ask their provider whether a call is still on get asked first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.api.keys import ADAPTERS, SERVICES
from hub.channels.calls import VoiceChannel
from hub.inbox.call_sweeper import Probe, SweepSettings, sweep_stale_calls
from hub.inbox.periodic import Periodic


def setup(app: web.Application) -> None:
    """Sweep with the app (after the adapters, which it asks)."""
    app.cleanup_ctx.append(_sweeper)


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = SweepSettings.from_config(services.settings.calls)
    probes: dict[str, Probe] = {
        name: adapter.call_status for name, adapter in app[ADAPTERS].items() if isinstance(adapter, VoiceChannel)
    }

    async def round() -> None:
        await sweep_stale_calls(services, settings, probes)

    worker = Periodic("call-sweeper", round, settings.sweep_interval)
    await worker.start()
    yield
    await worker.aclose()
