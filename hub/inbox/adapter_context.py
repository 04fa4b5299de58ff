"""The ``AdapterContext`` every channel adapter gets: settings, HTTP, and the inbox's entries."""

from __future__ import annotations

import aiohttp

from hub.calls import CallEvent, CallResult, CallView
from hub.channels.base import AdapterContext
from hub.inbox.call_recordings import attach_recording
from hub.inbox.calls import find_call, record_call_event
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
        calls=InboxCalls(services),
    )


class InboxCalls:
    """``hub.calls.CallSink`` over the inbox: what telephony adapters report goes to ``hub.inbox.calls``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def report(self, event: CallEvent) -> CallResult:
        return await record_call_event(self.services, event)

    async def find(self, channel: str, provider_call_id: str) -> CallView | None:
        return await find_call(self.services, channel, provider_call_id)

    async def attach_recording(
        self, channel: str, provider_call_id: str, content: bytes, content_type: str,
        *, duration_seconds: int | None = None,
    ) -> None:
        await attach_recording(self.services, channel, provider_call_id, content, content_type,
                               duration_seconds=duration_seconds)
