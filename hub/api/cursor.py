"""Opaque keyset cursors: the position after a page's last row, signed so edits are caught.

A cursor is ``base64url(json) "." base64url(hmac)``. The MAC binds it to the list it
came from (``kind``) and the server's secret; a changed or foreign cursor is a 400.
It carries only a sort key and an id, never a filter, so it grants no access by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from hub.errors import BadRequest

T = TypeVar("T")

_MAC_BYTES = 16


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"hub cursor v1\x00" + secret.encode()).digest()


def _mac(secret: str, kind: str, payload: bytes) -> bytes:
    return hmac.new(_key(secret), kind.encode() + b"\x00" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(secret: str, kind: str, values: list[Any]) -> str:
    """A cursor for list ``kind`` holding ``values`` (JSON scalars)."""
    payload = msgspec.json.encode(values)
    return f"{_b64(payload)}.{_b64(_mac(secret, kind, payload))}"


def decode(secret: str, kind: str, cursor: str) -> list[Any]:
    """The values of a cursor made by ``encode`` for ``kind``; 400 when it was not."""
    head, dot, tail = cursor.partition(".")
    try:
        if not dot or not cursor.isascii():
            raise ValueError("no separator")
        payload, mac = _unb64(head), _unb64(tail)
    except (ValueError, binascii.Error):
        raise BadRequest("the cursor is malformed; use the `next` value of a previous page") from None
    if not hmac.compare_digest(mac, _mac(secret, kind, payload)):
        raise BadRequest("the cursor was changed or belongs to another list")
    values = msgspec.json.decode(payload)
    if not isinstance(values, list):
        raise BadRequest("the cursor is malformed")
    return values


def time_and_id(secret: str, kind: str, cursor: str) -> tuple[datetime, int]:
    """Decode a (timestamp, id) cursor."""
    values = decode(secret, kind, cursor)
    try:
        at, row_id = values
        return datetime.fromisoformat(at), int(row_id)
    except (TypeError, ValueError):
        raise BadRequest("the cursor is malformed") from None


def encode_time_and_id(secret: str, kind: str, at: datetime, row_id: int) -> str:
    """A cursor after the row at (``at``, ``row_id``)."""
    return encode(secret, kind, [at.isoformat(), row_id])


def id_only(secret: str, kind: str, cursor: str) -> int:
    """Decode an id cursor."""
    values = decode(secret, kind, cursor)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise BadRequest("the cursor is malformed")
    return values[0]


def next_by_id(secret: str, kind: str, found: Sequence[T], limit: int, row_id: Callable[[T], int]) -> str | None:
    """The cursor after the page ``found[:limit]``, or None when the query (asked for
    ``limit + 1`` rows) found no more."""
    if len(found) <= limit:
        return None
    return encode(secret, kind, [row_id(found[limit - 1])])
