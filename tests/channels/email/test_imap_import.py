"""Mail in a real Dovecot mailbox arrives in the inbox: pushed, polled, never twice, never missed."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from hub.api.keys import ADAPTERS
from hub.db.models import Contact, Conversation, Message
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


async def _idling(adapter: Any) -> bool:
    folder = adapter.status()["folders"].get("INBOX", {})
    return bool(folder.get("connected")) and folder.get("mode") == "idle" and folder.get("last_sync_at") is not None


async def messages(client: Any) -> list[Message]:
    async with services_of(client).sessions() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def test_mail_already_in_the_mailbox_is_imported_with_its_sender(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    await other_client.append(plain_mail(1, sender="Erika@Example.org"))
    await other_client.append(plain_mail(2, sender="max@example.org"))
    client = await email_hub()
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as session:
        rows = (await session.execute(select(Message.provider_message_id, Message.text, Conversation.subject, Contact.name)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Contact, Contact.id == Conversation.contact_id).order_by(Message.id))).all()
    assert [r[0].split("#")[0] for r in rows] == ["m1@example.org", "m2@example.org"]
    assert rows[0][1] == "Nachricht Nummer 1." and rows[0][2] == "Frage 1" and rows[0][3] == "Kunde 1"


async def test_idle_pushes_new_mail_without_waiting_for_a_poll(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    client = await email_hub(poll_seconds=3600, idle_renew_seconds=3600)
    adapter = client.app[ADAPTERS][CHANNEL]
    await eventually(lambda: _idling(adapter), 10, "the folder worker idling")
    await other_client.append(plain_mail(3))
    await wait_for_inbound(client, 1, seconds=10)


async def test_polling_finds_new_mail_when_idle_is_off(email_hub: HubFactory, other_client: OtherClient) -> None:
    client = await email_hub(imap_idle=False, poll_seconds=0.3)
    await asyncio.sleep(0.5)
    await other_client.append(plain_mail(4))
    await wait_for_inbound(client, 1, seconds=10)


async def test_a_mail_read_in_another_client_is_still_imported(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    await other_client.append(plain_mail(5), flags="(\\Seen)")
    client = await email_hub()
    await wait_for_inbound(client, 1)
    uid = (await other_client.uids())[0]
    assert b"\\Seen" in await other_client.flags(uid)


async def test_after_a_restart_nothing_is_imported_twice(email_hub: HubFactory, other_client: OtherClient) -> None:
    for n in range(6, 11):
        await other_client.append(plain_mail(n))
    first = await email_hub()
    await wait_for_inbound(first, 5)
    services = services_of(first)
    await first.close()
    await other_client.append(plain_mail(11))
    second = await email_hub()
    await wait_for_inbound(second, 6)
    await asyncio.sleep(1.0)  # a second sync round after the restart
    assert await count_inbound(services_of(second)) == 6
    del services


async def test_the_first_sync_takes_only_the_configured_window(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    await other_client.append(plain_mail(1), arrived=now - timedelta(days=90))  # long dealt with
    await other_client.append(plain_mail(2), arrived=now - timedelta(days=2))
    client = await email_hub(first_sync_days=30, gap_check_seconds=0.3)
    await wait_for_inbound(client, 1)
    adapter = client.app[ADAPTERS][CHANNEL]

    async def gap_checked_twice() -> bool:
        folder = adapter.status()["folders"]["INBOX"]
        synced, checked = folder["last_sync_at"], folder["last_gap_check_at"]
        return synced is not None and checked is not None and synced > checked  # None: not yet

    await eventually(gap_checked_twice, what="a gap check after the first sync")
    await asyncio.sleep(0.5)
    async with services_of(client).sessions() as session:
        ids = [i.split("#")[0] for i in (await session.scalars(select(Message.provider_message_id))).all() if i]
    assert ids == ["m2@example.org"]  # the old mail is no gap


async def test_first_sync_days_zero_imports_only_new_mail(email_hub: HubFactory, other_client: OtherClient) -> None:
    await other_client.append(plain_mail(1))
    client = await email_hub(first_sync_days=0)
    adapter = client.app[ADAPTERS][CHANNEL]
    await eventually(lambda: _idling(adapter), 10, "the first sync")
    await other_client.append(plain_mail(2))
    await wait_for_inbound(client, 1)
    await asyncio.sleep(0.5)
    async with services_of(client).sessions() as session:
        ids = [i.split("#")[0] for i in (await session.scalars(select(Message.provider_message_id))).all() if i]
    assert ids == ["m2@example.org"]


async def test_the_senders_display_name_fills_an_empty_contact_name(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    nameless = plain_mail(1).replace(b"From: Kunde 1 <kunde@example.org>", b"From: kunde@example.org")
    await other_client.append(nameless)
    client = await email_hub()
    await wait_for_inbound(client, 1)
    async with services_of(client).sessions() as session:
        assert (await session.scalars(select(Contact.name))).one() is None
    await other_client.append(plain_mail(2).replace(b"Kunde 2", "Jürgen Müller".encode()))
    await wait_for_inbound(client, 2)
    async with services_of(client).sessions() as session:
        assert (await session.scalars(select(Contact.name))).all() == ["Jürgen Müller"]
