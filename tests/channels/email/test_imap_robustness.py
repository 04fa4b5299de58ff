"""What breaks other helpdesks' mail import: UIDVALIDITY resets, deletions mid-fetch, huge and
poisonous mails, gaps, one dead mailbox next to a live one."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from sqlalchemy import delete, select

from hub.api.keys import ADAPTERS
from hub.channels.email.imap import ImapSession
from hub.channels.email.mailbox import state_key
from hub.db.models import Message, QuarantinedItem
from tests.channels.email.conftest import (
    CHANNEL,
    HubFactory,
    OtherClient,
    count_inbound,
    count_quarantined,
    email_channel,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.channels.email.dovecot import Dovecot, free_port
from tests.factories import services_of


def folder_status(client: Any, folder: str = "INBOX", channel: str = CHANNEL) -> dict[str, Any]:
    return dict(client.app[ADAPTERS][channel].status()["folders"].get(folder, {}))


async def synced_after(client: Any, marker: str | None, folder: str = "INBOX") -> bool:
    last = folder_status(client, folder).get("last_sync_at")
    return last is not None and (marker is None or last > marker)


async def test_a_uidvalidity_change_resyncs_without_duplicates(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    await other_client.command("create", "Support")
    for n in (1, 2, 3):
        await other_client.append(plain_mail(n), folder="Support")
    first = await email_hub(imap_folders=["Support"])
    await wait_for_inbound(first, 3)
    old = folder_status(first, "Support")["uidvalidity"]
    await first.close()

    # The server forgets its UIDs: the folder is recreated with the same mails plus one.
    await other_client.command("select", "INBOX")
    await other_client.command("delete", "Support")
    for _attempt in range(3):
        await other_client.command("create", "Support")
        for n in (1, 2, 3, 4):
            await other_client.append(plain_mail(n), folder="Support")
        response = await other_client.command("select", "Support")
        if f"UIDVALIDITY {old}]".encode() not in b" ".join(response.lines):
            break
        await other_client.command("select", "INBOX")
        await other_client.command("delete", "Support")
        await asyncio.sleep(1.1)  # Dovecot takes UIDVALIDITY from the clock
    second = await email_hub(imap_folders=["Support"])
    await wait_for_inbound(second, 4)
    await eventually(lambda: synced_after(second, None, "Support"), what="a sync")
    status = folder_status(second, "Support")
    assert status["uidvalidity"] != old and status["uidvalidity_changes"] == 1
    assert await count_inbound(services_of(second)) == 4
    assert status["counts"].get("duplicate") == 3


async def test_a_mail_deleted_between_listing_and_fetching_is_skipped_cleanly(
    email_hub: HubFactory, other_client: OtherClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in (1, 2, 3):
        await other_client.append(plain_mail(n))
    victim = (await other_client.uids())[1]
    real_envelopes = ImapSession.envelopes
    deleted = asyncio.Event()

    async def envelopes_then_delete(self: ImapSession, uids: Any) -> Any:
        found = await real_envelopes(self, uids)
        if not deleted.is_set():
            await other_client.command("uid", "store", str(victim), "+FLAGS.SILENT", "(\\Deleted)")
            await other_client.command("uid", "expunge", str(victim))
            deleted.set()
        return found

    monkeypatch.setattr(ImapSession, "envelopes", envelopes_then_delete)
    client = await email_hub()
    await wait_for_inbound(client, 2)
    await eventually(lambda: synced_after(client, None), what="a sync")
    await asyncio.sleep(0.5)
    assert deleted.is_set()
    services = services_of(client)
    assert await count_inbound(services) == 2
    assert await count_quarantined(services) == 0
    assert folder_status(client)["last_error"] is None


async def test_a_20_mb_mail_is_imported_with_its_attachment(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    import base64

    payload = bytes(range(256)) * (15 * 4096)  # 15 MiB -> about 20 MiB as base64
    encoded = base64.encodebytes(payload).decode().replace("\n", "\r\n")
    raw = (
        "From: Kunde <big@example.org>\r\nTo: support@example.com\r\nSubject: Datei\r\n"
        "Message-ID: <big-1@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDie Datei im Anhang.\r\n"
        '--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="scan.bin"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--b--\r\n"
    ).encode()
    assert len(raw) > 20_000_000
    await other_client.append(raw)
    await other_client.append(plain_mail(2))
    client = await email_hub(max_message_bytes=64 << 20)
    await wait_for_inbound(client, 2, seconds=60)
    services = services_of(client)
    async with services.sessions() as session:
        from hub.db.models import MessageAttachment

        attachment = (await session.scalars(select(MessageAttachment))).one()
    assert attachment.size == len(payload) and attachment.filename == "scan.bin"
    assert await services.blobs.get(attachment.blob_sha256) == payload


async def test_a_mail_over_the_size_limit_keeps_only_its_headers_in_the_quarantine(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    await other_client.append(plain_mail(1, body="x" * 300_000))
    await other_client.append(plain_mail(2))
    client = await email_hub(max_message_bytes=100_000)
    await wait_for_inbound(client, 1)
    services = services_of(client)
    await eventually(lambda: _quarantined(services, 1), what="the quarantine entry")
    async with services.sessions() as session:
        item = (await session.scalars(select(QuarantinedItem))).one()
    assert item.reason == "too_large" and item.size > 300_000
    assert item.sender == "kunde@example.org" and item.subject == "Frage 1"
    raw = await services.blobs.get(item.blob_sha256 or "")
    assert b"Message-ID: <m1@example.org>" in raw and b"xxxx" not in raw


async def _quarantined(services: Any, n: int) -> bool:
    return await count_quarantined(services) >= n


async def test_a_poison_mail_is_quarantined_and_the_mail_behind_it_arrives(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    await other_client.append(plain_mail(1))
    await other_client.append(b"To: support@example.com\r\nSubject: who?\r\n\r\nno sender at all\r\n")
    await other_client.append(b"\x00\x01\x02 binary garbage \xff\xfe\r\n\r\n\x00")
    for n in (2, 3):
        await other_client.append(plain_mail(n))
    client = await email_hub()
    await wait_for_inbound(client, 3)
    services = services_of(client)
    await eventually(lambda: _quarantined(services, 2), what="two quarantine entries")
    async with services.sessions() as session:
        reasons = sorted((await session.scalars(select(QuarantinedItem.reason))).all())
    assert reasons == ["no_headers", "no_sender"]
    assert folder_status(client)["counts"] == {"imported": 3, "quarantined": 2}


async def test_a_gap_is_found_reported_and_filled(email_hub: HubFactory, other_client: OtherClient) -> None:
    for n in (1, 2, 3):
        await other_client.append(plain_mail(n))
    first = await email_hub()
    await wait_for_inbound(first, 3)
    services = services_of(first)
    await first.close()
    # Message 2 is lost from the database, and the folder state no longer counts it as done:
    # what a restore of the database from an older backup plus a bug would leave behind.
    from hub.inbox.channel_storage import DbChannelStorage

    storage = DbChannelStorage(services)
    async with services.sessions() as session, session.begin():
        await session.execute(delete(Message).where(Message.provider_message_id.startswith("m2@example.org#")))
    state = await storage.load_state(CHANNEL, state_key("INBOX"))
    assert state is not None and state["done"] == "1-3"
    state["done"] = "1,3"
    await storage.save_state(CHANNEL, state_key("INBOX"), state)
    await services.engine.dispose()  # the first hub is gone; its engine was used again here

    second = await email_hub(gap_check_seconds=0.5)
    await wait_for_inbound(second, 3)
    status = folder_status(second)
    assert status["server_count"] == 3
    assert await count_inbound(services_of(second)) == 3
    await eventually(lambda: _gaps(second, 0), what="the gap to be closed")


async def _gaps(client: Any, n: int) -> bool:
    return bool(folder_status(client).get("gaps") == n and folder_status(client).get("last_gap_check_at"))


@pytest.mark.parametrize("action", ["seen", "move"])
async def test_after_import_mail_is_marked_seen_or_moved(
    email_hub: HubFactory, other_client: OtherClient, action: str
) -> None:
    for n in (1, 2):
        await other_client.append(plain_mail(n))
    options: dict[str, Any] = {"after_import": action}
    if action == "move":
        options["move_to"] = "Erledigt"
    client = await email_hub(**options)
    await wait_for_inbound(client, 2)
    if action == "seen":
        async def all_seen() -> bool:
            flags = [await other_client.flags(uid) for uid in await other_client.uids()]
            return len(flags) == 2 and all(b"\\Seen" in f for f in flags)

        await eventually(all_seen, what="\\Seen on both mails")
    else:
        async def moved() -> bool:
            return not await other_client.uids() and len(await other_client.uids("Erledigt")) == 2

        await eventually(moved, what="both mails in Erledigt")
    await client.close()
    again = await email_hub(**options)
    await eventually(lambda: synced_after(again, None), what="a sync after the restart")
    assert await count_inbound(services_of(again)) == 2


async def test_a_dead_mailbox_never_delays_a_live_one(
    email_hub: HubFactory, other_client: OtherClient, dovecot: Dovecot
) -> None:
    # A server that accepts the connection and then says nothing at all.
    silent = socket.socket()
    silent.bind(("127.0.0.1", free_port()))
    silent.listen()
    stuck = email_channel(None, None, name="stuck-mail", imap_host="127.0.0.1",
                          imap_port=silent.getsockname()[1], imap_security="none",
                          imap_password="x", imap_timeout=30, address="stuck@example.com")
    try:
        client = await email_hub(extra=(stuck,))
        await other_client.append(plain_mail(1))
        await wait_for_inbound(client, 1, seconds=10)
        assert folder_status(client, channel="stuck-mail").get("connected") is not True
    finally:
        silent.close()
