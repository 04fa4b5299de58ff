"""What the widget's HTTP routes and its websocket share: app keys and the channel lookup."""

from __future__ import annotations

from aiohttp import web

from hub.api.keys import ADAPTERS
from hub.channels.webchat.adapter import WebchatChannel
from hub.errors import NotFound
from hub.webchat.limits import WidgetLimits
from hub.webchat.live import LiveVisitors

LIVE = web.AppKey("webchat_live", LiveVisitors)
WIDGET_LIMITS = web.AppKey("webchat_limits", WidgetLimits)


def webchat_adapter(request: web.Request) -> WebchatChannel:
    """The web chat channel the path names, or 404."""
    name = request.match_info.get("channel", "")
    adapter = request.config_dict[ADAPTERS].get(name)
    if not isinstance(adapter, WebchatChannel):
        raise NotFound(f"no web chat channel named {name!r}")
    return adapter
