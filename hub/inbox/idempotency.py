"""``Idempotency-Key`` for POST: a repeated request returns the first answer, does nothing twice.

The key is stored per (user, key) with a fingerprint of method, path and body and the
response, in the SAME transaction as the action: the key row is inserted first, so a
concurrent second submission blocks on (PostgreSQL) or fails on (SQLite, after the
write lock) the unique constraint, rolls back everything it did, and answers with the
winner's stored response. Only successful answers are stored; an error rolls the key
back with the action, so the client may retry.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.db.models import IdempotencyKey, utcnow
from hub.errors import BadRequest, ValidationFailed
from hub.services import Services, Unit

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An HTTP answer: status and JSON body; ``replayed`` when it comes from an earlier request."""

    status: int
    body: bytes
    replayed: bool = False


Perform = Callable[[Unit], Awaitable[StoredResponse]]


def parse_key(raw: str | None) -> str | None:
    """The header's key, None when absent; 400 when empty, too long or not printable ASCII."""
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " < ch < "\x7f" for ch in key):
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def run_idempotent(
    services: Services, user_id: int, key: str | None, request_fingerprint: str, perform: Perform
) -> StoredResponse:
    """Run ``perform`` in a transaction once per (user, key); replay its stored answer afterwards."""
    if key is None:
        async with services.transaction() as unit:
            return await perform(unit)
    stored = await _lookup(services, user_id, key, request_fingerprint)
    if stored is not None:
        return stored
    try:
        async with services.transaction() as unit:
            session = unit.session
            key_id = await session.scalar(
                insert(IdempotencyKey)
                .values(user_id=user_id, key=key, fingerprint=request_fingerprint, status=0, response="",
                        created_at=utcnow())
                .returning(IdempotencyKey.id)
            )
            response = await perform(unit)
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.id == key_id)
                .values(status=response.status, response=response.body.decode())
                .execution_options(synchronize_session=False)
            )
        return response
    except IntegrityError:
        stored = await _lookup(services, user_id, key, request_fingerprint)
        if stored is None:
            raise  # not our key's constraint: a real error
        log.info("user %d: concurrent request with the same idempotency key answered from the winner", user_id)
        return stored


async def _lookup(services: Services, user_id: int, key: str, request_fingerprint: str) -> StoredResponse | None:
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(IdempotencyKey.fingerprint, IdempotencyKey.status, IdempotencyKey.response).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
                )
            )
        ).one_or_none()
    if row is None:
        return None
    stored_fingerprint, status, response = row
    if stored_fingerprint != request_fingerprint:
        raise ValidationFailed(f"this {HEADER} was already used for a different request")
    return StoredResponse(status=status, body=response.encode(), replayed=True)
