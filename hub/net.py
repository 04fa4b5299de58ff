"""Outgoing HTTP: one shared client session whose every connection is SSRF-guarded.

A URL from configuration or a provider may point at the hub's own network (cloud
metadata at 169.254.169.254, the database, an admin panel). Every hostname is
checked after DNS resolution, at connect time, so a DNS answer that changes between
check and use (rebinding) cannot slip through; IP literals are checked before the
request. Operators allow internal targets explicitly with
``[security] outbound_allow_networks``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from hub.errors import HubError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedDestination(HubError):
    """An outgoing request would reach an address the hub must not call."""

    status = 422
    title = "Destination not allowed"


class BlockedAddress(OSError):
    """Raised by the resolver; aiohttp hands it on as the ``os_error`` of a connector error."""


def blocked_reason(exc: BaseException) -> str | None:
    """Why a failed request was refused by the guard, or None if it failed otherwise."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedAddress):
            return str(seen)
        if isinstance(seen, aiohttp.ClientConnectorError) and isinstance(seen.os_error, BlockedAddress):
            return str(seen.os_error)
        seen = seen.__cause__
    return None


class DestinationPolicy:
    """Decides which addresses outgoing requests may reach: public ones plus an allowlist."""

    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(net, strict=False) for net in allow_networks
        )

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed):
            return True
        return address.is_global and not address.is_multicast

    def check_url(self, url: str) -> None:
        """Reject non-HTTP schemes, credentials in the URL and forbidden IP literals."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BlockedDestination(f"only http and https URLs may be called, not {parts.scheme!r}")
        if not parts.hostname:
            raise BlockedDestination("the URL has no host")
        if parts.username or parts.password:
            raise BlockedDestination("credentials in URLs are not allowed")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        if not self.permits(literal):
            raise BlockedDestination(f"address {literal} is not allowed")


class GuardedResolver(AbstractResolver):
    """Resolves names and refuses answers that contain a forbidden address."""

    def __init__(self, policy: DestinationPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if not self._policy.permits(address):
                raise BlockedAddress(f"{host} resolves to {address}, which is not allowed")
        return results

    async def close(self) -> None:
        await self._inner.close()


def create_http_session(policy: DestinationPolicy, **kwargs: Any) -> aiohttp.ClientSession:
    """The process's shared client session, guarded by ``policy``."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy), limit=100)
    timeout = aiohttp.ClientTimeout(total=30, connect=10)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, **kwargs)
