"""The ``AdapterContext`` every channel adapter gets: settings, HTTP, and the inbox's entries."""

from __future__ import annotations

import aiohttp

from hub.channels.base import AdapterContext
from hub.inbox.call_desk import CallService
from hub.inbox.channel_storage import DbChannelStorage
from hub.inbox.service import Inbox
from hub.inbox.statuses import apply_status_event
from hub.messages import InboundMessage, StatusEvent
from hub.services import Services


def adapter_context(services: Services, http: aiohttp.ClientSession, inbox: Inbox) -> AdapterContext:
    """Wire adapters to this process's inbox, status updates and channel storage."""

    async def ingest(message: InboundMessage) -> object:
        return await inbox.ingest(message)

    async def report_status(event: StatusEvent) -> None:
        await apply_status_event(services, event)

    return AdapterContext(
        settings=services.settings,
        http=http,
        ingest=ingest,
        report_status=report_status,
        storage=DbChannelStorage(services),
        calls=CallService(services),  # the one call service of every telephony channel
    )
