"""Retention: the dry run lists exactly what the real run deletes; statistics of the timeline stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.crm_link import identities
from hub.crm_link.restriction import restrict_processing
from hub.crm_link.retention import (
    ConversationPolicy,
    RetentionSettings,
    claim_day,
    next_run,
    plan,
    run_retention,
)
from hub.db.models import (
    AuditEntry,
    Blob,
    Conversation,
    IdempotencyKey,
    Message,
    MessageAttachment,
    TimelineEntry,
    User,
    utcnow,
)
from hub.errors import ConfigError
from hub.inbox.ingest import ingest_batch
from hub.messages import Attachment, InboundMessage, Sender
from tests.crm_link.test_restriction import admin_of
from tests.inbox.outbound_env import Env

NOW = utcnow()
SETTINGS = RetentionSettings(
    idempotency_key_days=1,
    conversations=(
        ConversationPolicy("forms-30", 30, channels=("web-form",)),
        ConversationPolicy("everything-365", 365),
    ),
)


async def conversation(env: Env, email: str, *, resolved_days_ago: float | None, channel: str = "web-form",
                       attachment: bytes | None = None) -> int:
    message = InboundMessage(
        channel=channel, provider_message_id=f"{email}-{channel}", sender=Sender((identities.email(email),)),
        text=f"Text von {email}",
        attachments=(Attachment("f.txt", "text/plain", attachment),) if attachment else (),
    )
    async with env.services.transaction() as unit:
        results, events = await ingest_batch(unit.session, [message], env.services.endpoints, env.services.blobs, NOW)
        for event in events:
            unit.emit(event)
    conversation_id = results[0].conversation_id
    if resolved_days_ago is not None:
        async with env.services.sessions() as session, session.begin():
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id)
                .values(status="resolved", resolved_at=NOW - timedelta(days=resolved_days_ago))
            )
    return conversation_id


async def test_the_dry_run_lists_exactly_what_the_real_run_deletes(hub_env: Env) -> None:
    old_form = await conversation(hub_env, "a@x.de", resolved_days_ago=31, attachment=b"ONLY-HERE")
    young_form = await conversation(hub_env, "b@x.de", resolved_days_ago=29, attachment=b"SHARED")
    old_shop = await conversation(hub_env, "c@x.de", resolved_days_ago=100, channel="shop", attachment=b"SHARED")
    ancient_shop = await conversation(hub_env, "d@x.de", resolved_days_ago=400, channel="shop")
    still_open = await conversation(hub_env, "e@x.de", resolved_days_ago=None)  # open: never
    frozen = await conversation(hub_env, "f@x.de", resolved_days_ago=500)
    async with hub_env.services.sessions() as session:
        frozen_contact = (await session.get(Conversation, frozen)).contact_id  # type: ignore[union-attr]
        user_id = await session.scalar(select(User.id).limit(1))
    await restrict_processing(hub_env.services, admin_of(hub_env), frozen_contact, "legal hold")
    async with hub_env.services.sessions() as session, session.begin():
        for key, age in (("old", 2), ("new", 0)):
            session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint="f", status=201, response="{}",
                                       created_at=NOW - timedelta(days=age, hours=1)))

    dry = await run_retention(hub_env.services, SETTINGS, dry_run=True, now=NOW)
    assert dry.conversations == {"forms-30": [old_form], "everything-365": [ancient_shop]}
    assert (dry.idempotency_keys, dry.blobs) == (1, 1)  # "SHARED" is still used by a young conversation
    assert await hub_env.count(Conversation) == 6  # the dry run deletes nothing

    real = await run_retention(hub_env.services, SETTINGS, dry_run=False, now=NOW)
    assert real.conversations == dry.conversations
    assert (real.idempotency_keys, real.blobs) == (dry.idempotency_keys, dry.blobs)
    async with hub_env.services.sessions() as session:
        left = set((await session.scalars(select(Conversation.id))).all())
        blobs = (await session.scalars(select(Blob.size))).all()
        texts = (await session.scalars(select(Message.text))).all()
        keys = (await session.scalars(select(IdempotencyKey.key))).all()
        timeline = (await session.execute(
            select(TimelineEntry.kind, TimelineEntry.conversation_id).where(TimelineEntry.kind == "message_in")
        )).all()
        audit = await session.get(AuditEntry, real.audit_id)
        attachments = (await session.scalars(select(MessageAttachment.filename))).all()
    assert left == {young_form, old_shop, frozen, still_open}
    assert blobs == [len(b"SHARED")] and len(attachments) == 2
    assert "Text von a@x.de" not in texts and "Text von d@x.de" not in texts
    assert keys == ["new"]
    # The contacts' timelines keep what happened (kind and time), without the deleted conversation.
    assert sorted(cid is None for _kind, cid in timeline) == [False, False, False, False, True, True]
    assert audit is not None and audit.data["conversations"] == {"forms-30": 1, "everything-365": 1}

    again = await run_retention(hub_env.services, SETTINGS, dry_run=True, now=NOW)
    assert again.conversations == {"forms-30": [], "everything-365": []}


async def test_a_conversation_reopened_after_the_plan_is_not_deleted(hub_env: Env) -> None:
    old = await conversation(hub_env, "a@x.de", resolved_days_ago=400, channel="shop")
    async with hub_env.services.sessions() as session:
        planned = await plan(session, SETTINGS, NOW)
    assert planned.conversations["everything-365"] == [old]
    async with hub_env.services.sessions() as session, session.begin():
        await session.execute(update(Conversation).values(status="open", resolved_at=None))
    report = await run_retention(hub_env.services, SETTINGS, dry_run=False, now=NOW)
    assert report.conversations == {"forms-30": [], "everything-365": []}
    assert await hub_env.count(Conversation) == 1


async def test_the_daily_run_happens_once_per_day_across_processes(hub_env: Env) -> None:
    day = NOW.replace(hour=3, minute=30)
    assert await claim_day(hub_env.services, day) is True
    assert await claim_day(hub_env.services, day + timedelta(minutes=1)) is False
    assert await claim_day(hub_env.services, day + timedelta(days=1)) is True


def test_next_run_and_settings() -> None:
    settings = RetentionSettings.from_config({"run_at": "03:30", "conversations": [
        {"name": "chat", "resolved_days": 90, "channel_types": ["webchat"]}]})
    assert settings.conversations == (ConversationPolicy("chat", 90, (), ("webchat",)),)
    morning = NOW.replace(hour=2, minute=0, second=0, microsecond=0)
    assert next_run(settings, morning) == morning.replace(hour=3, minute=30)
    assert next_run(settings, morning.replace(hour=4)) == morning.replace(hour=3, minute=30) + timedelta(days=1)
    assert next_run(RetentionSettings.from_config({"run_at": ""}), morning) is None
    for bad in ({"run_at": "3:30"}, {"run_at": "25:00"}, {"idempotency_key_days": -1}, {"keep": 1},
                {"conversations": [{"name": "x"}]}, {"conversations": [{"name": "x", "resolved_days": 0}]},
                {"conversations": [{"name": "x", "resolved_days": 5}, {"name": "x", "resolved_days": 6}]},
                {"conversations": [{"name": "x", "resolved_days": 5, "channels": "web"}]}):
        with pytest.raises(ConfigError):
            RetentionSettings.from_config(bad)
