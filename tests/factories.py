"""Test data made directly in the database (users, tokens) or through the real API (messages).

Users and tokens are written as rows, so API tests need no login code; customer
messages go through ``POST /api/v1/channels/{name}/messages`` like a real integration.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.keys import SERVICES
from hub.auth.tokens import digest, new_token
from hub.db.models import ApiToken, Queue, QueueMember, User
from hub.services import Services
from tests.conftest import API_TOKEN

CHANNEL_TOKENS = {"web-form": API_TOKEN, "shop": API_TOKEN + "-shop"}  # see tests.conftest.make_settings
_serial = itertools.count(1)


@dataclass(frozen=True)
class TestUser:
    """A user with an API token; ``headers`` authenticate requests as them."""

    __test__ = False  # not a pytest test class

    id: int
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_user(
    services: Services,
    *,
    role: str = "agent",
    queues: Sequence[str] = (),
    name: str | None = None,
    email: str | None = None,
    active: bool = True,
) -> TestUser:
    """A user in ``queues`` (by name; they must exist) with a fresh API token."""
    n = next(_serial)
    email = email or f"{role}{n}@example.test"
    token = new_token()
    async with services.sessions() as session, session.begin():
        user = User(email=email, name=name or f"{role.title()} {n}", role=role, active=active)
        session.add(user)
        await session.flush()
        if queues:
            found = {name: qid for name, qid in await session.execute(select(Queue.name, Queue.id).where(Queue.name.in_(queues)))}
            missing = set(queues) - set(found)
            assert not missing, f"no such queues: {missing}"
            session.add_all(QueueMember(user_id=user.id, queue_id=found[q]) for q in queues)
        session.add(ApiToken(user_id=user.id, token_hash=digest(token), name="test"))
        user_id = user.id
    return TestUser(id=user_id, email=email, role=role, token=token)


def services_of(client: TestClient[Any, Any]) -> Services:
    """The running app's services."""
    return client.app[SERVICES]


async def send_inbound(
    client: TestClient[Any, Any],
    channel: str = "web-form",
    *,
    text: str = "Hallo, ich habe eine Frage.",
    sender: dict[str, str] | None = None,
    message_id: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    **fields: Any,
) -> dict[str, Any]:
    """Push a customer message through the API channel; returns the 202 body.

    ``attachments`` are (filename, content type, content) triples.
    """
    body: dict[str, Any] = {
        "id": message_id or f"msg-{next(_serial)}",
        "sender": sender or {"email": f"kunde{next(_serial)}@example.test", "name": "Kunde"},
        "text": text,
        **fields,
    }
    if attachments:
        body["attachments"] = [
            {"filename": n, "content_type": t, "content_base64": base64.b64encode(c).decode()}
            for n, t, c in attachments
        ]
    resp = await client.post(
        f"/api/v1/channels/{channel}/messages",
        json=body,
        headers={"Authorization": f"Bearer {CHANNEL_TOKENS[channel]}"},
    )
    assert resp.status == 202, await resp.text()
    return dict(await resp.json())
