"""The OpenAPI document: valid 3.1, complete (every /api/v1 route documented), and true (fuzzed)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    NegativeDataRejectionConfig,
)

from hub.api import spec
from hub.api.app import create_app
from hub.api.openapi import build_openapi
from tests.conftest import make_settings
from tests.factories import CHANNEL_TOKENS, create_user, send_inbound, services_of

Client = TestClient[Any, Any]

MAX_EXAMPLES = 25  # per operation and generation mode; keeps both backends well under two minutes
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS", "*"})


def registered_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1 route the application serves."""
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:", tmp_path))
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method not in IGNORED_METHODS
    }


def test_every_api_route_is_documented_and_every_documented_route_exists(tmp_path: Path) -> None:
    routes = registered_routes(tmp_path)
    documented = {(op.method, op.path) for op in spec.OPERATIONS}
    undocumented = sorted(routes - documented)
    phantom = sorted(documented - routes)
    assert not undocumented, "routes without @operation(...) in hub.api.spec: " + ", ".join(
        f"{m} {p}" for m, p in undocumented
    )
    assert not phantom, "operations declared but not registered on the app: " + ", ".join(
        f"{m} {p}" for m, p in phantom
    )


def test_no_operation_is_declared_twice() -> None:
    keys = [(op.method, op.path) for op in spec.OPERATIONS]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_the_document_is_valid_openapi_3_1() -> None:
    document = build_openapi()
    validate(document)
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["userToken"]["scheme"] == "bearer" and schemes["channelToken"]["scheme"] == "bearer"
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, item in document["paths"].items():
        assert path.startswith("/api/v1/")
        for method, op in item.items():
            assert op["responses"], (method, path)
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (method, path, status)


async def test_the_document_is_served_without_authentication(client: Client) -> None:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    document = await resp.json()
    validate(document)
    listing = document["paths"]["/api/v1/conversations"]["get"]
    assert listing["security"] == [{"userToken": []}]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "queue", "assignee", "channel", "contact", "q"}
    schema = document["components"]["schemas"]["ConversationPage"]
    assert set(schema["required"]) == {"items", "next"}
    inbound = document["paths"]["/api/v1/channels/{name}/messages"]["post"]
    assert inbound["security"] == [{"channelToken": []}]
    assert "202" in inbound["responses"]


def fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    """Send generated requests to one operation and validate each response; raise on the first failure."""

    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=headers)

    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(timeout=30)
        case.validate_response(response, headers=headers, transport_kwargs={"headers": headers})

    check()


def without_cursors(document: dict[str, Any]) -> dict[str, Any]:
    """A copy without ``cursor`` parameters: only the server makes cursors, any other is a 400 by design.

    (Tests in test_conversations_read / test_contacts cover changed and foreign cursors.)
    """
    document = copy.deepcopy(document)
    for item in document["paths"].values():
        for op in item.values():
            params = [p for p in op.get("parameters", []) if not (p["in"] == "query" and p["name"] == "cursor")]
            op["parameters"] = params
    return document


def fuzz(document: dict[str, Any], base_url: str, auth: Callable[[str], dict[str, str]]) -> list[str]:
    """Run schemathesis' default checks against every operation; return the failures."""
    schema = schemathesis.openapi.from_dict(without_cursors(document))
    schema.config.update(base_url=base_url)
    # 422 is the HTTP answer to a body that fits the schema but not the rules a schema cannot say
    # ("until only with snoozed", a real email address); 400 for schema-valid input still fails.
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=["2xx", "401", "403", "404", "409", "422", "429"]
    )
    # Invalid data may also be too large to read at all: 413 (max_body_bytes) rejects it too.
    schema.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
        expected_statuses=[*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
    )
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        security = document["paths"][operation.path][operation.method.lower()]["security"]
        fixed_path = {"name": "web-form"} if security == [{"channelToken": []}] else None
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            headers = auth("channel" if fixed_path else "user") if security else {}
            try:
                fuzz_operation(operation, mode, fixed_path, headers)
            except Unsatisfiable:
                # An operation without parameters or body has nothing to make invalid.
                if mode is schemathesis.GenerationMode.POSITIVE:
                    failures.append(f"{operation.method.upper()} {operation.path}: no request could be generated")
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}):\n{exc}"[:4000])
    return failures


@pytest.mark.timeout(600)  # ~30-45 s per backend on 2 cores alone; ~180 s with several test runs sharing them
async def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_violation(client: Client) -> None:
    services = services_of(client)
    loop = asyncio.get_running_loop()
    for channel in ("web-form", "shop"):
        await send_inbound(client, channel, attachments=[("a.txt", "text/plain", b"hallo")], subject="Betreff")

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)

    def auth(kind: str) -> dict[str, str]:
        if kind == "channel":
            return {"Authorization": f"Bearer {CHANNEL_TOKENS['web-form']}"}
        # A fresh admin per operation: fuzzing may revoke tokens or deactivate users.
        admin = run(create_user(services, role="admin", queues=["support"]))
        return admin.headers

    base_url = str(client.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(fuzz, await (await client.get("/api/openapi.json")).json(), base_url, auth)
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
