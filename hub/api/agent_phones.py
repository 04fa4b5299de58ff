"""Where agents take calls: ``GET/PUT /api/v1/agents/{id}/phone`` and ``.../me/phone``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web

from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.query import id_path_param, path_id
from hub.api.spec import operation
from hub.auth import phones

routes = web.RouteTableDef()

Phone = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Sip = Annotated[str, msgspec.Meta(min_length=1, max_length=phones.MAX_SIP)]


class PhoneBody(msgspec.Struct, forbid_unknown_fields=True):
    """The phone number (E.164) and/or SIP address voice channels ring; both null: none."""

    phone: Phone | None = None
    sip: Sip | None = None


class PhoneView(msgspec.Struct):
    agent_id: int
    phone: str | None
    sip: str | None
    updated_at: datetime | None


def _view(line: phones.AgentLine) -> PhoneView:
    return PhoneView(line.agent_id, line.phone, line.sip, line.updated_at)


async def _put(request: web.Request, agent_id: int | None) -> web.Response:
    principal = await authenticate(request)
    payload = await read_json(request, PhoneBody)
    line = await phones.set_line(request.app[SERVICES], principal,
                                 principal.user_id if agent_id is None else agent_id,
                                 phone=payload.phone, sip=payload.sip)
    return json_response(_view(line))


async def _get(request: web.Request, agent_id: int | None) -> web.Response:
    principal = await authenticate(request)
    line = await phones.get_line(request.app[SERVICES], principal, principal.user_id if agent_id is None else agent_id)
    return json_response(_view(line))


@operation(
    "GET", "/api/v1/agents/me/phone", summary="Where you take calls", tag="agents", response=PhoneView,
    errors=(401, 404),
)
@routes.get("/api/v1/agents/me/phone")
async def get_my_phone(request: web.Request) -> web.Response:
    return await _get(request, None)


@operation(
    "PUT", "/api/v1/agents/me/phone", summary="Set where you take calls: phone number and/or SIP address",
    tag="agents", request=PhoneBody, response=PhoneView, errors=(400, 401, 404, 422),
)
@routes.put("/api/v1/agents/me/phone")
async def put_my_phone(request: web.Request) -> web.Response:
    return await _put(request, None)


@operation(
    "GET", "/api/v1/agents/{id}/phone", summary="Where an agent takes calls (supervisors, admins)",
    tag="agents", response=PhoneView, params=(id_path_param(description="user id"),), errors=(400, 401, 403, 404),
)
@routes.get("/api/v1/agents/{id}/phone")
async def get_phone(request: web.Request) -> web.Response:
    return await _get(request, path_id(request))


@operation(
    "PUT", "/api/v1/agents/{id}/phone", summary="Set where an agent takes calls (supervisors, admins)",
    tag="agents", request=PhoneBody, response=PhoneView, params=(id_path_param(description="user id"),),
    errors=(400, 401, 403, 404, 422),
)
@routes.put("/api/v1/agents/{id}/phone")
async def put_phone(request: web.Request) -> web.Response:
    return await _put(request, path_id(request))
