"""The connector types hub knows, and building the configured ones (``[[connectors]]``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from hub.crm_link.connectors.base import Connector, ConnectorContext
from hub.crm_link.connectors.webhooks import WebhookFanout
from hub.errors import ConfigError
from hub.services import Services

# type -> class. An external CRM sync adds its class here.
CONNECTOR_TYPES: dict[str, type[Connector]] = {}

WEBHOOKS = "webhooks"  # the built-in connector that turns events into webhook deliveries
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def build_connectors(
    services: Services, http: aiohttp.ClientSession, configured: Sequence[Mapping[str, Any]]
) -> list[Connector]:
    """The built-in webhook connector plus one per ``[[connectors]]`` table; ConfigError when one is wrong."""
    connectors: list[Connector] = [WebhookFanout(WEBHOOKS, ConnectorContext(services, http))]
    seen = {WEBHOOKS}
    for table in configured:
        kind, name = table.get("type"), table.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name in seen:
            raise ConfigError(f"[[connectors]]: name {name!r} must be a unique lower-case word")
        if kind not in CONNECTOR_TYPES:
            known = ", ".join(sorted(CONNECTOR_TYPES)) or "none yet"
            raise ConfigError(f"connector {name!r}: unknown type {kind!r} (known: {known})")
        seen.add(name)
        options = {k: v for k, v in table.items() if k not in ("type", "name")}
        connectors.append(CONNECTOR_TYPES[str(kind)](name, ConnectorContext(services, http, options)))
    return connectors
