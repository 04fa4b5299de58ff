"""Dead letters of the outbox: a supervisor puts one back in line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hub import events as ev
from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.db.models import Conversation, Message, OutboxItem, utcnow
from hub.errors import Conflict, Forbidden, NotFound
from hub.inbox.actions import conversation_event
from hub.services import Services

OUTBOX_RETRIED = "outbox.retried"  # audit action


async def retry_dead(
    services: Services, principal: Principal, outbox_id: int, *, now: datetime | None = None
) -> OutboxItem:
    """Put a dead letter back in line (supervisors and admins); its message is queued again."""
    if not principal.sees_everything:
        raise Forbidden("only supervisors and admins retry dead letters")
    now = now or utcnow()
    async with services.transaction() as unit:
        session = unit.session
        outbox = (
            await session.execute(select(OutboxItem).where(OutboxItem.id == outbox_id).with_for_update())
        ).scalar_one_or_none()
        if outbox is None:
            raise NotFound("no such outbox entry")
        if outbox.state != "dead":
            raise Conflict(f"outbox entry {outbox_id} is {outbox.state}, not a dead letter")
        message = await session.get(Message, outbox.message_id)
        assert message is not None
        previous_attempts = outbox.attempts
        outbox.state = "pending"
        outbox.attempts = 0
        outbox.next_attempt_at = now
        outbox.locked_until = None
        outbox.updated_at = now
        previous = message.status
        if previous == "failed":
            message.status = "queued"
            message.error = None
            conversation = await session.get(Conversation, message.conversation_id)
            assert conversation is not None
            unit.emit(
                conversation_event(
                    ev.MESSAGE_STATUS_CHANGED,
                    conversation,
                    {"message_id": message.id, "status": "queued", "previous": previous},
                    now,
                )
            )
        await record_audit(
            session,
            actor_id=principal.user_id,
            action=OUTBOX_RETRIED,
            object_type="outbox",
            object_id=outbox.id,
            data={"message_id": message.id, "previous_attempts": previous_attempts},
        )
    return outbox
