"""Who else is on a conversation: an agent opening (viewing) it, and @mentions in notes.

``conversation.viewing`` is a signal like typing: the UI warns an agent that a
colleague has the same conversation open. It is presence, not a change, so it is a
transient event: published on the bus for ``/ws`` only, never written to the events
table (which routing, connectors and outgoing webhooks follow and which is kept). ``message.mentioned`` is addressed to the
mentioned colleague only (its ``user_id``), so it reaches them and supervisors.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from hub import events as ev
from hub.auth.policy import can_see_conversation, ensure_conversation_visible
from hub.auth.principal import Principal, Role
from hub.bus import publish_transient
from hub.db.models import Conversation, QueueMember, User, utcnow
from hub.errors import ValidationFailed
from hub.events import Event
from hub.inbox.actions import conversation_event
from hub.services import Services, Unit

MAX_MENTIONS = 20


async def viewing(services: Services, principal: Principal, conversation_id: int, open_now: bool) -> None:
    """The agent opened (``open_now``) or left the conversation; 404 unless they may see it."""
    async with services.sessions() as session:
        found = await session.scalar(select(Conversation).where(Conversation.id == conversation_id))
        conversation = ensure_conversation_visible(principal, found)
        data = {"user_id": principal.user_id, "viewing": open_now}
        event = conversation_event(ev.CONVERSATION_VIEWING, conversation, data, utcnow())
    await publish_transient(services.bus, event)


async def mention(
    unit: Unit, principal: Principal, conversation: Conversation, message_id: int, user_ids: Sequence[int]
) -> list[int]:
    """Tell each mentioned colleague about the note; 422 for one who is unknown or cannot see it."""
    wanted = sorted(set(user_ids) - {principal.user_id})
    if len(wanted) > MAX_MENTIONS:
        raise ValidationFailed(f"at most {MAX_MENTIONS} mentions in one note")
    if not wanted:
        return []
    session = unit.session
    users = {
        row.id: row
        for row in (await session.scalars(select(User).where(User.id.in_(wanted), User.active.is_(True)))).all()
    }
    memberships: dict[int, set[int]] = {}
    for user_id, queue_id in await session.execute(
        select(QueueMember.user_id, QueueMember.queue_id).where(QueueMember.user_id.in_(wanted))
    ):
        memberships.setdefault(user_id, set()).add(queue_id)
    now = utcnow()
    for user_id in wanted:
        user = users.get(user_id)
        if user is None:
            raise ValidationFailed(f"mentions: no active user {user_id}")
        other = Principal(user.id, user.email, user.name, Role(user.role), frozenset(memberships.get(user.id, ())), "token")
        if not can_see_conversation(other, conversation.queue_id, conversation.assignee_id):
            raise ValidationFailed(f"mentions: {user.name} cannot see this conversation")
        unit.emit(
            Event(
                ev.MESSAGE_MENTIONED,
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                user_id=user_id,
                data={"message_id": message_id, "by_user_id": principal.user_id},
                occurred_at=now,
            )
        )
    return wanted
