"""Voice channel configurations for the tests: an IVR with two queues and a language switch."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hub.config import ChannelConfig, QueueConfig, Settings
from tests.channels.twilio.twilio_api import ACCOUNT_SID, AUTH_TOKEN
from tests.conftest import make_settings

HOLD_MUSIC = "https://music.example.test/hold.mp3"

MENU = [
    {"digit": "1", "keywords": ["Rechnung", "billing", "invoice"], "queue": "billing"},
    {"digit": "2", "keywords": ["Support", "Hilfe", "help"], "queue": "support"},
    {"digit": "9", "keywords": ["English"], "language": "en-US"},
]


def voice_options(api_url: str = "https://api.twilio.com", **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "api_base_url": api_url,
        "languages": ["de-DE", "en-US"],
        "menu": MENU,
        "hold_music_url": HOLD_MUSIC,
        "ring_timeout": 1,
        "prompts": {"de-DE": {"menu": "Für Rechnungen drücken Sie 1, für Hilfe die 2. For English press 9."}},
    }
    options.update(overrides)
    return options


def voice_channel(api_url: str = "https://api.twilio.com", **overrides: Any) -> ChannelConfig:
    return ChannelConfig(type="twilio_voice", name="hotline", queue="support", options=voice_options(api_url, **overrides))


QUEUES = (
    QueueConfig("support", {"offer_timeout": 1.0, "away_after_missed_offers": 1}),
    QueueConfig("billing", {"offer_timeout": 1.0, "away_after_missed_offers": 1}),
)

ROUTING: dict[str, Any] = {
    "lease": 1,
    "stats_interval": 0.2,
    "calendars": {
        "office": {"timezone": "Europe/Berlin", "mon-fri": "08:00-18:00"},
        # Open every day but closed on holidays: today and the days around it (the test's "closed" office).
        "holiday": {"timezone": "Europe/Berlin", "mon-sun": "00:00-24:00", "holidays": [
            (date.today() + timedelta(days=d)).isoformat() for d in (-1, 0, 1)
        ]},
    },
}


def voice_settings(database_url: str, data_dir: Path, *channels: ChannelConfig, **overrides: Any) -> Settings:
    base = make_settings(database_url, data_dir)
    values: dict[str, Any] = {
        "queues": QUEUES, "routing": ROUTING, "channels": (*base.channels, *channels),
        "public_url": "https://hub.example.test",
    }
    values.update(overrides)
    return make_settings(database_url, data_dir, **values)
