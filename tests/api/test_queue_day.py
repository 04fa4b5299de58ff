"""A queue's day so far in buckets, and the routing configuration the admin pages show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from hub.db.models import Conversation, RoutingOutcome, utcnow
from hub.routing.today import day_start
from tests.factories import create_user, send_inbound, services_of

Client = TestClient[Any, Any]


def test_the_day_starts_at_local_midnight_also_on_a_dst_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29 is the spring-forward day in Germany: midnight is still UTC+1.
    assert day_start(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), berlin) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert day_start(datetime(2026, 7, 1, 21, 30, tzinfo=UTC), berlin) == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


async def test_the_day_series_counts_volume_first_response_and_service_level(client: Client) -> None:
    services = services_of(client)
    supervisor = await create_user(services, role="supervisor")
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = await send_inbound(client, "web-form")
    second = await send_inbound(client, "web-form")
    await send_inbound(client, "shop")  # another queue
    queue_id = services.queues["support"]
    opened = midnight + timedelta(minutes=5)
    async with services.sessions() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == first["conversation_id"]).values(
            created_at=opened, first_response_at=opened + timedelta(seconds=90)))
        await session.execute(update(Conversation).where(Conversation.id == second["conversation_id"]).values(
            created_at=midnight - timedelta(minutes=1), first_response_at=midnight + timedelta(seconds=60)))
        session.add_all([
            RoutingOutcome(queue_id=queue_id, kind="answered", occurred_at=opened, wait_seconds=5, within_target=True),
            RoutingOutcome(queue_id=queue_id, kind="answered", occurred_at=opened, wait_seconds=50,
                           within_target=False),
            RoutingOutcome(queue_id=queue_id, kind="abandoned", occurred_at=opened, wait_seconds=70),
            RoutingOutcome(queue_id=queue_id, kind="handled", occurred_at=opened, handle_seconds=70),
            RoutingOutcome(queue_id=queue_id, kind="answered", occurred_at=midnight - timedelta(hours=1),
                           within_target=True),
        ])

    resp = await client.get(f"/api/v1/queues/{queue_id}/today", params={"bucket": "30"}, headers=supervisor.headers)
    assert resp.status == 200, await resp.text()
    day = await resp.json()
    assert day["queue"] == "support" and day["timezone"] == "UTC" and day["bucket_seconds"] == 1800
    assert datetime.fromisoformat(day["day_start"]) == midnight
    assert len(day["buckets"]) == int((now - midnight) / timedelta(minutes=30)) + 1
    early = day["buckets"][0]
    assert early["entered"] == 1  # the one opened yesterday is not today's volume
    assert early["first_responses"] == 2 and early["first_response_avg_seconds"] == (90 + 120) / 2
    assert (early["answered"], early["answered_in_target"], early["abandoned"]) == (2, 1, 1)
    assert early["service_level"] == round(1 / 3, 4)
    assert day["total"]["entered"] == 1 and day["total"]["service_level"] == round(1 / 3, 4)
    assert all(b["service_level"] is None for b in day["buckets"][1:])


async def test_the_day_series_is_only_for_the_queues_one_may_see(client: Client) -> None:
    services = services_of(client)
    agent = await create_user(services, role="agent", queues=["support"])
    support, billing = services.queues["support"], services.queues["billing"]
    assert (await client.get(f"/api/v1/queues/{support}/today", headers=agent.headers)).status == 200
    assert (await client.get(f"/api/v1/queues/{billing}/today", headers=agent.headers)).status == 404
    assert (await client.get("/api/v1/queues/999999/today", headers=agent.headers)).status == 404
    for params in ({"tz": "Mars/Olympus"}, {"tz": "../../etc/passwd"}, {"bucket": "7"}, {"tz": ""}):
        resp = await client.get(f"/api/v1/queues/{support}/today", params=params, headers=agent.headers)
        assert resp.status == 400, (params, await resp.text())
    resp = await client.get(f"/api/v1/queues/{support}/today", params={"tz": "Europe/Berlin"}, headers=agent.headers)
    assert (await resp.json())["timezone"] == "Europe/Berlin"
    assert (await client.get(f"/api/v1/queues/{support}/today")).status == 401


