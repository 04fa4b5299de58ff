"""The widget's HTTP side under ``/widget``: its script, config, sessions and files.

Mounted as a sub-application so that one middleware enforces the channel's origin
allowlist (``Origin`` header) and answers CORS on every route except the static
script, which a ``<script>`` tag loads without an ``Origin``. The visitor websocket is
``hub.api.widget_ws``; the shared lifecycle (live hub, limits) is set up here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import msgspec
from aiohttp import BodyPartReader, web
from sqlalchemy import Select, select
from yarl import URL

from hub.api import widget_ws
from hub.api.jsonio import json_response
from hub.api.keys import ADAPTERS, SERVICES
from hub.api.problems import error_response
from hub.api.widget_shared import LIVE, WIDGET_LIMITS, webchat_adapter
from hub.channels.webchat.adapter import (
    ADAPTERS_STATE,
    LIVE_STATE,
    VISITORS_STATE,
    WebchatChannel,
    language,
)
from hub.channels.webchat.files import check_content_type, sanitize_filename
from hub.channels.webchat.protocol import ClientId, decode_session
from hub.channels.webchat.tokens import new_visitor_key
from hub.crm_link import identities
from hub.db.models import Message, MessageAttachment, utcnow
from hub.errors import (
    BadRequest,
    HubError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from hub.messages import Attachment
from hub.services import Services
from hub.validation import ensure_storable
from hub.webchat import visitors
from hub.webchat.limits import build_widget_limits
from hub.webchat.live import LiveVisitors
from hub.webchat.visitors import Visitor, VisitorDirectory

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0
WIDGET_DIR = Path(__file__).resolve().parents[2] / "web" / "widget"
STATIC_FILES = {
    "widget.js": "application/javascript",
    "widget.css": "text/css",
    "demo.html": "text/html; charset=utf-8",
}
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}
_client_id = msgspec.json.Decoder(ClientId)

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Mount ``/widget`` and start the web chat's shared parts with the app."""
    app.cleanup_ctx.append(_webchat)
    sub = web.Application(middlewares=[_origin_middleware])
    sub.router.add_routes(routes)
    sub.router.add_routes(widget_ws.routes)
    app.add_subapp("/widget", sub)


async def _webchat(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    live = LiveVisitors(services.bus)
    limits = app.get(WIDGET_LIMITS) or build_widget_limits(services.settings)
    app[LIVE] = live
    app[WIDGET_LIMITS] = limits
    for adapter in app[ADAPTERS].values():
        adapter.context.state[VISITORS_STATE] = VisitorDirectory(services)
        adapter.context.state[ADAPTERS_STATE] = app[ADAPTERS]
        adapter.context.state[LIVE_STATE] = live
    await live.start()
    purger = asyncio.create_task(_purge_unused(services), name="webchat-purge")
    yield
    purger.cancel()
    await asyncio.gather(purger, return_exceptions=True)
    await live.aclose()
    await limits.aclose()


async def _purge_unused(services: Services) -> None:
    """Delete sessions that never wrote, hourly (they hold no contact to erase them with)."""
    while True:
        try:
            removed = await visitors.purge_unused(services)
            if removed:
                log.info("deleted %d unused web chat sessions", removed)
        except Exception:
            log.exception("purging unused web chat sessions failed; trying again in an hour")
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def _cors(response: web.StreamResponse, origin: str) -> web.StreamResponse:
    if not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers.update(CORS_HEADERS)
    return response


def request_origin(request: web.Request) -> str | None:
    """The page's origin: the ``Origin`` header, or the hub's own for a same-origin GET.

    Browsers leave ``Origin`` off same-origin GET requests (they set ``Sec-Fetch-Site``,
    which no page can forge either); the widget on one of the hub's own pages (the demo)
    is then allowed when the hub's public origin is in ``allowed_origins``.
    """
    origin = request.headers.get("Origin")
    if origin is None and request.headers.get("Sec-Fetch-Site") == "same-origin":
        return str(URL(request.config_dict[SERVICES].settings.public_url).origin())
    return origin


@web.middleware
async def _origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every channel route answers only pages on the channel's allowed origins."""
    if "channel" not in request.match_info:
        return await handler(request)  # the static script and stylesheet
    origin = request_origin(request)
    try:
        adapter = webchat_adapter(request)
        adapter.check_origin(origin)
    except HubError as exc:
        return error_response(exc)
    origin = origin or ""
    if request.method == "OPTIONS":
        return _cors(web.Response(status=204), origin)
    try:
        response = await handler(request)
    except HubError as exc:  # answered here, so that the page may read why (CORS headers)
        response = error_response(exc)
    return _cors(response, origin)


@routes.get("/{file:widget\\.js|widget\\.css|demo\\.html}")
async def static_file(request: web.Request) -> web.StreamResponse:
    """The widget's script and stylesheet (any site may load them) and a demo page."""
    name = request.match_info["file"]
    return web.FileResponse(
        WIDGET_DIR / name,
        headers={"Content-Type": STATIC_FILES[name], "Cache-Control": "public, max-age=300",
                 "X-Content-Type-Options": "nosniff"},
    )


@routes.route("OPTIONS", "/{channel}/{tail:.*}")
async def preflight(request: web.Request) -> web.Response:
    """CORS preflight; the middleware answers it."""
    return web.Response(status=204)


@routes.get("/{channel}/config")
async def get_config(request: web.Request) -> web.Response:
    """What the widget needs to draw itself: texts, pre-chat form, online or not, limits."""
    adapter = webchat_adapter(request)
    return json_response(adapter.public_config(utcnow()), headers={"Cache-Control": "no-store"})


@routes.post("/{channel}/sessions")
async def post_session(request: web.Request) -> web.Response:
    """Start a visitor session: 201 with the token the widget keeps; rate-limited per address."""
    adapter = webchat_adapter(request)
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json")
    body = decode_session(await request.read())
    opts = adapter.options
    user_id: str | None = None
    email: str | None = None
    verified = False
    name: str | None = None
    if body.identity is not None:
        identity = adapter.verify_claim(body.identity)
        user_id, email, verified = identity.user_id, identity.email, identity.email is not None
        name = body.identity.name
    elif opts.identity_required:
        raise Unauthorized("this chat is for signed-in users; the site must send a signed identity")
    answers = _prechat_answers(adapter, body.prechat)
    name = answers.pop("name", None) or name
    if "email" in answers:
        given = answers.pop("email")
        if not verified:
            email = given
    ensure_storable(name=name, user_id=user_id, **answers)
    await request.config_dict[WIDGET_LIMITS].new_session(adapter.name, request.remote, opts.sessions_per_ip_per_hour)
    services = request.config_dict[SERVICES]
    key = new_visitor_key()
    visitor = await visitors.create_visitor(
        services,
        services.endpoint(adapter.name).channel_id,
        key,
        user_id=user_id,
        email=email,
        email_verified=verified,
        name=(name or "").strip() or None,
        locale=language(body.locale),
        prechat=answers,
    )
    return json_response({"token": adapter.issue_token(key), "visitor": _visitor_json(visitor)}, status=201)


def _prechat_answers(adapter: WebchatChannel, given: dict[str, str]) -> dict[str, str]:
    fields = {f.name: f for f in adapter.options.prechat}
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise ValidationFailed(f"unknown pre-chat field(s): {', '.join(unknown)}")
    answers: dict[str, str] = {}
    for name, field in fields.items():
        value = given.get(name, "").strip()
        if not value:
            if field.required:
                raise ValidationFailed(f"the pre-chat field {name!r} is required")
            continue
        if field.kind == "email":
            value = identities.email(value).address
        answers[name] = value
    return answers


def _visitor_json(visitor: Visitor) -> dict[str, object]:
    return {
        "name": visitor.name,
        "email": visitor.email,
        "verified": visitor.user_id is not None,
        "locale": visitor.locale,
    }


async def visitor_from_bearer(request: web.Request, adapter: WebchatChannel) -> Visitor:
    """The visitor whose token is in ``Authorization: Bearer``; 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the visitor token as 'Authorization: Bearer <token>'")
    key = adapter.visitor_key(token.strip())
    services = request.config_dict[SERVICES]
    return await visitors.load_visitor(services, services.endpoint(adapter.name).channel_id, key)


@routes.post("/{channel}/attachments")
async def post_attachment(request: web.Request) -> web.Response:
    """A visitor's file (multipart: ``client_id``, ``file``, optional ``text``): 201 with the ack."""
    adapter = webchat_adapter(request)
    visitor = await visitor_from_bearer(request, adapter)
    if not request.content_type.startswith("multipart/form-data"):
        raise BadRequest("send the file as multipart/form-data")
    client_id, text, attachment = await _read_upload(request, adapter)
    services = request.config_dict[SERVICES]
    connection = widget_ws.detached_connection(request, adapter, visitor, await widget_ws.visitor_conversations(services, adapter, visitor))
    ack = await connection.submit(client_id, text, (attachment,))
    return json_response(ack, status=201)


async def _read_upload(request: web.Request, adapter: WebchatChannel) -> tuple[str, str, Attachment]:
    limit = adapter.options.max_attachment_bytes
    reader = await request.multipart()
    client_id: str | None = None
    text = ""
    attachment: Attachment | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart bodies are not accepted")
        name = part.name
        if name in ("client_id", "text"):
            value = (await part.read(decode=True)).decode("utf-8", errors="strict")
            if len(value) > 5000:
                raise ValidationFailed(f"{name} is too long")
            if name == "client_id":
                try:
                    client_id = _client_id.decode(msgspec.json.encode(value))
                except msgspec.ValidationError as exc:
                    raise ValidationFailed(f"client_id: {exc}") from exc
            else:
                text = value
        elif name == "file":
            if attachment is not None:
                raise ValidationFailed("send one file per message")
            content = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                content.extend(chunk)
                if len(content) > limit:
                    raise PayloadTooLarge(f"files may be at most {limit} bytes")
            if not content:
                raise ValidationFailed("the file is empty")
            content_type = check_content_type(part.headers.get("Content-Type", ""), bytes(content), adapter.options.attachment_types)
            attachment = Attachment(sanitize_filename(part.filename or "file"), content_type, bytes(content))
        else:
            raise ValidationFailed(f"unknown form field {name!r}")
    if client_id is None or attachment is None:
        raise ValidationFailed("the form needs client_id and file")
    return client_id, text, attachment


@routes.get("/{channel}/attachments/{id:[0-9]{1,18}}")
async def get_attachment(request: web.Request) -> web.StreamResponse:
    """A file of the visitor's conversations, as a download; 404 for anything else."""
    adapter = webchat_adapter(request)
    visitor = await visitor_from_bearer(request, adapter)
    services = request.config_dict[SERVICES]
    conversation_ids = await widget_ws.visitor_conversations(services, adapter, visitor)
    async with services.sessions() as session:
        row = (
            await session.execute(
                select_attachment(int(request.match_info["id"]), conversation_ids)
            )
        ).first()
    if row is None:
        raise NotFound("no such file")
    attachment = row[0]
    content = await services.blobs.get(attachment.blob_sha256)
    return web.Response(
        body=content,
        content_type=attachment.content_type,
        headers={
            "Content-Disposition": _disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


def _disposition(filename: str) -> str:
    name = sanitize_filename(filename)
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def select_attachment(attachment_id: int, conversation_ids: list[int]) -> Select[MessageAttachment]:
    """The attachment, if it belongs to a visible message of ``conversation_ids``."""
    return (
        select(MessageAttachment)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(
            MessageAttachment.id == attachment_id,
            Message.private.is_(False),
            Message.conversation_id.in_(conversation_ids or [0]),
        )
    )

