"""Admins change staff accounts: name, role, language, queues, skills, active. One audited transaction.

Deactivating a user ends their browser sessions at once; their API tokens stop
working because authentication only accepts active users. An admin cannot demote
or deactivate themselves, so the last admin cannot lock everyone out by accident.
Routing hears ``agent.updated`` and re-reads the agent's queues and skills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select

from hub import events as ev
from hub.auth.accounts import MAX_SKILL_LEVEL
from hub.auth.audit import record_audit
from hub.auth.principal import Principal, Role
from hub.auth.token_cache import TOKENS
from hub.db.models import Queue, QueueMember, User, UserSkill, WebSession, utcnow
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.events import Event
from hub.services import Services

USER_UPDATED = "user.updated"


@dataclass(frozen=True)
class UserChanges:
    """The fields to change; None leaves a field as it is (``locale``: ``clear_locale`` empties it)."""

    name: str | None = None
    role: str | None = None
    active: bool | None = None
    locale: str | None = None
    clear_locale: bool = False
    queues: list[str] | None = None
    skills: Mapping[str, int] | None = None


def _check(changes: UserChanges) -> None:
    if changes.name is not None and not changes.name.strip():
        raise ValidationFailed("name: must not be blank")
    if changes.role is not None and changes.role not in {r.value for r in Role}:
        raise ValidationFailed(f"role: must be one of {', '.join(r.value for r in Role)}")
    for skill, level in (changes.skills or {}).items():
        if not skill.strip() or skill != skill.strip():
            raise ValidationFailed(f"skills: {skill!r} is blank or has surrounding spaces")
        if not 1 <= level <= MAX_SKILL_LEVEL:
            raise ValidationFailed(f"skills: level of {skill!r} must be 1 to {MAX_SKILL_LEVEL}")


async def update_user(services: Services, actor: Principal, user_id: int, changes: UserChanges) -> list[str]:
    """Apply ``changes`` to a user (admins); returns the names of the fields that changed."""
    if not actor.is_admin:
        raise Forbidden("only admins change users")
    _check(changes)
    if user_id == actor.user_id and (changes.active is False or changes.role not in (None, Role.ADMIN.value)):
        raise Conflict("you cannot deactivate or demote yourself; ask another admin")
    now = utcnow()
    async with services.transaction() as unit:
        session = unit.session
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("no such user")
        changed: list[str] = []
        data: dict[str, object] = {}
        if changes.name is not None and changes.name.strip() != user.name:
            user.name = changes.name.strip()
            changed.append("name")
        if changes.role is not None and changes.role != user.role:
            data["role"] = changes.role
            data["previous_role"] = user.role
            user.role = changes.role
            changed.append("role")
        new_locale = None if changes.clear_locale else changes.locale
        if (changes.clear_locale or changes.locale is not None) and new_locale != user.locale:
            user.locale = new_locale
            changed.append("locale")
        if changes.active is not None and changes.active != user.active:
            user.active = changes.active
            data["active"] = changes.active
            changed.append("active")
            if not changes.active:
                await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        if changes.queues is not None:
            wanted = sorted(set(changes.queues))
            found = dict((await session.execute(select(Queue.name, Queue.id).where(Queue.name.in_(wanted)))).all())
            unknown = [q for q in wanted if q not in found]
            if unknown:
                raise ValidationFailed(f"queues: unknown queue(s) {', '.join(unknown)}")
            current = set((await session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user_id))).all())
            if current != set(found.values()):
                await session.execute(delete(QueueMember).where(QueueMember.user_id == user_id))
                session.add_all(QueueMember(user_id=user_id, queue_id=found[q]) for q in wanted)
                data["queues"] = wanted
                changed.append("queues")
        if changes.skills is not None:
            wanted_skills = dict(sorted(changes.skills.items()))
            current_skills = dict(
                (await session.execute(select(UserSkill.skill, UserSkill.level).where(UserSkill.user_id == user_id))).all()
            )
            if current_skills != wanted_skills:
                await session.execute(delete(UserSkill).where(UserSkill.user_id == user_id))
                await session.flush()
                session.add_all(UserSkill(user_id=user_id, skill=s, level=lv) for s, lv in wanted_skills.items())
                data["skills"] = wanted_skills
                changed.append("skills")
        if not changed:
            return []
        data["fields"] = changed
        await record_audit(session, actor_id=actor.user_id, action=USER_UPDATED, object_type="user",
                           object_id=user_id, data=data)
        unit.emit(Event(ev.AGENT_UPDATED, user_id=user_id, occurred_at=now,
                        data={"fields": changed, "by_user_id": actor.user_id}))
    TOKENS.invalidate()  # after commit: role, active and queues are read again on the next request
    return changed
