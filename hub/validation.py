"""Checks shared by every boundary that stores text from outside."""

from __future__ import annotations

from hub.errors import ValidationFailed


def ensure_storable(**fields: str | None) -> None:
    """Refuse text no database column can hold: PostgreSQL text rejects NUL characters.

    A clear 422 at the boundary instead of a database error (500) mid-transaction.
    """
    for name, value in fields.items():
        if value is not None and "\x00" in value:
            raise ValidationFailed(f"{name} contains a NUL character")
