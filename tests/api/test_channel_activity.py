"""The channel list shows what each channel did lately: last message, replies waiting and given up."""

from __future__ import annotations

from sqlalchemy import update

from hub.db.models import OutboxItem
from tests.api.conftest import Api
from tests.factories import create_user, services_of


async def test_channels_report_their_last_message_and_sending_trouble(api: Api) -> None:
    client = api.client
    services = services_of(client)
    admin = await create_user(services, role="admin")
    assert (await client.get("/api/v1/channels", headers=api.agent)).status == 403

    before = {c["name"]: c for c in (await (await client.get("/api/v1/channels", headers=admin.headers)).json())["items"]}
    assert before["web-form"]["activity"] == {
        "last_message_at": None, "outbox_pending": 0, "outbox_dead": 0, "last_send_error_at": None,
    }
    conversation_id = await api.customer_writes()
    resp = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": "Antwort"},
                             headers=api.agent)
    assert resp.status == 201, await resp.text()
    await api.outbox_settled()
    async with services.sessions() as session, session.begin():
        await session.execute(update(OutboxItem).values(state="dead", last_error="550 no such user"))

    after = {c["name"]: c for c in (await (await client.get("/api/v1/channels", headers=admin.headers)).json())["items"]}
    web = after["web-form"]["activity"]
    assert web["last_message_at"] is not None and web["outbox_dead"] == 1 and web["last_send_error_at"] is not None
    assert "550" not in str(after["web-form"])  # error texts may quote a recipient; only the time is shown
    assert after["shop"]["activity"]["last_message_at"] is None
