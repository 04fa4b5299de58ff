"""Wakes snoozed conversations whose ``snoozed_until`` has passed: they are open again.

The reopening is a guarded UPDATE (status still snoozed, time passed), so several hub
processes running this worker never reopen a conversation twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update

from hub import events as ev
from hub.db.models import Conversation, TimelineEntry, utcnow
from hub.events import Event
from hub.inbox.periodic import Periodic
from hub.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def wake_due(services: Services, now: datetime, *, limit: int = 500) -> list[int]:
    """Reopen up to ``limit`` conversations whose snooze ended by ``now``; return their ids."""
    due = (
        select(Conversation.id)
        .where(Conversation.status == "snoozed", Conversation.snoozed_until <= now)
        .order_by(Conversation.snoozed_until)
        .limit(limit)
    )
    async with services.sessions() as session:
        candidates = list((await session.scalars(due)).all())
    if not candidates:
        return []
    async with services.transaction() as unit:
        session = unit.session
        rows = (
            await session.execute(
                update(Conversation)
                .where(
                    Conversation.id.in_(candidates),
                    Conversation.status == "snoozed",
                    Conversation.snoozed_until <= now,
                )
                .values(status="open", snoozed_until=None, updated_at=now)
                .returning(
                    Conversation.id,
                    Conversation.contact_id,
                    Conversation.channel_id,
                    Conversation.queue_id,
                    Conversation.assignee_id,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        for conversation_id, contact_id, channel_id, queue_id, assignee_id in rows:
            session.add(
                TimelineEntry(
                    contact_id=contact_id,
                    conversation_id=conversation_id,
                    channel_id=channel_id,
                    kind="status_changed",
                    occurred_at=now,
                    data={"from": "snoozed", "to": "open", "reason": "snooze_ended"},
                )
            )
            unit.emit(
                Event(
                    ev.CONVERSATION_STATUS_CHANGED,
                    conversation_id=conversation_id,
                    contact_id=contact_id,
                    queue_id=queue_id,
                    user_id=assignee_id,
                    data={"previous": "snoozed", "status": "open", "snoozed_until": None, "by_user_id": None},
                    occurred_at=now,
                )
            )
    woken = [row[0] for row in rows]
    if woken:
        log.info("woke %d snoozed conversations", len(woken))
    return woken


class Snoozer(Periodic):
    """Background worker calling ``wake_due`` every ``interval`` seconds."""

    def __init__(self, services: Services, *, clock: Clock = utcnow, interval: float = 15.0) -> None:
        self.services = services
        self.clock = clock
        super().__init__("snoozer", self._wake, interval)

    async def _wake(self) -> None:
        await wake_due(self.services, self.clock())
