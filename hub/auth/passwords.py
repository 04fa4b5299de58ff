"""Password hashing with argon2id; the slow hash runs off the event loop.

``argon2-cffi``'s default parameters (RFC 9106 low-memory profile: 64 MiB, t=3, p=4)
cost ~0.1 s per hash here. Hashes run on a two-thread pool so that a burst of logins
can neither block the event loop nor take more than 2 × 64 MiB at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 1024

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    """The argon2id hash of ``password`` (salted, self-describing)."""
    return str(hasher.hash(password))


def verify_password(stored: str, password: str, hasher: PasswordHasher = HASHER) -> bool:
    """True when ``password`` matches ``stored``; False for a mismatch or a malformed hash."""
    try:
        return bool(hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, hasher: PasswordHasher = HASHER) -> bool:
    """True when ``stored`` was made with other parameters than ``hasher`` uses now."""
    try:
        return bool(hasher.check_needs_rehash(stored))
    except InvalidHashError:
        return True


@cache
def dummy_hash() -> str:
    """A hash to verify against when there is no user, so that a miss costs as much as a hit."""
    return hash_password("no user has this password; it only burns the same time")


async def hash_password_async(password: str) -> str:
    """``hash_password`` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_async(stored: str | None, password: str) -> bool:
    """``verify_password`` on the hashing pool; a missing hash verifies the dummy and fails."""
    loop = asyncio.get_running_loop()
    if stored is None:
        await loop.run_in_executor(_pool, _verify_dummy, password)
        return False
    return await loop.run_in_executor(_pool, verify_password, stored, password)


def _verify_dummy(password: str) -> None:
    verify_password(dummy_hash(), password)
