"""Loading config/hub.toml with environment overrides and secret references."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.bootstrap import make_bus
from hub.bus_redis import RedisBus
from hub.config import load_settings
from hub.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = """
[server]
public_url = "https://hub.example.com/"

[[queues]]
name = "support"

[[channels]]
type = "api"
name = "web-form"
queue = "support"
token_env = "WEBFORM_TOKEN"
"""


def test_settings_come_from_the_file_and_secrets_from_the_environment(tmp_path: Path) -> None:
    env = {"WEBFORM_TOKEN": "s3cret", "HUB_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(write(tmp_path, CONFIG), env)
    assert settings.public_url == "https://hub.example.com"
    assert settings.cookie_secure
    (channel,) = settings.channels
    assert channel.options["token"] == "s3cret"
    assert "s3cret" not in repr(channel)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "WEBFORM_TOKEN": "x",
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_DATABASE_URL": "postgresql+asyncpg://db/hub",
        "HUB_REDIS_URL": "redis://r:6379/0",
        "HUB_PORT": "9000",
        "HUB_SECRET_KEY": "k",
        "HUB_REDIS_CHANNEL": "staging:events",
    }
    settings = load_settings(write(tmp_path, CONFIG), env)
    assert (settings.database_url, settings.redis_url, settings.port, settings.secret_key) == (
        "postgresql+asyncpg://db/hub",
        "redis://r:6379/0",
        9000,
        "k",
    )
    # Pub/sub channels span a Redis server's databases: each installation names its own.
    bus = make_bus(settings)
    assert isinstance(bus, RedisBus) and bus.channel == "staging:events"
    assert load_settings(write(tmp_path, CONFIG), {**env, "HUB_REDIS_CHANNEL": ""}).redis_channel == "hub:events"


def test_a_missing_secret_variable_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="WEBFORM_TOKEN"):
        load_settings(write(tmp_path, CONFIG), {"HUB_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[channels]]\ntype = "api"\nname = "a"\n[[channels]]\ntype = "api"\nname = "a"\n', "twice"),
        ('[[channels]]\nname = "a"\n', "no type"),
        ('[[channels]]\ntype = "api"\nname = "a b"\n', "name"),
        ('[[channels]]\ntype = "api"\nname = "a"\nqueue = "nope"\n', "unknown queue"),
        ("this is = not toml [", "hub.toml"),
        ('[server]\nredis_channel = " "\n', "redis_channel"),
    ],
)
def test_invalid_configuration_is_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), {"HUB_DATA_DIR": str(tmp_path)})


def test_without_a_secret_key_one_is_generated_once_and_kept(tmp_path: Path) -> None:
    env = {"HUB_DATA_DIR": str(tmp_path)}
    first = load_settings(write(tmp_path, ""), env).secret_key
    assert len(first) > 40
    assert load_settings(write(tmp_path, ""), env).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", {})
