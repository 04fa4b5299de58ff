"""The routing configuration as the admin pages show it: read-only, straight from the config file."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hub.api.app import create_app
from hub.config import QueueConfig
from tests.conftest import make_settings
from tests.factories import create_user, services_of


async def test_queues_escalation_and_sla_policies_are_shown_to_staff(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path / "data",
        queues=(
            QueueConfig("support", {"skills": "german >= 3", "strategy": "least_busy",
                                    "escalation": [{"after": "5m", "widen_levels": 1},
                                                   {"after": "10m", "overflow": "billing", "alert": True}]}),
            QueueConfig("billing"),
        ),
        routing={"enabled": False, "sla": [{"name": "std", "queues": ["support"], "first_response": "30m",
                                            "resolution": "1d"}]},
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        services = services_of(client)
        agent = await create_user(services, role="agent", queues=["support"])
        supervisor = await create_user(services, role="supervisor")
        assert (await client.get("/api/v1/routing/config", headers=agent.headers)).status == 403
        assert (await client.get("/api/v1/routing/config")).status == 401
        resp = await client.get("/api/v1/routing/config", headers=supervisor.headers)
        assert resp.status == 200, await resp.text()
        config = await resp.json()
    queues = {q["name"]: q for q in config["queues"]}
    assert queues["support"]["id"] == services.queues["support"]
    assert (queues["support"]["skills"], queues["support"]["strategy"]) == ("german >= 3", "least_busy")
    steps = queues["support"]["escalation"]
    assert [s["after_seconds"] for s in steps] == [300, 600]
    assert steps[0]["actions"] == ["widen"] and steps[1]["overflow_to"] == "billing" and steps[1]["alert"] is True
    assert config["sla"] == [{
        "name": "std", "targets": {"first_response": 1800.0, "resolution": 86400.0}, "calendar": "always",
        "warning_at": 0.8, "queues": ["support"], "priorities": [], "channels": [], "media": [],
    }]
    assert config["enabled"] is False and config["capacity"]["chat"] == 3
