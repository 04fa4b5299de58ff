"""The consent ledger decides what may be sent, when the reply is written and again when it is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.crm_link import consent
from hub.crm_link.consent import (
    ConsentMissing,
    ConsentWithdrawn,
    ContactErased,
    ensure_outbound_allowed,
    record_consent,
)
from hub.db.models import (
    ConsentRecord,
    Contact,
    EventRecord,
    Message,
    OutboxItem,
    TimelineEntry,
    utcnow,
)
from hub.errors import Conflict, ValidationFailed
from hub.inbox import actions
from hub.inbox.outbox import Dispatcher
from tests.inbox.outbound_env import Env, FakeClock


async def contact_of(env: Env) -> int:
    return (await env.customer_writes()).contact_id


async def say(env: Env, contact_id: int, purpose: str, channel: str, granted: bool, **kw: object) -> ConsentRecord:
    async with env.services.transaction() as unit:
        return await record_consent(unit, contact_id, purpose, channel, granted, "web_form", **kw)  # type: ignore[arg-type]


async def allowed(env: Env, contact_id: int, channel: str, purpose: str = "service") -> bool | str:
    async with env.services.sessions() as session:
        try:
            await ensure_outbound_allowed(session, contact_id, channel, purpose=purpose)
        except consent.OutboundRefused as exc:
            return exc.code
    return True


async def test_without_statements_service_is_allowed_and_marketing_needs_consent(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    assert await allowed(hub_env, contact_id, "sms") is True
    assert await allowed(hub_env, contact_id, "sms", "marketing") == "consent_missing"
    await say(hub_env, contact_id, "marketing", "email", True, text_version="newsletter-v3")
    assert await allowed(hub_env, contact_id, "email", "marketing") is True
    assert await allowed(hub_env, contact_id, "sms", "marketing") == "consent_missing"


async def test_the_newest_statement_wins_and_all_withdraws_everywhere(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    await say(hub_env, contact_id, "service", "sms", False)
    assert await allowed(hub_env, contact_id, "sms") == "consent_withdrawn"
    assert await allowed(hub_env, contact_id, "email") is True
    await say(hub_env, contact_id, "service", "sms", True)
    assert await allowed(hub_env, contact_id, "sms") is True
    await say(hub_env, contact_id, "all", "all", False)
    for channel in consent.CHANNELS:
        assert await allowed(hub_env, contact_id, channel) == "consent_withdrawn"
    assert await allowed(hub_env, contact_id, "some-new-channel-type") == "consent_withdrawn"
    await say(hub_env, contact_id, "service", "email", True)
    assert await allowed(hub_env, contact_id, "email") is True
    assert await allowed(hub_env, contact_id, "sms") == "consent_withdrawn"


async def test_a_late_recorded_older_statement_does_not_override_a_newer_one(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    await say(hub_env, contact_id, "service", "email", False)
    await say(hub_env, contact_id, "service", "email", True, occurred_at=utcnow() - timedelta(days=30))
    assert await allowed(hub_env, contact_id, "email") == "consent_withdrawn"
    async with hub_env.services.sessions() as session:
        states = {(s.purpose, s.channel): s for s in await consent.consent_states(session, contact_id)}
    assert states[("service", "email")].granted is False and not states[("service", "email")].allowed
    assert states[("service", "sms")].granted is None and states[("service", "sms")].allowed
    assert states[("marketing", "sms")].granted is None and not states[("marketing", "sms")].allowed
    assert len(states) == len(consent.PURPOSES) * len(consent.CHANNELS)


@pytest.mark.parametrize(
    ("purpose", "channel", "granted", "source"),
    [
        ("all", "sms", True, "web_form"),
        ("marketing", "all", True, "web_form"),
        ("spam", "sms", False, "web_form"),
        ("service", "fax", False, "web_form"),
        ("service", "sms", False, "Web Form"),
    ],
)
async def test_statements_outside_the_vocabulary_are_refused_and_nothing_is_written(
    hub_env: Env, purpose: str, channel: str, granted: bool, source: str
) -> None:
    contact_id = await contact_of(hub_env)
    with pytest.raises(ValidationFailed):
        async with hub_env.services.transaction() as unit:
            await record_consent(unit, contact_id, purpose, channel, granted, source)
    assert await hub_env.count(ConsentRecord) == 0
    assert await hub_env.count(TimelineEntry, TimelineEntry.kind == "consent_changed") == 0


async def test_a_statement_is_on_the_timeline_and_an_event_without_its_evidence(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    record = await say(
        hub_env, contact_id, "service", "sms", False, evidence={"keyword": "STOP", "message_id": 17}
    )
    async with hub_env.services.sessions() as session:
        entry = await session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "consent_changed"))
        event = await session.scalar(select(EventRecord).where(EventRecord.type == "contact.consent_changed"))
        stored = await session.get(ConsentRecord, record.id)
    expected = {"consent_id": record.id, "purpose": "service", "channel": "sms", "granted": False, "source": "web_form"}
    assert entry is not None and entry.contact_id == contact_id and entry.data == expected
    assert event is not None and event.contact_id == contact_id and event.data == expected
    assert stored is not None and stored.evidence == {"keyword": "STOP", "message_id": 17}


async def test_a_reply_to_a_contact_who_withdrew_is_refused_with_a_409_and_stores_nothing(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    await say(hub_env, inbound.contact_id, "service", "api", False)
    with pytest.raises(ConsentWithdrawn) as refused:
        await actions.reply(
            hub_env.services, hub_env.agent, inbound.conversation_id, "Hallo", private=False, adapters=hub_env.adapters
        )
    assert refused.value.status == 409 and refused.value.extra["code"] == "consent_withdrawn"
    assert await hub_env.count(OutboxItem) == 0
    assert await hub_env.count(Message, Message.direction == "out") == 0
    # A private note is not a message to the customer.
    await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Kunde will nichts", private=True,
        adapters=hub_env.adapters,
    )


async def test_a_reply_queued_before_the_withdrawal_never_goes_out(hub_env: Env) -> None:
    inbound = await hub_env.customer_writes()
    message = await actions.reply(
        hub_env.services, hub_env.agent, inbound.conversation_id, "Hallo", private=False, adapters=hub_env.adapters
    )
    await say(hub_env, inbound.contact_id, "all", "all", False)
    worker = Dispatcher(hub_env.services, hub_env.adapters, clock=FakeClock(utcnow()), rand=lambda: 0.0)
    assert await worker.run_once() == 1
    assert hub_env.receiver.received == []
    failed = await hub_env.get(Message, message.id)
    assert failed.status == "failed" and "withdrew consent" in failed.error
    async with hub_env.services.sessions() as session:
        outbox = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    assert outbox is not None and outbox.state == "dead"


async def test_an_erased_contact_gets_nothing_and_takes_no_statements(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    async with hub_env.services.sessions() as session, session.begin():
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        contact.erased_at = utcnow()
    with pytest.raises(ContactErased):
        async with hub_env.services.sessions() as session:
            await ensure_outbound_allowed(session, contact_id, "email")
    with pytest.raises(Conflict):
        await say(hub_env, contact_id, "service", "email", True)


def test_adapters_map_to_consent_channels() -> None:
    class Whatsapp:
        type = "twilio"
        consent_channel = "whatsapp"

    class Sms:
        type = "twilio"

    assert consent.consent_channel_of(Whatsapp()) == "whatsapp"
    assert consent.consent_channel_of(Sms()) == "sms"
    assert consent.consent_channel_for_type("email") == "email"
    assert consent.consent_channel_for_type("carrier-pigeon") == "carrier-pigeon"


async def test_marketing_needs_a_grant_even_without_any_statement(hub_env: Env) -> None:
    contact_id = await contact_of(hub_env)
    with pytest.raises(ConsentMissing) as missing:
        async with hub_env.services.sessions() as session:
            await ensure_outbound_allowed(session, contact_id, "email", purpose="marketing")
    assert missing.value.extra == {
        "type": "urn:hub:problem:consent_missing", "code": "consent_missing", "purpose": "marketing", "channel": "email",
    }
