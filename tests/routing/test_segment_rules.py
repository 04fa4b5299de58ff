"""Ingest rules on saved segments: a key account's new conversation gets its priority in a running hub."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.db.models import RoutingEntry
from tests.factories import create_user, send_inbound, services_of
from tests.routing.conftest import Client, eventually
from tests.routing.test_service import _queue_priority, events_of


async def entry_of(client: Client, conversation_id: int) -> int | None:
    async with services_of(client).sessions() as session:
        return await session.scalar(
            select(RoutingEntry.conversation_id).where(RoutingEntry.conversation_id == conversation_id)
        )


@pytest.fixture
def routing_tables() -> dict[str, Any]:
    return {
        "lease": 1,
        "stats_interval": 0.2,
        "rules": [{"name": "key-accounts", "segments": ["Key accounts"], "raise_priority": 4}],
    }


async def test_a_member_of_the_rules_segment_gets_priority_others_do_not(hub: Client) -> None:
    supervisor = await create_user(services_of(hub), role="supervisor")
    segment = {"name": "Key accounts", "definition": {"all": [{"field": "lifecycle_stage", "op": "eq",
                                                                "value": "customer"}, {"tag": "key-account"}]}}
    resp = await hub.post("/api/v1/segments", json=segment, headers=supervisor.headers)
    assert resp.status == 201, await resp.text()
    body = {"name": "Großkunde", "emails": ["einkauf@grosskunde.example"], "lifecycle_stage": "customer",
            "tags": ["key-account"]}
    resp = await hub.post("/api/v1/contacts", json=body, headers=supervisor.headers)
    assert resp.status == 201, await resp.text()

    key = (await send_inbound(hub, sender={"email": "einkauf@grosskunde.example"}))["conversation_id"]
    other = (await send_inbound(hub, sender={"email": "jemand@example.test"}))["conversation_id"]

    async def raised() -> Any:
        found = await _queue_priority(hub, key)
        return found if found[1] == 5 else None

    await eventually(raised, what="the segment rule")
    (changed,) = await events_of(hub, "conversation.priority_changed", key)
    assert changed.data["reason"] == "rule:key-accounts"
    # Routing holds an entry for a conversation once its rules were applied.
    await eventually(lambda: entry_of(hub, other), what="routing to see the other conversation")
    assert (await _queue_priority(hub, other))[1] == 1
    assert await events_of(hub, "conversation.priority_changed", other) == []
