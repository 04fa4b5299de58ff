"""Restriction of processing (Art. 18): stored, but nothing goes out and automation skips the contact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.auth.principal import Principal, Role
from hub.crm_link.consent import ProcessingRestricted
from hub.crm_link.restriction import (
    is_restricted,
    lift_restriction,
    restrict_processing,
    unrestricted,
)
from hub.db.models import (
    AuditEntry,
    Contact,
    EventRecord,
    Message,
    OutboxItem,
    TimelineEntry,
    utcnow,
)
from hub.errors import Forbidden
from hub.inbox import actions
from hub.inbox.outbox import Dispatcher
from tests.inbox.outbound_env import Env, FakeClock


def admin_of(env: Env) -> Principal:
    return Principal(
        user_id=env.supervisor.user_id, email="dpo@hub.test", name="DPO", role=Role.ADMIN, queue_ids=frozenset(),
        via="token",
    )


async def test_a_restricted_contact_gets_no_reply_and_a_queued_one_stays_home(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    queued = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Vorher", private=False, adapters=hub_env.adapters
    )
    admin = admin_of(hub_env)
    contact = await restrict_processing(hub_env.services, admin, inbound.contact_id, "Richtigkeit bestritten")
    assert contact.restricted_at is not None and contact.restriction_reason == "Richtigkeit bestritten"

    with pytest.raises(ProcessingRestricted) as refused:
        await actions.reply(
            hub_env.services, hub_env.agent, inbound.conversation_id, "Nachher", private=False,
            adapters=hub_env.adapters,
        )
    assert refused.value.extra["code"] == "processing_restricted"
    await Dispatcher(hub_env.services, hub_env.adapters, clock=FakeClock(utcnow()), rand=lambda: 0.0).run_once()
    assert hub_env.receiver.received == []
    assert (await hub_env.get(Message, queued.id)).status == "failed"

    # Inbound messages are still stored: restriction is not deletion.
    again = await hub_env.customer_writes(id="m-2")
    assert again.contact_id == inbound.contact_id and not again.duplicate

    await lift_restriction(hub_env.services, admin, inbound.contact_id)
    reply = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Wieder da", private=False,
        adapters=hub_env.adapters,
    )
    assert reply.status == "queued"
    async with hub_env.services.sessions() as session:
        kinds = list(
            (
                await session.scalars(
                    select(TimelineEntry.kind)
                    .where(TimelineEntry.kind.in_(("restricted", "restriction_lifted")))
                    .order_by(TimelineEntry.id)
                )
            ).all()
        )
        audit = list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())
        events = list(
            (await session.scalars(select(EventRecord.type).where(EventRecord.type.like("contact.restrict%")))).all()
        )
        stored = await session.get(Contact, inbound.contact_id)
    assert kinds == ["restricted", "restriction_lifted"]
    assert audit[-2:] == ["contact.restricted", "contact.restriction_lifted"]
    assert events == ["contact.restricted", "contact.restriction_lifted"]
    assert stored is not None and stored.restricted_at is None and stored.restriction_reason is None


async def test_restricting_twice_records_once_and_lifting_nothing_changes_nothing(hub_env: Env) -> None:
    contact_id = (await hub_env.customer_writes()).contact_id
    admin = admin_of(hub_env)
    await lift_restriction(hub_env.services, admin, contact_id)
    first = await restrict_processing(hub_env.services, admin, contact_id, "a")
    second = await restrict_processing(hub_env.services, admin, contact_id, "b")
    assert second.restricted_at == first.restricted_at and second.restriction_reason == "b"
    assert await hub_env.count(TimelineEntry, TimelineEntry.kind.in_(("restricted", "restriction_lifted"))) == 1
    assert await hub_env.count(AuditEntry, AuditEntry.action.like("contact.restrict%")) == 1


async def test_only_admins_restrict(hub_env: Env) -> None:
    contact_id = (await hub_env.customer_writes()).contact_id
    for principal in (hub_env.agent, hub_env.supervisor):
        with pytest.raises(Forbidden):
            await restrict_processing(hub_env.services, principal, contact_id, None)
    async with hub_env.services.sessions() as session:
        assert not await is_restricted(session, contact_id)


async def test_automation_queries_skip_restricted_contacts(hub_env: Env) -> None:
    kept = (await hub_env.customer_writes(id="a", email="a@example.de")).contact_id
    frozen = (await hub_env.customer_writes(id="b", email="b@example.de")).contact_id
    await restrict_processing(hub_env.services, admin_of(hub_env), frozen, None)
    async with hub_env.services.sessions() as session:
        ids = set((await session.scalars(select(Contact.id).where(unrestricted(Contact.id)))).all())
        assert await is_restricted(session, frozen)
    assert ids == {kept}
    assert await hub_env.count(OutboxItem) == 0
