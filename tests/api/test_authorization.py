"""Authorization across the API: no IDOR, and no route without authentication.

An agent of queue "support" must not read or change anything of queue "billing" by
id: every such request is a 404 indistinguishable from an id that does not exist,
and changes nothing. The very same request succeeds for a supervisor and for the
agent on their own queue's objects, so the 404 comes from the policy, not a broken route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api import spec
from hub.api.keys import SERVICES
from hub.db.models import ApiToken, Contact, Conversation, Message, MessageAttachment, utcnow
from tests.factories import TestUser, create_user, send_inbound, services_of

Client = TestClient[Any, Any]

# Every route that takes an object id, with a request that would succeed for someone allowed.
# (method, path template, JSON body, the success status)
BY_ID: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/api/v1/conversations/{conversation}", None, 200),
    ("GET", "/api/v1/attachments/{attachment}", None, 200),
    ("GET", "/api/v1/contacts/{contact}", None, 200),
    ("GET", "/api/v1/contacts/{contact}/timeline", None, 200),
    ("PATCH", "/api/v1/contacts/{contact}", {"attributes": {"checked": True}}, 200),
    ("GET", "/api/v1/contacts/{contact}/consents", None, 200),
    ("GET", "/api/v1/contacts/{contact}/notes", None, 200),
    ("POST", "/api/v1/contacts/{contact}/notes", {"body": "Notiz"}, 201),
    ("PUT", "/api/v1/contacts/{contact}/tags", {"tags": ["geprüft"]}, 200),
    ("GET", "/api/v1/contacts/{contact}/merges", None, 200),
    ("GET", "/api/v1/contacts/{contact}/duplicates", None, 200),
    ("GET", "/api/v1/contacts/{contact}/consents/current", None, 200),
    ("POST", "/api/v1/contacts/{contact}/consents", {"purpose": "marketing", "channel": "email", "granted": False}, 201),
    ("POST", "/api/v1/conversations/{conversation}/messages", {"body": "Notiz", "private": True}, 201),
    ("PUT", "/api/v1/conversations/{conversation}/status", {"status": "pending"}, 200),
    ("PUT", "/api/v1/conversations/{conversation}/assignee", {"agent_id": "{me}"}, 200),
]


@dataclass
class Side:
    """One queue's conversation, its contact and an attachment."""

    conversation: int
    contact: int
    attachment: int


async def make_side(client: Client, channel: str, email: str) -> Side:
    sent = await send_inbound(
        client, channel, sender={"email": email, "name": email}, attachments=[("f.txt", "text/plain", b"x")]
    )
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, sent["conversation_id"])
        assert conversation is not None
        attachment = await session.scalar(
            select(MessageAttachment.id).join(Message).where(Message.conversation_id == conversation.id)
        )
        assert attachment is not None
    return Side(conversation.id, conversation.contact_id, attachment)


def fill(template: str, side: Side, user: TestUser) -> str:
    return template.format(conversation=side.conversation, contact=side.contact, attachment=side.attachment, me=user.id)


def body_for(body: dict[str, Any] | None, user: TestUser) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: (user.id if v == "{me}" else v) for k, v in body.items()}


async def snapshot(client: Client, side: Side) -> tuple[Any, ...]:
    """Everything the write routes could change about a side."""
    async with services_of(client).sessions() as session:
        conversation = await session.get(Conversation, side.conversation)
        contact = await session.get(Contact, side.contact)
        assert conversation is not None and contact is not None
        messages = await session.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id == side.conversation)
        )
        return (conversation.status, conversation.assignee_id, contact.name, dict(contact.attributes), messages)


def registered(client: Client, method: str, template: str) -> bool:
    path = re.sub(r"\{[a-z]+\}", "{id}", template)
    return any(r.method == method and r.resource is not None and r.resource.canonical == path for r in client.app.router.routes())


@pytest.mark.parametrize(("method", "template", "body", "success"), BY_ID, ids=[f"{m} {p}" for m, p, _, _ in BY_ID])
async def test_an_agent_gets_404_for_another_queues_objects_while_a_supervisor_reaches_them(
    client: Client, method: str, template: str, body: dict[str, Any] | None, success: int
) -> None:
    assert registered(client, method, template), f"{method} {template} is not served yet"
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    support = await make_side(client, "web-form", "own@example.test")
    billing = await make_side(client, "shop", "other@example.test")
    before = await snapshot(client, billing)

    resp = await client.request(method, fill(template, billing, agent), json=body_for(body, agent), headers=agent.headers)
    assert resp.status == 404, await resp.text()
    forbidden = await resp.json()
    assert await snapshot(client, billing) == before

    # Indistinguishable from an id that does not exist: no existence oracle.
    ghost = Side(conversation=10**9, contact=10**9, attachment=10**9)
    resp = await client.request(method, fill(template, ghost, agent), json=body_for(body, agent), headers=agent.headers)
    assert resp.status == 404
    assert await resp.json() == forbidden

    # The same request on the agent's own queue works: the route is alive.
    resp = await client.request(method, fill(template, support, agent), json=body_for(body, agent), headers=agent.headers)
    assert resp.status == success, await resp.text()

    # And a supervisor reaches the other queue's object.
    supervisor = await create_user(services, role="supervisor")
    resp = await client.request(
        method, fill(template, billing, supervisor), json=body_for(body, supervisor), headers=supervisor.headers
    )
    assert resp.status == success, await resp.text()


async def test_an_agent_sees_another_queues_conversation_once_it_is_assigned_to_them(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    billing = await make_side(client, "shop", "other@example.test")
    path = f"/api/v1/conversations/{billing.conversation}"
    assert (await client.get(path, headers=agent.headers)).status == 404
    async with services.sessions() as session, session.begin():
        conversation = await session.get(Conversation, billing.conversation)
        assert conversation is not None
        conversation.assignee_id = agent.id
    assert (await client.get(path, headers=agent.headers)).status == 200
    assert (await client.get(f"/api/v1/contacts/{billing.contact}", headers=agent.headers)).status == 200
    assert (await client.get(f"/api/v1/attachments/{billing.attachment}", headers=agent.headers)).status == 200


async def test_an_agent_without_queues_sees_nothing(client: Client) -> None:
    services = services_of(client)
    loner = await create_user(services, role="agent")
    side = await make_side(client, "web-form", "own@example.test")
    for path in (
        f"/api/v1/conversations/{side.conversation}",
        f"/api/v1/contacts/{side.contact}",
        f"/api/v1/attachments/{side.attachment}",
    ):
        assert (await client.get(path, headers=loner.headers)).status == 404
    for path in ("/api/v1/conversations", "/api/v1/contacts"):
        assert (await (await client.get(path, headers=loner.headers)).json())["items"] == []


def test_every_operation_but_login_and_channel_inbound_needs_a_user() -> None:
    others = {(op.auth, op.method, op.path) for op in spec.OPERATIONS if op.auth != "bearer"}
    assert others == {
        ("none", "POST", "/api/v1/auth/login"),
        ("channel", "POST", "/api/v1/channels/{name}/messages"),
        ("channel", "POST", "/api/v1/calls/events"),  # a PBX with its CTI channel's token
    }


async def test_every_user_route_is_401_without_credentials(client: Client) -> None:
    operations = [op for op in spec.OPERATIONS if op.auth == "bearer"]
    assert len(operations) >= 10
    wrong: list[str] = []
    for op in operations:
        path = re.sub(r"\{[^}]+\}", "1", op.path)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}):
            resp = await client.request(op.method, path, json={} if op.request else None, headers=headers)
            if resp.status != 401 or resp.content_type != "application/problem+json":
                wrong.append(f"{op.method} {path} with {headers or 'no credentials'}: {resp.status}")
    assert not wrong, "\n".join(wrong)


async def test_a_revoked_token_or_deactivated_user_is_401(client: Client) -> None:
    services = services_of(client)
    deactivated = await create_user(services, role="admin", active=False)
    assert (await client.get("/api/v1/conversations", headers=deactivated.headers)).status == 401
    revoked = await create_user(services, role="admin")
    async with client.app[SERVICES].sessions() as session, session.begin():
        token = await session.scalar(select(ApiToken).where(ApiToken.user_id == revoked.id))
        assert token is not None
        token.revoked_at = utcnow()
    assert (await client.get("/api/v1/conversations", headers=revoked.headers)).status == 401
