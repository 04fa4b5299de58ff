"""The web UI's pages: login, the agents' inbox, the contact page, and email HTML in a sandbox.

Pages are thin: they check the browser session (else redirect to ``/login``) and render
the shell; the data comes from ``/api/v1`` through ``web/static/js/api.js``, live
updates through ``/ws`` (``web/static/js/live.js``).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.api.keys import ADAPTERS, SERVICES
from hub.api.query import path_id
from hub.api.ui_shell import LANG_COOKIE, login_redirect, render_page, safe_next, viewer
from hub.auth.policy import can_see_conversation
from hub.db.models import Conversation, Message
from hub.errors import NotFound

routes = web.RouteTableDef()

# Email HTML was sanitized at ingest (nh3); this frame policy is the second wall: no
# script at all, no request leaves (remote images are tracking pixels), styles inline only.
MESSAGE_FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox allow-same-origin; frame-ancestors 'self'"


@routes.get("/")
async def start(request: web.Request) -> web.Response:
    """The UI's front door: the inbox when signed in, else the login page."""
    who = await viewer(request)
    raise web.HTTPFound("/inbox" if who.principal is not None else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    """The login form; a signed-in user goes straight on."""
    who = await viewer(request)
    target = safe_next(request.query.get("next"))
    if who.principal is not None:
        raise web.HTTPFound(target)
    response = render_page(request, who, "app/login.html", page="login", next_url=target)
    if request.query.get("lang") == who.lang:
        response.set_cookie(LANG_COOKIE, who.lang, max_age=365 * 86400, path="/", samesite="Lax", httponly=True)
    return response


@routes.get("/inbox")
@routes.get(r"/inbox/{id:[0-9]{1,18}}")
async def inbox_page(request: web.Request) -> web.Response:
    """The agents' inbox; ``/inbox/<id>`` opens that conversation."""
    who = await viewer(request)
    if who.principal is None:
        raise login_redirect(request)
    opened = int(request.match_info["id"]) if "id" in request.match_info else None
    adapters = request.app[ADAPTERS]
    channels = sorted(adapters.keys())
    # What the composer needs to know of each channel: its medium (voice shows the call),
    # whether replies can go out through it, whether it carries attachments, its length limit.
    info = {
        name: {
            "media": adapter.capabilities.media,
            "can_send": adapter.can_send,
            "attachments": adapter.capabilities.attachments,
            "max_text_length": adapter.capabilities.max_text_length,
        }
        for name, adapter in adapters.items()
    }
    return render_page(
        request, who, "app/inbox.html", page="inbox",
        data={"opened": opened, "channels": channels, "channel_info": info}, channels=channels,
    )


@routes.get(r"/contacts/{id:[0-9]{1,18}}")
async def contact_page(request: web.Request) -> web.Response:
    """The full contact record (the same panel as beside a conversation, at full width)."""
    who = await viewer(request)
    if who.principal is None:
        raise login_redirect(request)
    contact_id = path_id(request)
    return render_page(request, who, "app/contact.html", page="contact", data={"contact_id": contact_id})


@routes.get(r"/ui/messages/{id:[0-9]{1,18}}/html")
async def message_html(request: web.Request) -> web.Response:
    """A message's sanitized email HTML as its own document, for a sandboxed iframe."""
    who = await viewer(request)
    if who.principal is None:
        raise NotFound("no such message")
    async with request.app[SERVICES].sessions() as session:
        row = (
            await session.execute(
                select(Message.html, Conversation.queue_id, Conversation.assignee_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == path_id(request))
            )
        ).first()
    if row is None or row[0] is None or not can_see_conversation(who.principal, row[1], row[2]):
        raise NotFound("no such message")
    document = f'<!doctype html><html><head><meta charset="utf-8"></head><body>{row[0]}</body></html>'
    return web.Response(
        text=document,
        content_type="text/html",
        headers={
            "Content-Security-Policy": MESSAGE_FRAME_CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "SAMEORIGIN",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store",
        },
    )
