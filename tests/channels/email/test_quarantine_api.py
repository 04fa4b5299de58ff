"""Channel status and the quarantine through the REST API: who may see, retry and discard."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.channels.base import QuarantineRecord
from hub.db.models import AuditEntry, QuarantinedItem
from hub.inbox.channel_storage import DbChannelStorage
from tests.channels.email.conftest import (
    CHANNEL,
    HubFactory,
    OtherClient,
    count_quarantined,
    eventually,
    plain_mail,
    wait_for_inbound,
)
from tests.factories import create_user, services_of

POISON = b"To: support@example.com\r\nSubject: who?\r\n\r\nno sender at all\r\n"


async def quarantined_hub(email_hub: HubFactory, other_client: OtherClient) -> Any:
    await other_client.append(POISON)
    await other_client.append(plain_mail(1))
    client = await email_hub()
    await wait_for_inbound(client, 1)
    services = services_of(client)

    async def one() -> bool:
        return await count_quarantined(services) == 1

    await eventually(one, what="the quarantine entry")
    return client


async def test_supervisors_see_channel_status_and_agents_do_not(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    client = await quarantined_hub(email_hub, other_client)
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])

    async def reported() -> bool:
        resp = await client.get(f"/api/v1/channels/{CHANNEL}", headers=supervisor.headers)
        body = await resp.json()
        folder = body["status"].get("folders", {}).get("INBOX", {})
        return resp.status == 200 and folder.get("connected") is True and folder.get("counts", {}).get("quarantined") == 1

    await eventually(reported, what="the saved status")
    resp = await client.get("/api/v1/channels", headers=supervisor.headers)
    body = await resp.json()
    by_name = {item["name"]: item for item in body["items"]}
    mail = by_name[CHANNEL]
    assert mail["type"] == "email" and mail["queue"] == "support" and mail["can_send"] is True
    assert mail["quarantined"] == 1 and mail["status"]["role"] == "active"
    assert by_name["web-form"]["type"] == "api"
    assert (await client.get("/api/v1/channels", headers=agent.headers)).status == 403
    assert (await client.get("/api/v1/channels/nope", headers=supervisor.headers)).status == 404


async def test_the_quarantine_lists_downloads_and_discards(email_hub: HubFactory, other_client: OtherClient) -> None:
    client = await quarantined_hub(email_hub, other_client)
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    agent = await create_user(services, role="agent", queues=["support"])
    base = f"/api/v1/channels/{CHANNEL}/quarantine"

    assert (await client.get(base, headers=agent.headers)).status == 403
    page = await (await client.get(base, headers=supervisor.headers)).json()
    (item,) = page["items"]
    assert item["reason"] == "no_sender" and item["state"] == "open" and item["has_raw"] is True
    assert item["subject"] == "who?" and item["source"].startswith("INBOX uidvalidity ")

    raw = await client.get(f"{base}/{item['id']}/raw", headers=supervisor.headers)
    assert raw.status == 200 and await raw.read() == POISON
    assert raw.headers["Content-Type"] == "application/octet-stream"
    assert (await client.get(f"{base}/{item['id']}/raw", headers=agent.headers)).status == 403

    retry = await client.post(f"{base}/{item['id']}/retry", headers=supervisor.headers)
    assert retry.status == 422 and "no_sender" in (await retry.json())["detail"]

    async with services.sessions() as session:
        digest = (await session.scalars(select(QuarantinedItem.blob_sha256))).one()
    assert digest is not None
    assert (await client.delete(f"{base}/{item['id']}", headers=supervisor.headers)).status == 204
    assert not services.blobs.path_for(digest).exists()
    assert (await client.delete(f"{base}/{item['id']}", headers=supervisor.headers)).status == 409
    discarded = await (await client.get(f"{base}?state=discarded", headers=supervisor.headers)).json()
    assert discarded["items"][0]["has_raw"] is False and discarded["items"][0]["sender"] is None
    assert (await client.get(f"{base}?state=bogus", headers=supervisor.headers)).status == 400
    assert (await client.get(f"{base}/999999/raw", headers=supervisor.headers)).status == 404
    async with services.sessions() as session:
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert "quarantine.discarded" in actions


async def test_a_quarantined_mail_that_parses_now_is_imported_by_a_retry(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    client = await email_hub()
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    # As if an earlier version had failed on this mail.
    item_id = await DbChannelStorage(services).quarantine(
        QuarantineRecord(channel=CHANNEL, reason="parser_error", detail="bug", raw=plain_mail(7), size=200,
                         source="INBOX uidvalidity 1 uid 7")
    )
    base = f"/api/v1/channels/{CHANNEL}/quarantine/{item_id}"
    resp = await client.post(f"{base}/retry", headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["state"] == "imported" and body["message_id"] and body["duplicate"] is False
    assert (await client.post(f"{base}/retry", headers=supervisor.headers)).status == 409


async def test_quarantined_mail_of_a_contact_goes_with_the_contact_and_old_items_expire(
    email_hub: HubFactory, other_client: OtherClient
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from hub.db.models import utcnow
    from hub.inbox.quarantine import purge_expired

    await other_client.append(plain_mail(1, sender="erika@example.de"))
    client = await email_hub()
    await wait_for_inbound(client, 1)
    services = services_of(client)
    storage = DbChannelStorage(services)
    known = await storage.quarantine(
        QuarantineRecord(channel=CHANNEL, reason="too_large", detail="big", raw=b"From: erika@example.de\r\n\r\n",
                         size=99_000_000, source="INBOX uidvalidity 1 uid 50", sender="erika@example.de")
    )
    stranger = await storage.quarantine(
        QuarantineRecord(channel=CHANNEL, reason="no_sender", detail="?", raw=b"Subject: x\r\n\r\nold", size=20,
                         source="INBOX uidvalidity 1 uid 51")
    )
    async with services.sessions() as session:
        item = await session.get(QuarantinedItem, known)
        assert item is not None and item.contact_id is not None
        contact_id, digest = item.contact_id, item.blob_sha256
    admin = await create_user(services, role="admin")
    resp = await client.post(f"/api/v1/contacts/{contact_id}/erasure", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    async with services.sessions() as session:
        assert await session.get(QuarantinedItem, known) is None
        assert await session.get(QuarantinedItem, stranger) is not None
    assert digest is not None and not services.blobs.path_for(digest).exists()

    # Nobody handled the other one: after [quarantine] keep_days it is deleted too.
    async with services.sessions() as session, session.begin():
        await session.execute(update(QuarantinedItem).values(created_at=utcnow() - timedelta(days=31)))
    assert await purge_expired(services, utcnow() - timedelta(days=30)) == 1
    assert await count_quarantined(services) == 0
