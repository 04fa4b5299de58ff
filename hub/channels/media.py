"""Fetching a customer's media from a provider: SSRF-guarded, size- and type-limited.

Providers hand out media as URLs (a CDN link, a signed download URL) that the hub
fetches with the shared client session. Every hop is checked by the destination
policy (``hub.net``) — redirects are followed by hand so that each new location is
checked again, and credentials are only sent to the host they were meant for. The
body is read up to a limit, never further. ``MediaRejected`` means the file cannot be
stored (too large, a type the channel does not take, gone); a retry may help with a
``TransientChannelError``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.transport import transport_error
from hub.errors import HubError
from hub.net import BlockedDestination, DestinationPolicy

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
# What the hub stores from customers unless a channel says otherwise: no executables or HTML.
DEFAULT_MEDIA_TYPES: tuple[str, ...] = (
    "image/*",
    "audio/*",
    "video/*",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/vcard",
    "text/x-vcard",
    "application/zip",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.oasis.opendocument.*",
    "application/octet-stream",
)


class MediaRejected(HubError):
    """The media cannot be stored; the message is kept with a note instead."""

    status = 422
    title = "Media not stored"


@dataclass(frozen=True, slots=True)
class Media:
    content: bytes
    content_type: str


def type_allowed(content_type: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``content_type`` matches one of the ``allowed`` patterns (``image/*``)."""
    value = content_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in allowed)


async def download(
    http: aiohttp.ClientSession,
    policy: DestinationPolicy,
    url: str,
    *,
    max_bytes: int,
    allowed_types: tuple[str, ...] = DEFAULT_MEDIA_TYPES,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = MAX_REDIRECTS,
    allow_url: Callable[[str], bool] | None = None,
) -> Media:
    """GET ``url`` and return its body; ``headers`` go only to ``url``'s own host.

    With ``allow_url`` (a provider's media hosts) every hop, redirects included, must
    pass it too.
    """
    origin = urlsplit(url).netloc
    for _hop in range(max_redirects + 1):
        try:
            policy.check_url(url)
        except BlockedDestination as exc:
            raise MediaRejected(f"media URL refused: {exc.detail}") from exc
        if allow_url is not None and not allow_url(url):
            raise MediaRejected(f"media URL on {urlsplit(url).hostname or 'no host'} is not one of the provider's media hosts")
        send = dict(headers or {}) if urlsplit(url).netloc == origin else {}
        try:
            async with http.get(url, headers=send, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise MediaRejected(f"media redirect without a Location (HTTP {response.status})")
                    url = urljoin(url, location)
                    continue
                return await _body(response, max_bytes, allowed_types)
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = transport_error(exc, "media download")
            if isinstance(error, PermanentChannelError):
                raise MediaRejected(error.detail) from exc
            raise error from exc
    raise MediaRejected(f"media URL redirected more than {max_redirects} times")


async def _body(response: aiohttp.ClientResponse, max_bytes: int, allowed: tuple[str, ...]) -> Media:
    if response.status == 429 or response.status >= 500:
        raise TransientChannelError(f"media download answered HTTP {response.status}")
    if response.status != 200:
        raise MediaRejected(f"media download answered HTTP {response.status}")
    content_type = (response.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip().lower()
    if not type_allowed(content_type, allowed):
        raise MediaRejected(f"media of type {content_type} is not stored")
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise MediaRejected(f"media of {declared} bytes exceeds the limit of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise MediaRejected(f"media exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return Media(content=b"".join(chunks), content_type=content_type)


def omitted(filename: str | None, reason: str) -> str:
    """The line a message carries instead of a file that could not be stored."""
    return f"[attachment {filename or 'without a name'} not stored: {reason}]"


class RecentIds:
    """A bounded set of ids seen lately (provider event ids), oldest forgotten first."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._ids: dict[str, None] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def add(self, key: str) -> None:
        self._ids.pop(key, None)
        self._ids[key] = None
        while len(self._ids) > self._size:
            del self._ids[next(iter(self._ids))]
