"""Plain HTML pages beside the web UI: the status page and the API overview.

Rendered from ``web/templates`` with Jinja2 (autoescaped), in German or English by
the browser's ``Accept-Language``.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

import jinja2
from aiohttp import web

from hub import __version__
from hub.api.keys import ADAPTERS, SERVICES
from hub.api.spec import OPERATIONS

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

routes = web.RouteTableDef()

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "running": "The contact-center hub is running on",
        "cluster": "cluster mode (Redis)",
        "api_docs": "REST API",
        "health": "Health check",
        "channels": "Channels",
        "no_channels": "No channels configured.",
        "web_ui": "The web UI",
        "api_intro": "Every route of the REST API; the machine-readable description is",
        "method": "Method",
        "path": "Path",
        "summary": "What it does",
        "auth": "Auth",
    },
    "de": {
        "running": "Der Contact-Center-Hub läuft auf",
        "cluster": "Cluster-Betrieb (Redis)",
        "api_docs": "REST-API",
        "health": "Zustandsprüfung",
        "channels": "Kanäle",
        "no_channels": "Keine Kanäle konfiguriert.",
        "web_ui": "Die Weboberfläche",
        "api_intro": "Alle Routen der REST-API; die maschinenlesbare Beschreibung ist",
        "method": "Methode",
        "path": "Pfad",
        "summary": "Zweck",
        "auth": "Anmeldung",
    },
}


def choose_language(accept_language: str | None) -> str:
    """``de`` or ``en`` from an Accept-Language header (highest q wins, default English)."""
    best, best_q = "en", 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        lang = tag.strip().lower().split("-")[0]
        if lang in TEXTS and q > best_q:
            best, best_q = lang, q
    return best


def render(request: web.Request, template: str, **context: object) -> web.Response:
    lang = choose_language(request.headers.get("Accept-Language"))
    html = _env.get_template(template).render(lang=lang, t=TEXTS[lang], **context)
    return web.Response(text=html, content_type="text/html", headers={"Content-Language": lang})


@routes.get("/status")
async def index(request: web.Request) -> web.Response:
    """A plain page that says what is running."""
    services = request.app[SERVICES]
    return render(
        request,
        "index.html",
        version=__version__,
        database=services.dialect,
        cluster=bool(services.settings.redis_url),
        channels=list(request.app[ADAPTERS].values()),
    )


@routes.get("/api/docs")
async def api_docs(request: web.Request) -> web.Response:
    """A readable list of every REST operation, from the same registry as the OpenAPI document."""
    ordered = sorted(OPERATIONS, key=lambda op: (op.tag, op.path, op.method))
    groups = [(tag, list(ops)) for tag, ops in groupby(ordered, key=lambda op: op.tag)]
    return render(request, "api_docs.html", groups=groups)


routes.static("/static", WEB_DIR / "static")
