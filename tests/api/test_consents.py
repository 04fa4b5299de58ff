"""Consent ledger and restriction of processing over REST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.config import ChannelConfig, Settings
from tests.api.test_contacts import contact_of
from tests.conftest import API_TOKEN, make_settings
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Channels that can send (their callback is never reached: nothing here gets that far)."""
    sending = {"callback_url": "http://127.0.0.1:9/callback", "callback_secret": "s"}
    return make_settings(
        database_url,
        tmp_path / "data",
        channels=(
            ChannelConfig(type="api", name="web-form", queue="support", options={"token": API_TOKEN, **sending}),
            ChannelConfig(type="api", name="shop", queue="billing", options={"token": API_TOKEN + "-shop", **sending}),
        ),
    )


async def test_statements_are_appended_listed_newest_first_and_decide_the_current_state(client: Client) -> None:
    agent = await create_user(services_of(client), role="agent", queues=["support"])
    sent = await send_inbound(client, sender={"phone": "+49 151 12345678", "name": "Erika"})
    contact_id = await contact_of(client, sent["conversation_id"])
    path = f"/api/v1/contacts/{contact_id}/consents"

    grant = {"purpose": "marketing", "channel": "sms", "granted": True, "text_version": "sms-promo-2030-01",
             "evidence": {"form": "checkout", "ip": "203.0.113.7"}}
    resp = await client.post(path, json=grant, headers=agent.headers)
    assert resp.status == 201, await resp.text()
    first = await resp.json()
    assert first["source"] == "api" and first["actor"]["id"] == agent.id
    assert first["evidence"] == {"form": "checkout", "ip": "203.0.113.7"}
    resp = await client.post(path, json={"purpose": "all", "channel": "sms", "granted": False}, headers=agent.headers)
    assert resp.status == 201

    page = await (await client.get(path, headers=agent.headers, params={"limit": 1})).json()
    assert [c["purpose"] for c in page["items"]] == ["all"]
    rest = await (await client.get(path, headers=agent.headers, params={"cursor": page["next"]})).json()
    assert [c["id"] for c in rest["items"]] == [first["id"]] and rest["next"] is None

    current = await (await client.get(f"{path}/current", headers=agent.headers)).json()
    state = {(s["purpose"], s["channel"]): s for s in current["items"]}
    assert state[("marketing", "sms")]["allowed"] is False and state[("service", "sms")]["granted"] is False
    assert state[("service", "email")] == {
        "purpose": "service", "channel": "email", "allowed": True, "granted": None, "since": None, "consent_id": None,
    }


async def test_bad_statements_are_422_and_write_nothing(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client)
    contact_id = await contact_of(client, sent["conversation_id"])
    path = f"/api/v1/contacts/{contact_id}/consents"
    for body in (
        {"purpose": "marketing", "channel": "all", "granted": True},
        {"purpose": "newsletter", "channel": "email", "granted": True},
        {"purpose": "service", "channel": "email"},
        {"purpose": "service", "channel": "email", "granted": False, "occurred_at": "2999-01-01T00:00:00+00:00"},
        {"purpose": "service", "channel": "email", "granted": False, "occurred_at": "2020-01-01T00:00:00"},
        {"purpose": "service", "channel": "email", "granted": False, "evidence": {"nested": {"x": 1}}},
        {"purpose": "service", "channel": "email", "granted": False, "source": "DROP TABLE"},
    ):
        resp = await client.post(path, json=body, headers=admin.headers)
        assert resp.status == 422, (body, await resp.text())
    assert (await (await client.get(path, headers=admin.headers)).json())["items"] == []


async def test_a_reply_after_a_withdrawal_is_a_409_problem_with_a_code(client: Client) -> None:
    admin = await create_user(services_of(client), role="admin")
    sent = await send_inbound(client)
    contact_id = await contact_of(client, sent["conversation_id"])
    resp = await client.post(
        f"/api/v1/contacts/{contact_id}/consents",
        json={"purpose": "service", "channel": "api", "granted": False},
        headers=admin.headers,
    )
    assert resp.status == 201
    resp = await client.post(
        f"/api/v1/conversations/{sent['conversation_id']}/messages", json={"body": "Hallo"}, headers=admin.headers
    )
    assert resp.status == 409 and resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["code"] == "consent_withdrawn" and problem["type"] == "urn:hub:problem:consent_withdrawn"
    assert problem["channel"] == "api" and problem["purpose"] == "service"


async def test_only_admins_restrict_and_the_contact_shows_it(client: Client) -> None:
    services = services_of(client)
    admin = await create_user(services, role="admin")
    supervisor = await create_user(services, role="supervisor")
    sent = await send_inbound(client)
    contact_id = await contact_of(client, sent["conversation_id"])
    path = f"/api/v1/contacts/{contact_id}/restriction"

    for method in ("GET", "PUT", "DELETE"):
        resp = await client.request(method, path, json={} if method == "PUT" else None, headers=supervisor.headers)
        assert resp.status == 403, method
    resp = await client.put(path, json={"reason": "Widerspruch nach Art. 21"}, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["restricted"] is True
    contact = await (await client.get(f"/api/v1/contacts/{contact_id}", headers=supervisor.headers)).json()
    assert contact["restricted_at"] is not None
    resp = await client.post(
        f"/api/v1/conversations/{sent['conversation_id']}/messages", json={"body": "Hallo"}, headers=admin.headers
    )
    assert resp.status == 409 and (await resp.json())["code"] == "processing_restricted"
    view = await (await client.get(path, headers=admin.headers)).json()
    assert view["reason"] == "Widerspruch nach Art. 21"
    lifted = await (await client.delete(path, headers=admin.headers)).json()
    assert lifted == {"contact_id": contact_id, "restricted": False, "restricted_at": None, "reason": None}
    assert (await client.get("/api/v1/contacts/999999/restriction", headers=admin.headers)).status == 404
