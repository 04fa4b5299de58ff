"""Typed application keys for every shared resource of the aiohttp app."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from hub.channels.base import ChannelAdapter
from hub.inbox.outbox import Dispatcher
from hub.inbox.service import Inbox
from hub.routing.service import RoutingService
from hub.services import Services

SERVICES = web.AppKey("services", Services)
INBOX = web.AppKey("inbox", Inbox)
HTTP = web.AppKey("http", aiohttp.ClientSession)
ADAPTERS = web.AppKey("adapters", dict[str, ChannelAdapter])
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
ROUTING = web.AppKey("routing", RoutingService)
