"""The OpenAPI 3.1 document of ``/api/v1``, built from the operations route modules declare.

Served at ``GET /api/openapi.json`` without authentication. Schemas come from the
msgspec types of each operation (``msgspec.json.schema_components``), so the
document cannot drift from what the handlers decode and encode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp import web

import hub
from hub.api.spec import OPERATIONS, Operation, Param

routes = web.RouteTableDef()

REF = "#/components/schemas/{name}"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request: malformed JSON, query parameter or cursor",
    401: "Not authenticated: missing, unknown or revoked credentials",
    403: "Authenticated, but not allowed (role, CSRF)",
    404: "No such object, or not one the caller may see",
    405: "Method not allowed",
    409: "Conflict with the object's current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "The body has the wrong shape or values",
    429: "Too many requests; see Retry-After",
    503: "A service the hub needs is unavailable",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "userToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A user's API token (`hub token create`). The web UI uses a session cookie "
        "with an `X-CSRF-Token` header on changes instead.",
    },
    "channelToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The token configured for an API channel; only valid on that channel's inbound route.",
    },
}


class Problem(msgspec.Struct):
    """An RFC 9457 problem; some carry more members (e.g. ``retry_after``)."""

    type: str
    title: str
    status: int
    detail: str


def build_openapi(operations: Iterable[Operation] = OPERATIONS) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``."""
    ops = sorted(operations, key=lambda o: (o.path, o.method))
    types: list[Any] = [Problem]
    for op in ops:
        types.extend(t for t in (op.request, op.response) if t is not None and t is not bytes and t not in types)
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(types, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path = _openapi_path(op.path)
        method = op.method.lower()
        if method in paths.get(path, {}):
            raise ValueError(f"operation {op.method} {op.path} is declared twice")
        paths.setdefault(path, {})[method] = _operation(op, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hub REST API",
            "version": hub.__version__,
            "description": "Omnichannel contact-center API. Errors are RFC 9457 problem documents; "
            'lists are `{"items": [...], "next": cursor-or-null}`. See docs/api.md.',
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "paths": paths,
        "components": {
            "schemas": {name: components[name] for name in sorted(components)},
            "securitySchemes": SECURITY_SCHEMES,
        },
        "tags": [{"name": tag} for tag in sorted({op.tag for op in ops})],
    }


def _operation(op: Operation, schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "security": _security(op),
    }
    params = [_param(p) for p in op.params]
    if params:
        out["parameters"] = params
    if op.request is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema_of[op.request]}}}
    responses: dict[str, Any] = {str(op.status): _success(op, schema_of)}
    for status in sorted(set(op.errors)):
        responses[str(status)] = {
            "description": _TITLES.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema_of[Problem]}},
        }
    out["responses"] = responses
    out.update(op.extra)
    return out


def _success(op: Operation, schema_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    if op.response is None:
        return {"description": "Done"}
    if op.response is bytes:
        return {
            "description": "The file's content",
            "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
        }
    return {"description": "OK", "content": {"application/json": {"schema": schema_of[op.response]}}}


def _param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": p.where, "required": p.required or p.where == "path", "schema": p.schema}
    if p.description:
        out["description"] = p.description
    return out


def _security(op: Operation) -> list[dict[str, list[str]]]:
    if op.auth == "bearer":
        return [{"userToken": []}]
    if op.auth == "channel":
        return [{"channelToken": []}]
    return []


def _operation_id(op: Operation) -> str:
    words = re.sub(r"\{([^}:]+)[^}]*\}", r"by_\1", op.path.removeprefix("/api/v1/"))
    return op.method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_")


def _openapi_path(path: str) -> str:
    """aiohttp's ``{id:\\d+}`` becomes OpenAPI's ``{id}``."""
    return re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)


_cache: dict[int, bytes] = {}


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document (no authentication: it holds no data)."""
    key = len(OPERATIONS)  # operations only ever get added, at import time
    body = _cache.get(key)
    if body is None:
        body = _cache[key] = msgspec.json.encode(build_openapi())
    return web.Response(body=body, content_type="application/json")
