"""Slack user profiles (``users.info``) for contacts: name and email, cached for an hour."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str | None = None
    email: str | None = None


class ProfileCache:
    """``users.info`` per user, kept ``ttl`` seconds; a failed lookup gives an empty profile."""

    def __init__(
        self, client: AsyncWebClient, *, ttl: float = 3600.0, size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._cache: dict[str, tuple[float, Profile]] = {}

    async def get(self, user: str) -> Profile:
        now = self._clock()
        hit = self._cache.get(user)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            response = await self._client.users_info(user=user)
        except SlackApiError as exc:
            log.warning("slack users.info for %s failed: %s", user, exc.response.get("error"))
            return Profile()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack users.info for %s failed: %s", user, type(exc).__name__)
            return Profile()
        profile = _profile(response.get("user"))
        if len(self._cache) >= self._size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[user] = (now + self._ttl, profile)
        return profile


def _profile(user: object) -> Profile:
    if not isinstance(user, dict):
        return Profile()
    details = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    assert isinstance(details, dict)
    name = next(
        (v.strip() for v in (details.get("real_name"), user.get("real_name"), details.get("display_name"), user.get("name"))
         if isinstance(v, str) and v.strip()),
        None,
    )
    email = details.get("email")
    return Profile(name=name[:200] if name else None, email=email if isinstance(email, str) and email else None)
