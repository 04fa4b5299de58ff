"""Several hub processes on one PostgreSQL: one reads each mailbox, another takes over."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from hub.api.keys import ADAPTERS
from hub.inbox import channel_storage
from tests.channels.email.conftest import (
    CHANNEL,
    HubFactory,
    OtherClient,
    count_inbound,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.factories import services_of


def role(client: Any) -> str:
    return str(client.app[ADAPTERS][CHANNEL].status()["role"])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # cluster mode is PostgreSQL
async def test_one_process_reads_the_mailbox_and_another_takes_over(
    email_hub: HubFactory, other_client: OtherClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_storage, "LOCK_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(channel_storage, "LOCK_CHECK_SECONDS", 0.3)
    first = await email_hub()
    await eventually(lambda: _is(first, "active"), what="the first hub reading the mailbox")
    second = await email_hub()
    await eventually(lambda: _is(second, "standby"), what="the second hub standing by")
    await other_client.append(plain_mail(1))
    await wait_for_inbound(first, 1)
    assert role(first) == "active" and role(second) == "standby"

    # The reader's database connection dies (a network cut, the process killed): the lock is gone.
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = ($1::bigint & 4294967295) AND pid <> pg_backend_pid()",
            channel_storage.lock_key(f"email:{CHANNEL}"),
        )
    finally:
        await admin.close()
    assert killed == 1
    await eventually(lambda: _one_active(first, second), what="exactly one reader again")
    await other_client.append(plain_mail(2))
    await wait_for_inbound(first, 2)

    # The reader stops: the other one takes over and imports what arrives.
    reader, other = (first, second) if role(first) == "active" else (second, first)
    await reader.close()
    await eventually(lambda: _is(other, "active"), what="the other hub taking over")
    await other_client.append(plain_mail(3))
    await wait_for_inbound(other, 3)
    assert await count_inbound(services_of(other)) == 3


async def _is(client: Any, wanted: str) -> bool:
    folder = client.app[ADAPTERS][CHANNEL].status()["folders"].get("INBOX", {})
    return role(client) == wanted and (wanted != "active" or bool(folder.get("connected")))


async def _one_active(a: Any, b: Any) -> bool:
    return sorted([role(a), role(b)]) == ["active", "standby"] and (await _is(a, "active") or await _is(b, "active"))
