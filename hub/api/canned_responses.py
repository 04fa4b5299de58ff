"""Canned responses over REST: agents search and render them, admins write them.

Rendering takes a conversation id and fills the template's variables from it
(``hub.canned.variables``) for a caller who may see that conversation; anyone else
gets 404, as for a conversation that does not exist.

Every response carries a ``preview``: the start of its text in the caller's language,
as plain text (markup of an HTML one removed), for the composer's pick list.
"""

from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from hub.api import cursor
from hub.api.contact_views import PRINTABLE
from hub.api.guard import authenticate
from hub.api.jsonio import json_response, read_json
from hub.api.keys import SERVICES
from hub.api.pages import choose_language
from hub.api.query import (
    MAX_ID,
    cursor_param,
    id_path_param,
    limit_param,
    path_id,
    query_limit,
    query_text,
)
from hub.api.spec import Param, operation
from hub.auth.principal import Principal
from hub.canned.render import MAX_SOURCE, render
from hub.canned.store import (
    LANGUAGES,
    CannedDraft,
    create_canned,
    delete_canned,
    get_canned,
    list_canned,
    update_canned,
)
from hub.canned.variables import VARIABLES, conversation_variables
from hub.db.models import CannedResponse, User
from hub.errors import BadRequest, ValidationFailed
from hub.services import Services

routes = web.RouteTableDef()

PREVIEW_LENGTH = 120

Language = Literal["de", "en"]
Shortcut = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PRINTABLE)]
Source = Annotated[str, msgspec.Meta(max_length=MAX_SOURCE, pattern=r"^[^\x00]*$")]
QueueName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class CannedBody(msgspec.Struct, forbid_unknown_fields=True):
    """A canned response: Jinja2 template source per language (``de``, ``en``).

    ``shortcut`` is what agents type (lower-case letters, digits, ``_.-``); ``queue``
    limits it to one queue's agents (null: everyone); ``format`` ``html`` escapes every
    variable and sanitizes the result.
    """

    shortcut: Shortcut
    title: Title
    bodies: dict[Language, Source]
    format: Literal["text", "html"] = "text"
    queue: QueueName | None = None


class CannedView(msgspec.Struct):
    id: int
    shortcut: str
    title: str
    format: str
    bodies: dict[str, str]
    languages: list[str]
    preview: str  # the start of the text in the caller's language, plain, at most PREVIEW_LENGTH
    queue: str | None
    created_by: int | None
    updated_by: int | None
    created_at: datetime
    updated_at: datetime


class CannedList(msgspec.Struct):
    items: list[CannedView]
    next: str | None
    variables: dict[str, list[str]]  # the names templates may use, e.g. {"contact": ["name", ...]}


class RenderBody(msgspec.Struct, forbid_unknown_fields=True):
    """The conversation whose values fill the variables; ``language`` defaults to the caller's."""

    conversation_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
    language: Language | None = None


class Rendered(msgspec.Struct):
    id: int
    conversation_id: int
    language: str
    format: str
    text: str


_ID_PARAM = (id_path_param(description="canned response id"),)
_LIST_PARAMS = (
    Param("q", "query", {"type": "string", "maxLength": 100}, "text in the shortcut or the title"),
    Param("queue", "query", {"type": "string", "minLength": 1, "maxLength": 100},
          "only those usable in this queue (its own and the global ones)"),
    limit_param(),
    cursor_param(),
)


class _PlainText(HTMLParser):
    """The text of an HTML template source: a space where a block ends, no script or style."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
                        "blockquote", "ul", "ol", "table", "hr", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def preview(source: str, fmt: str) -> str:
    """The first ``PREVIEW_LENGTH`` characters of a template as one line of plain text."""
    if fmt == "html":
        parser = _PlainText()
        parser.feed(source)
        parser.close()
        source = "".join(parser.parts)
    text = " ".join(source.split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1].rstrip() + "…"


def _view(row: CannedResponse, services: Services, language: str) -> CannedView:
    names = {qid: name for name, qid in services.queues.items()}
    return CannedView(
        id=row.id, shortcut=row.shortcut, title=row.title, format=row.format, bodies=dict(row.bodies),
        languages=sorted(row.bodies), preview=preview(row.bodies[_pick(row, language)], row.format),
        queue=names.get(row.queue_id) if row.queue_id is not None else None,
        created_by=row.created_by, updated_by=row.updated_by, created_at=row.created_at, updated_at=row.updated_at,
    )


def _draft(body: CannedBody) -> CannedDraft:
    return CannedDraft(shortcut=body.shortcut, title=body.title, format=body.format,
                       bodies={str(k): v for k, v in body.bodies.items()}, queue=body.queue)


@operation("GET", "/api/v1/canned-responses", summary="Canned responses you may use, by shortcut",
           tag="canned-responses", response=CannedList, params=_LIST_PARAMS, errors=(400, 401))
@routes.get("/api/v1/canned-responses")
async def get_list(request: web.Request) -> web.Response:
    """Search by shortcut or title; agents see the global ones and those of their queues."""
    principal = await authenticate(request)
    services = request.app[SERVICES]
    limit = query_limit(request)
    q = query_text(request, "q", max_length=100)
    queue = query_text(request, "queue", max_length=100, min_length=1)
    raw_cursor = query_text(request, "cursor", max_length=500, min_length=1)
    after = None
    if raw_cursor is not None:
        values = cursor.decode(services.settings.secret_key, "canned", raw_cursor)
        if len(values) != 1 or not isinstance(values[0], str):
            raise BadRequest("the cursor is malformed")
        after = values[0]
    queue_id = None
    if queue is not None:
        queue_id = services.queues.get(queue, 0)  # an unknown queue matches only the global ones
    rows = await list_canned(services, principal, q=q or None, queue_id=queue_id, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursor.encode(services.settings.secret_key, "canned", [rows[limit - 1].shortcut])
    language = await _caller_language(request, principal)
    return json_response(CannedList(
        items=[_view(r, services, language) for r in rows[:limit]], next=next_cursor,
        variables={k: list(v) for k, v in VARIABLES.items()},
    ))


@operation("POST", "/api/v1/canned-responses", summary="Create a canned response (admins)",
           tag="canned-responses", request=CannedBody, response=CannedView, status=201,
           errors=(400, 401, 403, 409, 413, 422))
@routes.post("/api/v1/canned-responses")
async def post(request: web.Request) -> web.Response:
    """422 when a template does not compile; 409 when the shortcut is taken."""
    principal = await authenticate(request)
    body = await read_json(request, CannedBody)
    services = request.app[SERVICES]
    canned_id = await create_canned(services, principal, _draft(body))
    row = await get_canned(services, principal, canned_id)
    return json_response(_view(row, services, await _caller_language(request, principal)), status=201)


@operation("GET", "/api/v1/canned-responses/{id}", summary="A canned response", tag="canned-responses",
           response=CannedView, params=_ID_PARAM, errors=(401, 404))
@routes.get("/api/v1/canned-responses/{id}")
async def get_one(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    services = request.app[SERVICES]
    row = await get_canned(services, principal, path_id(request))
    return json_response(_view(row, services, await _caller_language(request, principal)))


@operation("PUT", "/api/v1/canned-responses/{id}", summary="Replace a canned response (admins)",
           tag="canned-responses", request=CannedBody, response=CannedView, params=_ID_PARAM,
           errors=(400, 401, 403, 404, 409, 413, 422))
@routes.put("/api/v1/canned-responses/{id}")
async def put(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    canned_id = path_id(request)
    body = await read_json(request, CannedBody)
    services = request.app[SERVICES]
    await update_canned(services, principal, canned_id, _draft(body))
    row = await get_canned(services, principal, canned_id)
    return json_response(_view(row, services, await _caller_language(request, principal)))


@operation("DELETE", "/api/v1/canned-responses/{id}", summary="Delete a canned response (admins)",
           tag="canned-responses", status=204, params=_ID_PARAM, errors=(401, 403, 404))
@routes.delete("/api/v1/canned-responses/{id}")
async def delete(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    await delete_canned(request.app[SERVICES], principal, path_id(request))
    return web.Response(status=204)


@operation("POST", "/api/v1/canned-responses/{id}/render",
           summary="Fill a canned response's variables from a conversation you may see",
           tag="canned-responses", request=RenderBody, response=Rendered, params=_ID_PARAM,
           errors=(400, 401, 403, 404, 422))
@routes.post("/api/v1/canned-responses/{id}/render")
async def post_render(request: web.Request) -> web.Response:
    """422 (with a ``code``) for an unknown variable, an unsafe access or a missing language."""
    principal = await authenticate(request)
    canned_id = path_id(request)
    body = await read_json(request, RenderBody)
    services = request.app[SERVICES]
    row = await get_canned(services, principal, canned_id)
    variables = await conversation_variables(services, principal, body.conversation_id)
    language = body.language or _pick(row, await _caller_language(request, principal))
    if language not in row.bodies:
        raise ValidationFailed(f"this canned response has no {language!r} text (it has {', '.join(sorted(row.bodies))})",
                               extra={"code": "canned_language"})
    fmt: Literal["text", "html"] = "html" if row.format == "html" else "text"
    text = render(row.bodies[language], fmt, variables)
    return json_response(Rendered(id=row.id, conversation_id=body.conversation_id, language=language,
                                  format=row.format, text=text))


async def _caller_language(request: web.Request, principal: Principal) -> str:
    """The caller's saved language, else their browser's (Accept-Language); "" when neither says."""
    async with request.app[SERVICES].sessions() as session:
        locale = await session.scalar(select(User.locale).where(User.id == principal.user_id))
    if locale:
        return locale[:2].lower()
    accept = request.headers.get("Accept-Language")
    return choose_language(accept) if accept else ""


def _pick(row: CannedResponse, mine: str) -> str:
    """``mine`` if the response has it, else English, else whatever it has."""
    for language in (mine, "en", *LANGUAGES):
        if language in row.bodies:
            return language
    return sorted(row.bodies)[0]
