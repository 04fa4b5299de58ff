"""What every page of the web UI shares: templates, language, the signed-in user, security headers.

Pages are Jinja2 templates under ``web/templates/app`` (autoescaped: customer text is
never rendered as markup). Every page carries a Content-Security-Policy that allows
scripts and styles from the hub only (no inline code), so injected markup cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web
from sqlalchemy import select
from yarl import URL

from hub import __version__
from hub.api.guard import SESSION_COOKIE, authenticate
from hub.api.keys import SERVICES
from hub.api.ui_i18n import LANGUAGES, WEB_DIR, Translator, catalog, negotiate
from hub.auth.principal import Principal, Role
from hub.db.models import User
from hub.errors import Unauthorized

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

LANG_COOKIE = "hub_lang"  # the language picked before login (not a secret; read by the server only as a hint)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at a page: the signed-in user (or nobody) and the language to speak."""

    principal: Principal | None
    lang: str

    @property
    def is_supervisor(self) -> bool:
        return self.principal is not None and self.principal.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.role is Role.ADMIN


async def viewer(request: web.Request) -> Viewer:
    """The page's viewer: a browser session (never a bearer token) and its language."""
    principal: Principal | None = None
    locale: str | None = None
    if SESSION_COOKIE in request.cookies and "Authorization" not in request.headers:
        try:
            principal = await authenticate(request)
        except Unauthorized:
            principal = None
    if principal is not None:
        async with request.app[SERVICES].sessions() as session:
            locale = await session.scalar(select(User.locale).where(User.id == principal.user_id))
    if locale is None and principal is None:
        locale = request.query.get("lang")
    if locale is None:
        locale = request.cookies.get(LANG_COOKIE)
    return Viewer(principal, negotiate(request.headers.get("Accept-Language"), locale))


def safe_next(target: str | None, default: str = "/inbox") -> str:
    """A local path to go to after login; anything else (another host, ``//evil``) becomes ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: web.Request) -> web.HTTPFound:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    if request.rel_url.path == "/":
        return web.HTTPFound("/login")
    return web.HTTPFound(str(URL("/login").with_query(next=request.rel_url.path_qs)))


def render_page(
    request: web.Request,
    who: Viewer,
    template: str,
    *,
    page: str,
    data: dict[str, object] | None = None,
    **context: object,
) -> web.Response:
    """A UI page with the shell's context and the security headers.

    ``data`` goes to the page's scripts as JSON (``#hub-context``), next to the user and language.
    """
    t = Translator(who.lang)
    user = who.principal
    context_json = {
        "lang": who.lang,
        "page": page,
        "user": None if user is None else {"id": user.user_id, "name": user.name, "role": user.role.value},
        **(data or {}),
    }
    html = _env.get_template(template).render(
        lang=who.lang,
        languages=LANGUAGES,
        t=t,
        catalog=catalog(who.lang),
        viewer=who,
        user=who.principal,
        page=page,
        version=__version__,
        context_json=context_json,
        **context,
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={**PAGE_HEADERS, "Content-Language": who.lang, "Vary": "Accept-Language, Cookie"},
    )
