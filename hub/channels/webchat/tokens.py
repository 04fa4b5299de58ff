"""The two secrets of the web chat: the hub's visitor tokens and the site's identity signatures.

Visitor token: ``wc1.<key>.<issued>.<signature>``, signed by the hub (``server.secret_key``)
for one channel. The widget keeps it in the browser, so a reload continues the chat.

Identity signature: the website signs its logged-in user's id with the channel's
``identity_secret`` (HMAC-SHA256, hex) over ``"<user_id>\\n<email>\\n<timestamp>"``
(``email`` may be empty), so no one can claim another user's id without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hub.errors import Forbidden, Unauthorized

TOKEN_PREFIX = "wc1"
IDENTITY_MAX_AGE_SECONDS = 24 * 3600
IDENTITY_MAX_SKEW_SECONDS = 300


def new_visitor_key() -> str:
    """A random visitor id (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def _mac(secret: str, channel: str, key: str, issued: int) -> str:
    message = f"webchat-visitor\x00{channel}\x00{key}\x00{issued}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_visitor_token(secret: str, channel: str, key: str, issued: int) -> str:
    """The token for visitor ``key`` of ``channel``, issued at unix time ``issued``."""
    return f"{TOKEN_PREFIX}.{key}.{issued}.{_mac(secret, channel, key, issued)}"


def read_visitor_token(secret: str, channel: str, token: str, *, now: int, max_age: int) -> str:
    """The visitor key in ``token``; 401 when it is malformed, forged, for another channel or too old."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX or not parts[2].isdigit() or len(token) > 200:
        raise Unauthorized("not a visitor token")
    _, key, issued_text, mac = parts
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _mac(secret, channel, key, issued)):
        raise Unauthorized("the visitor token is not valid for this channel")
    if now - issued > max_age or issued - now > IDENTITY_MAX_SKEW_SECONDS:
        raise Unauthorized("the visitor token has expired; start a new chat session")
    return key


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """A website user whose id (and email, when given) the site signed."""

    user_id: str
    email: str | None


def identity_signature(secret: bytes, user_id: str, email: str | None, timestamp: int) -> str:
    """What the website computes: hex HMAC-SHA256 over ``user_id \\n email \\n timestamp``."""
    message = f"{user_id}\n{email or ''}\n{timestamp}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_identity(
    secret: bytes, user_id: str, email: str | None, timestamp: int, signature: str, *, now: int
) -> VerifiedIdentity:
    """The identity when the signature is right and fresh; 403 otherwise."""
    expected = identity_signature(secret, user_id, email, timestamp)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Forbidden("the identity signature does not match the user id")
    if now - timestamp > IDENTITY_MAX_AGE_SECONDS or timestamp - now > IDENTITY_MAX_SKEW_SECONDS:
        raise Forbidden("the identity signature has expired; sign the user id again when rendering the page")
    return VerifiedIdentity(user_id, email)
