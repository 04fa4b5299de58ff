"""The outbox dispatcher: sends queued replies through their channel adapters.

A reply commits its message and an outbox row together (``hub.inbox.actions``).
The dispatcher claims due rows in a short transaction — ``FOR UPDATE SKIP LOCKED``
on PostgreSQL so that several hub processes share the work, and on both backends a
lease (``locked_until``) that a guarded UPDATE takes, so a row is never claimed
twice while its send is in flight. Then it loads the ``OutboundMessage``
(``hub.inbox.outbound_load``) and calls ``adapter.send()`` outside any transaction
for each of its deliveries (text parts, then attachments: ``outbound_rules``),
recording each, so that a retry resumes after the last one sent; then the outcome:

- success: message ``sent`` with the provider's id, outbox row ``done``;
- ``TransientChannelError``: retried with exponential backoff and jitter, never
  sooner than the provider's ``retry_after``; a dead letter after ``max_attempts``;
- ``PermanentChannelError``: message ``failed`` with the error, a dead letter at once.

Before sending, ``hub.crm_link.consent.ensure_outbound_allowed`` is checked again: a
reply queued before the contact withdrew consent (or before processing was
restricted) fails with that reason and becomes a dead letter instead of going out.

Replies of one conversation claimed together go out one after the other, oldest
first, so a customer reads them in the order they were written (replies claimed by
different hub processes may still overtake each other). Dead letters go back in
line with ``hub.inbox.dead_letters.retry_dead``.

It wakes on ``wake()`` (a reply committed in this process) or every ``poll_interval``
(replies committed by other hub processes, retries falling due).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events as ev
from hub.channels.base import (
    ChannelAdapter,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from hub.db.models import Conversation, Message, OutboxItem, ThreadKey, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import HubError
from hub.inbox import outbound_rules
from hub.inbox.actions import conversation_event
from hub.inbox.outbound_load import load_outbound
from hub.messages import OutboundMessage
from hub.services import Services, Unit

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 3600.0
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0
ERROR_LENGTH = 1000


def backoff_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before the next try after failed try number ``attempt`` (1-based).

    Exponential (base, 2·base, 4·base, ... up to ``cap``) with "equal jitter" (half
    fixed, half random) so that a provider outage does not end in a thundering herd;
    never sooner than the provider's ``retry_after`` (itself capped at six hours).
    """
    exponential = min(cap, base * 2.0 ** max(0, attempt - 1))
    delay = exponential * (0.5 + rand() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row this dispatcher holds the lease of."""

    id: int
    message_id: int
    channel_id: int
    parts_sent: int = 0  # provider messages of this reply that an earlier try already sent


class Dispatcher:
    """Claims due outbox rows and sends them; one per hub process."""

    def __init__(
        self,
        services: Services,
        adapters: Mapping[str, ChannelAdapter],
        *,
        clock: Clock = utcnow,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        poll_interval: float = 2.0,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 16,
        concurrency: int = 8,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.services = services
        self.adapters = adapters
        self.clock = clock
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.lease = lease
        self.batch_size = batch_size
        self._rand = rand
        self._semaphore = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due rows now (call after a reply committed)."""
        self._wakeup.set()

    async def start(self) -> None:
        """Run the dispatch loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="outbox-dispatcher")

    async def aclose(self) -> None:
        """Stop claiming; finish the sends in flight and release the rest of the batch."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox dispatch round failed; trying again after the poll interval")
                handled = 0
            if handled >= self.batch_size:
                continue  # more may be due
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Claim the due rows and send them; returns how many were claimed."""
        claimed = await self.claim(self.batch_size)
        if claimed:
            await asyncio.gather(*(self._dispatch_in_order(group) for group in await self._by_conversation(claimed)))
        return len(claimed)

    async def _by_conversation(self, claimed: list[Claimed]) -> list[list[Claimed]]:
        """The claimed rows per conversation, oldest first: a conversation's replies go out in order."""
        async with self.services.sessions() as session:
            rows = await session.execute(
                select(Message.id, Message.conversation_id).where(Message.id.in_([c.message_id for c in claimed]))
            )
            owner: dict[int, int] = {message_id: conversation_id for message_id, conversation_id in rows}
        groups: dict[int | None, list[Claimed]] = {}
        for item in sorted(claimed, key=lambda c: c.id):
            groups.setdefault(owner.get(item.message_id), []).append(item)
        return list(groups.values())

    async def _dispatch_in_order(self, items: list[Claimed]) -> None:
        for item in items:
            await self._dispatch(item)

    async def claim(self, limit: int) -> list[Claimed]:
        """Take the lease on up to ``limit`` due rows that no one else holds."""
        now = self.clock()
        lease_free = or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until <= now)
        due = (
            select(OutboxItem.id)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now, lease_free)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
        )
        if self.services.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self.services.sessions() as session, session.begin():
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            # The guard repeats the conditions: on SQLite the SELECT ran outside the write lock.
            rows = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(ids), OutboxItem.state == "pending", lease_free)
                .values(locked_until=now + self.lease)
                .returning(OutboxItem.id, OutboxItem.message_id, OutboxItem.channel_id, OutboxItem.parts_sent)
                .execution_options(synchronize_session=False)
            )
            return [Claimed(*row) for row in rows]

    async def _dispatch(self, item: Claimed) -> None:
        async with self._semaphore:
            if self._stopping:
                await self._release(item)
                return
            try:
                prepared = await load_outbound(
                    self.services, self.adapters, item.id, item.message_id, item.channel_id, self.clock()
                )
                if prepared is None:
                    return
                adapter, outbound = prepared
                result = await self._send_parts(item, adapter, outbound_rules.deliveries(adapter.capabilities, outbound))
            except TransientChannelError as exc:
                await self._record_failure(item, exc.detail, permanent=False, retry_after=exc.retry_after)
            except PermanentChannelError as exc:
                await self._record_failure(item, exc.detail, permanent=True)
            except HubError as exc:  # e.g. BlockedDestination: retrying cannot help
                await self._record_failure(item, exc.detail, permanent=True)
            except Exception as exc:
                log.exception("outbox %d: unexpected error while sending", item.id)
                await self._record_failure(item, f"internal error: {type(exc).__name__}", permanent=False)
            else:
                await self._record_sent(item, result)

    async def _send_parts(
        self, item: Claimed, adapter: ChannelAdapter, parts: list[OutboundMessage]
    ) -> SendResult:
        """Send the parts not yet sent, recording each, so that a retry resumes after the last one.

        The message keeps the first part's provider id (its delivery reports move the status).
        """
        first: SendResult | None = None
        for index in range(item.parts_sent, len(parts)):
            result = await adapter.send(parts[index])
            if index == 0:
                first = result
            if index < len(parts) - 1:
                await self._record_part(item, index + 1, result if index == 0 else None)
        # With several parts the first one's id is stored already (by _record_part).
        return first if first is not None and len(parts) == 1 else SendResult(provider_message_id=None)

    async def _record_part(self, item: Claimed, sent: int, first: SendResult | None) -> None:
        async with self.services.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id).values(parts_sent=sent)
                .execution_options(synchronize_session=False)
            )
            if first is not None and first.provider_message_id is not None:
                await self._store_provider_id(session, item.message_id, first.provider_message_id)

    async def _release(self, item: Claimed) -> None:
        async with self.services.sessions() as session, session.begin():
            await session.execute(
                update(OutboxItem).where(OutboxItem.id == item.id).values(locked_until=None)
                .execution_options(synchronize_session=False)
            )

    async def _record_sent(self, item: Claimed, result: SendResult) -> None:
        now = self.clock()
        async with self.services.transaction() as unit:
            session = unit.session
            outbox = await session.get(OutboxItem, item.id)
            message = await session.get(Message, item.message_id)
            if outbox is None or message is None:
                return
            outbox.state = "done"
            outbox.attempts += 1
            outbox.locked_until = None
            outbox.last_error = None
            outbox.updated_at = now
            if result.provider_message_id is not None:
                await self._store_provider_id(session, message.id, result.provider_message_id)
            message.sent_at = now
            previous = message.status
            if previous in ("queued", "sending"):
                message.status = "sent"
                message.error = None
                await self._status_event(unit, message, previous, now)
        log.info("outbox %d: message %d sent", item.id, item.message_id)

    @staticmethod
    async def _store_provider_id(session: AsyncSession, message_id: int, provider_id: str) -> None:
        """Name the message by the provider's id, unless it has one or another message holds it."""
        message = await session.get(Message, message_id)
        if message is None or message.provider_message_id is not None:
            return
        provider_id = provider_id[:500]
        taken = await session.scalar(
            select(Message.id).where(
                Message.channel_id == message.channel_id,
                Message.provider_message_id == provider_id,
                Message.id != message.id,
            )
        )
        if taken is not None:
            log.warning("message %d: provider id already names message %d; not stored", message.id, taken)
            return
        message.provider_message_id = provider_id
        # Answers quote the provider's id of what we sent (email In-Reply-To): as a thread
        # key it leads them back into this conversation.
        await insert_ignore(
            session,
            ThreadKey,
            [{"channel_id": message.channel_id, "key": provider_id, "conversation_id": message.conversation_id}],
        )

    async def _record_failure(
        self, item: Claimed, error: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        now = self.clock()
        error = error[:ERROR_LENGTH]
        async with self.services.transaction() as unit:
            session = unit.session
            outbox = await session.get(OutboxItem, item.id)
            message = await session.get(Message, item.message_id)
            if outbox is None or message is None:
                return
            outbox.attempts += 1
            outbox.locked_until = None
            outbox.last_error = error
            outbox.updated_at = now
            if not permanent and outbox.attempts < self.max_attempts:
                delay = backoff_delay(outbox.attempts, retry_after, rand=self._rand)
                outbox.next_attempt_at = now + timedelta(seconds=delay)
                log.info("outbox %d: try %d failed; next try in %.0f s", item.id, outbox.attempts, delay)
                return
            outbox.state = "dead"
            previous = message.status
            if previous in ("queued", "sending"):
                message.status = "failed"
                message.error = error if permanent else f"gave up after {outbox.attempts} tries: {error}"[:ERROR_LENGTH]
                await self._status_event(unit, message, previous, now)
            conversation = await session.get(Conversation, message.conversation_id)
            assert conversation is not None
            unit.emit(
                conversation_event(
                    ev.OUTBOX_DEAD_LETTERED,
                    conversation,
                    {"outbox_id": outbox.id, "message_id": message.id, "attempts": outbox.attempts},
                    now,
                )
            )
        log.warning("outbox %d: message %d is a dead letter (%s)", item.id, item.message_id,
                    "rejected" if permanent else "out of tries")

    async def _status_event(self, unit: Unit, message: Message, previous: str, now: datetime) -> None:
        conversation = await unit.session.get(Conversation, message.conversation_id)
        assert conversation is not None
        unit.emit(
            conversation_event(
                ev.MESSAGE_STATUS_CHANGED,
                conversation,
                {"message_id": message.id, "status": message.status, "previous": previous},
                now,
            )
        )
