"""Random secrets for API tokens and browser sessions; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "hub_"


def new_token() -> str:
    """A new API token: 256 random bits, prefixed so secret scanners recognise it."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a token or session id. High-entropy secrets need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()
