"""Provider delivery reports: move an outbound message's status forwards, never back.

Providers call back out of order (a ``delivered`` may arrive after ``read``, a
``sent`` after ``delivered``) and retry their callbacks. The status moves only along
queued < sending < sent < delivered < read; ``failed`` is reachable from anything
before ``delivered`` and is final. The update is a compare-and-set on the current
status, so two callbacks racing cannot move it backwards either.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from hub import events as ev
from hub.db.models import Conversation, Message, utcnow
from hub.inbox.actions import conversation_event
from hub.messages import DeliveryStatus, StatusEvent
from hub.services import Services

log = logging.getLogger(__name__)

_ORDER = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
)


def allowed_from(new: DeliveryStatus) -> tuple[str, ...]:
    """The current statuses from which a report of ``new`` may move a message."""
    if new is DeliveryStatus.FAILED:
        return tuple(s.value for s in _ORDER[: _ORDER.index(DeliveryStatus.DELIVERED)])
    return tuple(s.value for s in _ORDER[: _ORDER.index(new)])


async def apply_status_event(services: Services, event: StatusEvent) -> bool:
    """Apply a provider's report; True when the message's status moved.

    Reports for unknown channels or provider ids are logged and ignored (providers
    also report on messages sent outside the hub), stale ones are dropped silently.
    """
    endpoint = services.endpoints.get(event.channel)
    if endpoint is None:
        log.info("status report for unknown channel %s ignored", event.channel)
        return False
    occurred_at = event.occurred_at
    async with services.transaction() as unit:
        session = unit.session
        row = (
            await session.execute(
                select(Message.id, Message.status, Message.conversation_id).where(
                    Message.channel_id == endpoint.channel_id,
                    Message.provider_message_id == event.provider_message_id,
                    Message.direction == "out",
                    Message.private.is_(False),
                )
            )
        ).one_or_none()
        if row is None:
            log.info("status report on channel %s for an unknown provider message ignored", event.channel)
            return False
        message_id, previous, conversation_id = row
        values: dict[str, Any] = {"status": event.status.value}
        if event.status is DeliveryStatus.FAILED:
            values["error"] = (event.error or "the provider reported a failure")[:1000]
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status.in_(allowed_from(event.status)))
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            log.debug("message %d: stale status report %s (now %s) dropped", message_id, event.status, previous)
            return False
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        data: dict[str, Any] = {"message_id": message_id, "status": event.status.value, "previous": previous}
        if occurred_at is not None:
            data["reported_at"] = occurred_at.isoformat()
        unit.emit(conversation_event(ev.MESSAGE_STATUS_CHANGED, conversation, data, utcnow()))
    return True
