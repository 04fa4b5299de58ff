"""argon2id password hashes: verify, reject, and notice outdated parameters."""

from __future__ import annotations

from argon2 import PasswordHasher

from hub.auth.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_a_hash_is_salted_argon2id_and_verifies_only_the_right_password() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert "correct horse battery" not in first
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse battery!")


def test_a_malformed_stored_hash_fails_verification_instead_of_raising() -> None:
    assert not verify_password("not-a-hash", "whatever")
    assert needs_rehash("not-a-hash")


def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    old = hash_password("correct horse battery", CHEAP)
    assert verify_password(old, "correct horse battery")  # still accepted
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("correct horse battery"))


async def test_the_async_variants_run_off_the_loop_and_a_missing_hash_never_matches() -> None:
    stored = await hash_password_async("s3cret-passphrase")
    assert await verify_password_async(stored, "s3cret-passphrase")
    assert not await verify_password_async(stored, "wrong")
    assert not await verify_password_async(None, "s3cret-passphrase")
