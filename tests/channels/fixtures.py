"""Scenario-named provider payloads from tests/fixtures/<provider>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def raw(provider: str, name: str, **values: str) -> bytes:
    """The fixture's bytes, with ``{key}`` placeholders (e.g. a stub's URL) filled in."""
    text = (FIXTURES / provider / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()


def load(provider: str, name: str, **values: str) -> Any:
    return json.loads(raw(provider, name, **values))
