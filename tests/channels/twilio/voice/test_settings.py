"""The voice channel's options: defaults, the menu, and mistakes that stop the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.channels.twilio.voice.settings import parse_voice_options
from hub.config import ChannelConfig
from hub.errors import ConfigError
from tests.channels.twilio.voice.config import voice_channel, voice_settings


def _parse(tmp_path: Path, **overrides: Any) -> Any:
    config = voice_channel(**overrides)
    return parse_voice_options(config, voice_settings("sqlite+aiosqlite://", tmp_path, config))


def test_defaults_and_the_menu(tmp_path: Path) -> None:
    options = _parse(tmp_path)
    assert options.language == "de-DE"
    assert options.default_queue == "support"
    assert options.record_calls is False and options.voicemail is True and options.transcribe is True
    assert options.prompt("de-DE", "menu").startswith("Für Rechnungen")
    assert options.prompt("en-US", "position", position=3) == "You are number 3 in the queue."
    assert options.prompt("de-DE", "whisper", queue="billing") == "Anruf aus der Warteschlange billing."
    assert options.choose("1", None).queue == "billing"
    assert options.choose(None, "Ich habe eine Frage zur Rechnung.").queue == "billing"
    assert options.choose(None, "I need help, please").queue == "support"
    assert options.choose("9", None).language == "en-US"
    assert options.choose("7", "Wetter") is None
    assert "Rechnung" in options.hints()


def test_business_hours_come_from_a_routing_calendar(tmp_path: Path) -> None:
    assert _parse(tmp_path, calendar="office").calendar.name == "office"
    with pytest.raises(ConfigError, match="calendar 'nope' is not one of"):
        _parse(tmp_path, calendar="nope")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"menu": [{"digit": "1", "queue": "nowhere"}]}, "queue 'nowhere' is not one of"),
        ({"menu": [{"digit": "12", "queue": "billing"}]}, "digit must be one key"),
        ({"menu": [{"keywords": [], "queue": "billing"}]}, "needs a digit or keywords"),
        ({"menu": [{"digit": "1", "queue": "billing", "language": "de-DE"}]}, "either a queue or a language"),
        ({"menu": [{"digit": "1", "queue": "billing"}, {"digit": "1", "queue": "support"}]}, "appears twice"),
        ({"languages": ["german"]}, "not a language tag"),
        ({"languages": ["fr-FR"], "menu": [], "prompts": {}}, "prompts.fr-FR needs welcome"),
        ({"prompts": {"de-DE": {"position": "Position {platz}"}}}, "only the placeholder {position}"),
        ({"prompts": {"de-DE": {"jingle": "la"}}}, "unknown text"),
        ({"ring_timeout": 5}, "longer than queue 'billing'"),
        ({"hold_music_url": "ftp://music"}, "hold_music_url must be an http"),
        ({"voicemail_max_seconds": 300}, "at most 120 with transcribe"),
        ({"volume": 11}, "unknown option"),
    ],
)
def test_mistakes_stop_the_start_naming_the_key(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(tmp_path, **overrides)


def test_a_voice_channel_needs_a_queue(tmp_path: Path) -> None:
    config = ChannelConfig(type="twilio_voice", name="hotline", queue=None, options=voice_channel().options)
    with pytest.raises(ConfigError, match="needs a queue"):
        parse_voice_options(config, voice_settings("sqlite+aiosqlite://", tmp_path, config))
