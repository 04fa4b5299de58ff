"""A web chat channel whose options are wrong does not start, and says which key is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.channels.webchat.options import Origin, parse_options
from hub.config import ChannelConfig
from hub.errors import ConfigError
from tests.channels.webchat.conftest import SITE
from tests.conftest import make_settings


def options(**values: Any) -> ChannelConfig:
    return ChannelConfig(type="webchat", name="site-chat", queue=None, options={"allowed_origins": [SITE], **values})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"allowed_origins": []}, "allowed_origins"),
        ({"allowed_origins": ["*"]}, "not an origin"),
        ({"allowed_origins": ["https://shop.test/path"]}, "not an origin"),
        ({"allowed_origins": ["ftp://shop.test"]}, "not an origin"),
        ({"identity_secret": "short"}, "identity_secret"),
        ({"identity_required": True}, "needs identity_secret"),
        ({"offline_email_channel": "web-form"}, "not an email channel"),
        ({"prechat": [{"name": "Bad Name"}]}, "invalid"),
        ({"prechat": [{"name": "order"}]}, "label_en"),
        ({"messages_per_minute": 0}, "positive"),
        ({"color": "red"}, "color"),
        ({"allowed_origin": [SITE]}, "unknown option"),
    ],
)
def test_a_wrong_option_stops_the_start(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_options(options(**values), make_settings("sqlite+aiosqlite://", tmp_path))


def test_origins_compare_as_browsers_send_them(tmp_path: Path) -> None:
    parsed = parse_options(
        options(allowed_origins=["https://Shop.Example.com", "http://localhost:8000/"]),
        make_settings("sqlite+aiosqlite://", tmp_path),
    )
    assert parsed.origin_allowed("https://shop.example.com")
    assert parsed.origin_allowed("http://localhost:8000")
    for other in ("http://shop.example.com", "https://shop.example.com:8443", "https://evil.example.com",
                  "null", "", None, "http://localhost:8001"):
        assert not parsed.origin_allowed(other)
    assert Origin.parse("https://a.test?x=1") is None
    assert parsed.max_attachment_bytes == 10 << 20
