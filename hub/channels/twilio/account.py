"""A Twilio account as a channel configures it: the part SMS/WhatsApp and voice share.

Keys (``docs/channels/twilio.md``): ``account_sid`` (``AC`` + 32 hex digits),
``auth_token`` — normally named by ``auth_token_env``, never written into the file —
``api_base_url`` (default ``https://api.twilio.com``; tests point it at a local
server) and ``api_timeout_seconds``. The auth token both signs Twilio's webhooks
and authenticates the hub's REST calls, so a channel without it does not start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hub.channels import options
from hub.config import ChannelConfig
from hub.errors import ConfigError
from hub.net import DestinationPolicy

DEFAULT_API_BASE_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT_SECONDS = 15.0
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class TwilioAccount:
    """Credentials and endpoint of one Twilio (sub)account; the token never appears in ``repr``."""

    account_sid: str
    auth_token: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def api_host(self) -> str:
        """``host[:port]`` of the API base URL (media downloads may use it besides Twilio's own hosts)."""
        return urlsplit(self.api_base_url).netloc.lower()


def account_from_config(config: ChannelConfig, policy: DestinationPolicy) -> TwilioAccount:
    """Read the account keys of a ``twilio`` or ``twilio_voice`` channel; ConfigError when one is wrong.

    A missing auth token stops the channel: webhooks are never accepted unchecked.
    """
    sid = options.text(config, "account_sid")
    if sid is None or not _ACCOUNT_SID.match(sid):
        raise ConfigError(f"channel {config.name!r}: account_sid must be 'AC' followed by 32 hex digits")
    token = options.text(config, "auth_token")
    if token is None:
        raise ConfigError(
            f"channel {config.name!r}: the Twilio auth token is required (set auth_token_env to the "
            "name of the environment variable holding it); webhooks cannot be checked without it"
        )
    base = options.api_url(config, "api_base_url", DEFAULT_API_BASE_URL, policy)
    timeout = config.options.get("api_timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 120:
        raise ConfigError(f"channel {config.name!r}: api_timeout_seconds must be a number of seconds in (0, 120]")
    return TwilioAccount(account_sid=sid, auth_token=token, api_base_url=base, timeout_seconds=float(timeout))


# Where Twilio keeps message media: the API (the MediaUrl Twilio sends), the CDN it
# redirects to (mms.twiliocdn.com with media HTTP auth on, media.twiliocdn.com), and
# the legacy public S3 bucket path. https://help.twilio.com/articles/223183748
MEDIA_HOSTS = ("api.twilio.com", "media.twiliocdn.com", "mms.twiliocdn.com")
LEGACY_MEDIA_PREFIX = "https://s3-external-1.amazonaws.com/media.twiliocdn.com/"


def media_url_allowed(account: TwilioAccount, url: str) -> bool:
    """Whether ``url`` is on one of Twilio's media hosts (or the configured API base, for tests)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host in MEDIA_HOSTS:
        return True
    if url.startswith(LEGACY_MEDIA_PREFIX):
        return True
    base = urlsplit(account.api_base_url)
    return parts.scheme == base.scheme and parts.netloc.lower() == base.netloc.lower()
