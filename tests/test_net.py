"""The SSRF guard for outgoing requests."""

from __future__ import annotations

import ipaddress

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.net import BlockedDestination, DestinationPolicy, blocked_reason, create_http_session


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
     "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1"],
)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert not DestinationPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert DestinationPolicy().permits(ipaddress.ip_address(address))


def test_an_allowlist_opens_chosen_networks() -> None:
    policy = DestinationPolicy(["10.0.0.0/8"])
    assert policy.permits(ipaddress.ip_address("10.9.9.9"))
    assert not policy.permits(ipaddress.ip_address("192.168.0.1"))


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "http://127.0.0.1/", "http://[::1]/",
     "http:///nohost"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedDestination):
        DestinationPolicy().check_url(url)


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time() -> None:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="reached")

    app = web.Application()
    app.router.add_get("/", ok)
    async with TestServer(app, host="127.0.0.1") as server:
        url = f"http://localhost:{server.port}/"
        async with create_http_session(DestinationPolicy()) as session:
            with pytest.raises(aiohttp.ClientConnectorError) as refused:
                await session.get(url)
            reason = blocked_reason(refused.value)
            assert reason is not None and reason.startswith("localhost resolves to")
        allowed = create_http_session(DestinationPolicy(["127.0.0.0/8", "::1/128"]))
        async with allowed as session, session.get(url) as resp:
            assert await resp.text() == "reached"
