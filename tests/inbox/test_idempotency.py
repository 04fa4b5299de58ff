"""Idempotency-Key: one action per (user, key), the stored answer for every repeat."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import pytest

from hub.db.models import IdempotencyKey, Message, OutboxItem
from hub.errors import BadRequest, Conflict, ValidationFailed
from hub.inbox import actions
from hub.inbox.idempotency import StoredResponse, fingerprint, parse_key, run_idempotent
from hub.services import Unit
from tests.inbox.outbound_env import Env


def replying(env: Env, conversation_id: int, text: str = "Hallo"):  # type: ignore[no-untyped-def]
    async def perform(unit: Unit) -> StoredResponse:
        message = await actions.reply(
            env.services, env.agent, conversation_id, text, private=False, adapters=env.adapters, unit=unit
        )
        return StoredResponse(201, msgspec.json.encode({"id": message.id}))

    return perform


def test_keys_are_checked() -> None:
    assert parse_key(None) is None
    assert parse_key(" abc-123 ") == "abc-123"
    for bad in ("", "   ", "a b", "ä", "x" * 201, "tab\there"):
        with pytest.raises(BadRequest):
            parse_key(bad)
    assert fingerprint("POST", "/a", b"{}") != fingerprint("POST", "/a", b"{} ")
    assert fingerprint("POST", "/a", b"1") != fingerprint("POST", "/a1", b"")


async def test_a_repeat_returns_the_stored_answer_and_does_nothing(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    fp = fingerprint("POST", "/x", b"a")
    uid = hub_env.agent.user_id
    first = await run_idempotent(hub_env.services, uid, "k1", fp, replying(hub_env, inbound.conversation_id))
    second = await run_idempotent(hub_env.services, uid, "k1", fp, replying(hub_env, inbound.conversation_id))
    assert (first.replayed, second.replayed) == (False, True)
    assert (second.status, second.body) == (first.status, first.body)
    assert await hub_env.count(Message, Message.direction == "out") == 1
    with pytest.raises(ValidationFailed, match="different request"):
        await run_idempotent(hub_env.services, uid, "k1", fingerprint("POST", "/x", b"b"), replying(hub_env, 1))
    # Keys belong to their user: another user's same key is a new request.
    other = await run_idempotent(hub_env.services, hub_env.colleague.user_id, "k1", fp, replying(hub_env, inbound.conversation_id))
    assert other.replayed is False
    assert await hub_env.count(OutboxItem) == 2


async def test_concurrent_submissions_with_one_key_make_one_message(
    hub_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.inbox.idempotency")
    inbound = await hub_env.customer_writes()
    fp = fingerprint("POST", "/x", b"a")
    results = await asyncio.gather(
        *(
            run_idempotent(hub_env.services, hub_env.agent.user_id, "same", fp, replying(hub_env, inbound.conversation_id))
            for _ in range(6)
        )
    )
    assert len({r.body for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await hub_env.count(Message, Message.direction == "out") == 1
    assert await hub_env.count(OutboxItem) == 1
    assert await hub_env.count(IdempotencyKey) == 1
    # The losers really raced: they rolled back on the unique key and answered from the winner.
    assert any("concurrent request" in r.getMessage() for r in caplog.records)


async def test_a_failed_action_stores_no_key(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes(channel="shop")  # cannot send
    fp = fingerprint("POST", "/x", b"a")
    with pytest.raises(Conflict):
        await run_idempotent(hub_env.services, hub_env.outsider.user_id, "k", fp, replying_as_outsider(hub_env, inbound.conversation_id))
    assert await hub_env.count(IdempotencyKey) == 0


def replying_as_outsider(env: Env, conversation_id: int):  # type: ignore[no-untyped-def]
    async def perform(unit: Unit) -> StoredResponse:
        await actions.reply(
            env.services, env.outsider, conversation_id, "x", private=False, adapters=env.adapters, unit=unit
        )
        return StoredResponse(201, b"{}")

    return perform
