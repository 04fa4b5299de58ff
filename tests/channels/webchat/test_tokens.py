"""Visitor tokens and the site's identity signatures: nobody can forge either."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.channels.webchat.tokens import (
    identity_signature,
    read_visitor_token,
    sign_visitor_token,
    verify_identity,
)
from hub.db.models import ContactIdentity, WebchatVisitor
from hub.errors import Forbidden, Unauthorized
from tests.channels.webchat.conftest import IDENTITY_SECRET
from tests.channels.webchat.visitor import ORIGIN, Visitor, start_session
from tests.factories import services_of

Client = TestClient[Any, Any]
SECRET = "hub-secret"


def test_a_visitor_token_names_its_visitor() -> None:
    token = sign_visitor_token(SECRET, "site-chat", "abc", 1000)
    assert read_visitor_token(SECRET, "site-chat", token, now=1100, max_age=3600) == "abc"


@pytest.mark.parametrize(
    "token",
    [
        sign_visitor_token("other-secret", "site-chat", "abc", 1000),  # signed by someone else
        sign_visitor_token(SECRET, "other-chat", "abc", 1000),  # for another channel
        sign_visitor_token(SECRET, "site-chat", "abc", 1000).replace(".abc.", ".abd."),  # key changed
        "wc1.abc.1000",
        "not a token",
        "",
    ],
)
def test_a_forged_or_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        read_visitor_token(SECRET, "site-chat", token, now=1100, max_age=3600)


def test_an_old_token_has_expired() -> None:
    token = sign_visitor_token(SECRET, "site-chat", "abc", 1000)
    with pytest.raises(Unauthorized, match="expired"):
        read_visitor_token(SECRET, "site-chat", token, now=1000 + 3601, max_age=3600)


def test_the_identity_signature_covers_user_email_and_time() -> None:
    secret = b"s" * 20
    good = identity_signature(secret, "42", "erika@example.com", 5000)
    assert verify_identity(secret, "42", "erika@example.com", 5000, good, now=5001).user_id == "42"
    for user, email, ts in (("43", "erika@example.com", 5000), ("42", "mallory@example.com", 5000), ("42", "erika@example.com", 5001)):
        with pytest.raises(Forbidden):
            verify_identity(secret, user, email, ts, good, now=5001)
    with pytest.raises(Forbidden, match="expired"):
        verify_identity(secret, "42", "erika@example.com", 5000, good, now=5000 + 25 * 3600)


def claim(user_id: str, email: str | None = None, *, secret: str = IDENTITY_SECRET, **extra: Any) -> dict[str, Any]:
    ts = int(time.time())
    body = {"user_id": user_id, "timestamp": ts, "signature": identity_signature(secret.encode(), user_id, email, ts)}
    if email is not None:
        body["email"] = email
    return {**body, **extra}


async def visitors_stored(client: Client) -> int:
    async with services_of(client).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebchatVisitor)) or 0)


async def test_a_verified_user_is_linked_to_their_contact_on_every_device(client: Client) -> None:
    laptop = await start_session(client, identity=claim("cust-42", "Erika@Example.com", name="Erika"))
    assert laptop["visitor"] == {"name": "Erika", "email": "erika@example.com", "verified": True, "locale": "en"}
    first = await Visitor.connect(client, laptop["token"])
    ack = await first.say("Vom Laptop")
    await first.close()

    phone = await start_session(client, identity=claim("cust-42", "erika@example.com"))
    second = await Visitor.connect(client, phone["token"])
    assert [m["text"] for m in second.ready["messages"]] == ["Vom Laptop"]
    again = await second.say("Vom Handy")
    assert again["conversation_id"] == ack["conversation_id"]
    await second.close()

    async with services_of(client).sessions() as session:
        rows = (await session.execute(select(ContactIdentity.kind, ContactIdentity.address, ContactIdentity.contact_id))).all()
    contacts = {contact for _, _, contact in rows}
    assert len(contacts) == 1
    addresses = {(kind, address) for kind, address, _ in rows}
    assert ("platform", "webchat.site-chat.user:cust-42") in addresses
    assert ("email", "erika@example.com") in addresses


async def test_a_wrong_signature_is_refused_and_nothing_is_stored(client: Client) -> None:
    cases = [
        claim("cust-42", secret="not-the-shop-secret-at-all"),
        {**claim("cust-42"), "user_id": "cust-43"},  # someone else's id with a real signature
        {**claim("cust-42", "erika@example.com"), "email": "mallory@example.com"},
    ]
    for identity in cases:
        resp = await client.post("/widget/site-chat/sessions", json={"identity": identity}, headers=ORIGIN)
        assert resp.status == 403, await resp.text()
        assert resp.content_type == "application/problem+json"
    assert await visitors_stored(client) == 0


async def test_an_anonymous_email_is_kept_for_replies_but_never_links_a_contact(client: Client) -> None:
    # Someone types a customer's address into the pre-chat form: it must not land on her record.
    victim = await start_session(client, identity=claim("cust-7", "erika@example.com"))
    v = await Visitor.connect(client, victim["token"])
    real = await v.say("I am Erika")
    await v.close()

    session = await start_session(client, prechat={"email": "erika@example.com"})
    assert session["visitor"]["email"] == "erika@example.com" and session["visitor"]["verified"] is False
    impostor = await Visitor.connect(client, session["token"])
    assert impostor.ready["messages"] == []
    fake = await impostor.say("I am Erika too")
    assert fake["conversation_id"] != real["conversation_id"]
    await impostor.close()


async def test_a_token_of_another_visitor_or_a_forged_one_gets_no_history(client: Client) -> None:
    ws = await client.ws_connect("/widget/site-chat/ws", headers=ORIGIN)
    await ws.send_json({"type": "hello", "token": "wc1.someone.1700000000.forged"})
    error = await ws.receive_json()
    assert error["type"] == "error" and error["status"] == 401
    closed = await ws.receive()
    assert ws.close_code == 4401, closed
