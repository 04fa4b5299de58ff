"""Identity resolution at ingest: one person, whichever channel they use."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub.crm_link import identities
from hub.db.models import Channel, Contact, ContactIdentity, Conversation
from hub.inbox.ingest import IngestResult, ingest_batch
from hub.messages import InboundMessage, Sender
from hub.services import Endpoint
from tests.inbox.outbound_env import Env


async def endpoints(env: Env, *specs: tuple[str, str]) -> dict[str, Endpoint]:
    """Channel rows for (name, type) as the SMS, WhatsApp and voice channels will create them."""
    async with env.services.sessions() as session, session.begin():
        for name, type_ in specs:
            session.add(Channel(name=name, type=type_))
    async with env.services.sessions() as session:
        rows = (await session.execute(select(Channel.id, Channel.name, Channel.type))).all()
    return {name: Endpoint(cid, name, type_, None) for cid, name, type_ in rows}


async def ingest(env: Env, found: dict[str, Endpoint], *messages: InboundMessage) -> list[IngestResult]:
    async with env.services.transaction() as unit:
        results, events = await ingest_batch(
            unit.session, list(messages), found, env.services.blobs, datetime.now(UTC)
        )
        for event in events:
            unit.emit(event)
    return results


def message(channel: str, id_: str, number: str, text: str, name: str | None = None) -> InboundMessage:
    return InboundMessage(
        channel=channel, provider_message_id=id_, sender=Sender((identities.phone(number),), name=name), text=text
    )


async def test_the_same_phone_on_sms_whatsapp_and_a_call_is_one_contact(hub_env: Env) -> None:
    found = await endpoints(hub_env, ("sms-de", "twilio"), ("whatsapp-de", "twilio"), ("voice", "cti"))
    sms, = await ingest(hub_env, found, message("sms-de", "SM1", "+49 151 2345 6789", "Paket fehlt"))
    # Separate commits, and one batch in which two channels meet the number at once.
    whatsapp, call = await ingest(
        hub_env,
        found,
        message("whatsapp-de", "WA1", "whatsapp:+4915123456789", "Hallo?", name="Erika"),
        message("voice", "CA1", "sip:+4915123456789@pbx.example.de", "Anruf"),
    )
    again, = await ingest(hub_env, found, message("sms-de", "SM2", "tel:+49-151-23456789", "Noch da?"))
    assert {sms.contact_id, whatsapp.contact_id, call.contact_id, again.contact_id} == {sms.contact_id}
    async with hub_env.services.sessions() as session:
        contacts = (await session.scalars(select(Contact))).all()
        addresses = (await session.execute(select(ContactIdentity.kind, ContactIdentity.address))).all()
        conversations = (await session.execute(select(Conversation.channel_id, Conversation.contact_id))).all()
    assert len(contacts) == 1 and contacts[0].name == "Erika"
    assert addresses == [("phone", "+4915123456789")]
    assert len(conversations) == 3 and {c for _, c in conversations} == {sms.contact_id}


async def test_a_new_sender_in_one_batch_on_two_channels_is_still_one_contact(hub_env: Env) -> None:
    found = await endpoints(hub_env, ("sms-de", "twilio"), ("whatsapp-de", "twilio"))
    first, second = await ingest(
        hub_env,
        found,
        message("sms-de", "SM1", "+4917000000001", "eins"),
        message("whatsapp-de", "WA1", "whatsapp:+4917000000001", "zwei"),
    )
    assert first.contact_id == second.contact_id
    assert await hub_env.count(Contact) == 1
