"""The supervisors' wall and the admin pages (the shell is ``hub.api.ui_shell``).

Thin like every UI page: check the browser session and the role, render the shell;
the data comes from ``/api/v1`` and live updates from ``/ws``. Without a session the
browser goes to the login page; a role that may not see the page goes to the inbox.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.ui_shell import Viewer, login_redirect, render_page, viewer

routes = web.RouteTableDef()

ADMIN_SECTIONS = ("users", "queues", "channels", "sla", "canned", "audit")


async def _staff(request: web.Request, *, admin: bool) -> Viewer:
    who = await viewer(request)
    if who.principal is None:
        raise login_redirect(request)
    if not (who.is_admin if admin else who.is_supervisor):
        raise web.HTTPFound("/inbox")
    return who


@routes.get("/wall")
async def wall_page(request: web.Request) -> web.Response:
    """Queues, agents and waiting work, live; re-assign by drag and drop or by keyboard."""
    who = await _staff(request, admin=False)
    return render_page(request, who, "app/wall.html", page="wall")


@routes.get("/admin")
async def admin_start(request: web.Request) -> web.Response:
    await _staff(request, admin=True)
    raise web.HTTPFound("/admin/users")


@routes.get(r"/admin/{section:[a-z]{1,20}}")
async def admin_page(request: web.Request) -> web.Response:
    """One admin section: users, queues, channels, sla, canned or audit."""
    who = await _staff(request, admin=True)
    section = request.match_info["section"]
    if section not in ADMIN_SECTIONS:
        raise web.HTTPNotFound()
    return render_page(request, who, "app/admin.html", page="admin", data={"section": section},
                       section=section, sections=ADMIN_SECTIONS)
