"""The connector interface: a module that follows hub's events to sync an outside system.

A connector (an external CRM, an ERP, hub's own outgoing webhooks) gets committed
domain events in order, in batches, from the events table; its position is a cursor
row, advanced only after ``handle`` returned, so an event is handled at least once
(make ``handle`` idempotent: events carry their id). A batch that raises is retried
with backoff. Events of contacts whose processing is restricted (Art. 18) never reach
a connector. Events carry ids and states only: fetch what you need through the
services (``context.services``), which see everything, and send as little as you can.

Write one by subclassing ``Connector``, add it to ``CONNECTOR_TYPES`` in
``hub.crm_link.connectors.registry`` and configure it::

    [[connectors]]
    type = "my-crm"
    name = "crm-sync"       # its cursor; renaming it starts from the newest event
    url = "https://crm.example.com/api"
    token_env = "CRM_TOKEN"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp

from hub.events import Event
from hub.services import Services


@dataclass
class ConnectorContext:
    """What a connector may use: the services, the shared (SSRF-guarded) HTTP client, its options."""

    services: Services
    http: aiohttp.ClientSession
    options: Mapping[str, Any] = field(default_factory=dict)


class Connector:
    """Base of every connector. ``event_types`` None: every event."""

    type: ClassVar[str]
    event_types: ClassVar[frozenset[str] | None] = None

    def __init__(self, name: str, context: ConnectorContext) -> None:
        self.name = name
        self.context = context

    async def start(self) -> None:
        """Prepare (log in, check the configuration); raise ``ConfigError`` to refuse to start."""

    async def idle(self) -> bool:
        """True when no event could matter now (e.g. nobody subscribed): the runner then moves
        the cursor past the waiting events without reading them. Default: never idle."""
        return False

    async def handle(self, events: Sequence[Event]) -> None:
        """Process a batch of committed events, oldest first; raise to get the batch again later."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what ``start`` took."""
