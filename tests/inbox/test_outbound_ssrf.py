"""SSRF guard on the API channel's callback: only allowed networks are ever called."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.channels.base import AdapterContext
from hub.channels.registry import build_adapter
from hub.config import ChannelConfig
from hub.db.models import Message, OutboxItem
from hub.errors import ConfigError
from hub.inbox import actions
from hub.inbox.outbox import Dispatcher
from hub.net import DestinationPolicy, create_http_session
from tests.conftest import API_TOKEN, make_settings
from tests.inbox.callback_receiver import SECRET, CallbackReceiver
from tests.inbox.outbound_env import FakeClock, channels, outbound_env


@pytest.mark.parametrize(("allow", "delivered"), [((), False), (("127.0.0.0/8", "::1/128"), True)])
async def test_a_callback_host_resolving_to_a_disallowed_address_is_never_called(
    database_url: str, tmp_path: Path, receiver: CallbackReceiver, allow: tuple[str, ...], delivered: bool
) -> None:
    # "localhost" passes the configuration check (a name) but resolves to loopback:
    # unless loopback is allowed, the guarded resolver refuses to connect.
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    async with outbound_env(
        database_url, tmp_path / "data", receiver, channels=channels(by_name), outbound_allow_networks=allow
    ) as env:
        inbound = await env.customer_writes()
        message = await actions.reply(
            env.services, env.agent, inbound.conversation_id, "hallo", private=False, adapters=env.adapters
        )
        await Dispatcher(env.services, env.adapters, clock=FakeClock()).run_once()
        async with env.services.sessions() as session:
            outbox = (await session.scalars(select(OutboxItem))).one()
            stored = await session.get(Message, message.id)
        assert stored is not None
        if delivered:
            assert (stored.status, outbox.state) == ("sent", "done")
            assert receiver.ids() == [str(message.id)]
        else:
            # Retrying cannot change the policy: a dead letter at once, with the reason.
            assert (stored.status, outbox.state, outbox.attempts) == ("failed", "dead", 1)
            assert outbox.last_error is not None and "outbound address policy" in outbox.last_error
            assert "localhost resolves to" in outbox.last_error
            assert receiver.received == [] and receiver.rejected == 0


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:9/hook", ("10.0.0.0/8",)),  # loopback, only 10/8 allowed
        ("http://169.254.169.254/latest/meta-data", ("127.0.0.0/8",)),  # cloud metadata
        ("http://[::1]:9/hook", ()),
        ("ftp://example.com/hook", ()),
    ],
)
async def test_a_disallowed_callback_address_stops_the_channel_at_start(
    tmp_path: Path, url: str, allow: tuple[str, ...]
) -> None:
    settings = make_settings("sqlite+aiosqlite:///unused", tmp_path, outbound_allow_networks=allow)
    config = ChannelConfig(
        type="api", name="web-form", queue="support",
        options={"token": API_TOKEN, "callback_url": url, "callback_secret": SECRET},
    )

    async def unused(*_: object) -> None:
        raise AssertionError

    async with create_http_session(DestinationPolicy(allow)) as http:
        context = AdapterContext(settings=settings, http=http, ingest=unused, report_status=unused)
        with pytest.raises(ConfigError, match="callback_url"):
            build_adapter(config, context)
