"""Who is calling: the authenticated user with their role and queues."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user. ``via`` is "session" (browser, CSRF-checked) or "token"."""

    user_id: int
    email: str
    name: str
    role: Role
    queue_ids: frozenset[int]
    via: str
    csrf_token: str | None = None

    @property
    def sees_everything(self) -> bool:
        """Supervisors and admins see every conversation; agents their queues and their own."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
