"""Access to the real services tests use (PostgreSQL, Redis): skip locally, fail in CI."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def service_missing(name: str, reason: BaseException | str) -> None:
    """A service a test needs is not there: a failure in CI, a skip on a laptop."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI must provide it)")
    pytest.skip(message)
