"""Live delivery to visitors: one bus subscription per process, fanned out by conversation.

Thousands of visitor sockets must not each scan every event of the hub, so this hub
holds the only subscription and hands an event to the sockets registered for its
conversation, in O(1). When the bus says events may have been missed, every socket
re-reads what it may have missed from the database (``VisitorConnection.resync``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

from hub import events as ev
from hub.bus import EventBus, Subscription
from hub.events import Event
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LIVE_TYPES = frozenset(
    {
        ev.MESSAGE_RECEIVED,
        ev.MESSAGE_CREATED,
        ev.CONVERSATION_STATUS_CHANGED,
        ev.CONVERSATION_TYPING,
        ev.CONVERSATION_READ,
        ev.CONVERSATION_RATED,
    }
)


class Listener(Protocol):
    """A visitor socket as the hub sees it."""

    def offer(self, event: Event) -> None: ...

    def resync(self) -> None: ...


class LiveVisitors:
    """Routes the events of visitors' conversations to their open sockets in this process."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._by_conversation: dict[int, set[Listener]] = defaultdict(set)
        self._conversations: dict[Listener, set[int]] = {}
        self._connected: dict[int, int] = defaultdict(int)  # visitor id -> open sockets here
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(transient=True)  # typing is a transient signal
        self._task = asyncio.create_task(self._run(), name="webchat-live")

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        if self._subscription is not None:
            self._subscription.close()

    def open(self, listener: Listener, visitor_id: int, conversation_ids: set[int]) -> bool:
        """Register a socket; True when it is the visitor's first open socket in this process."""
        self._conversations[listener] = set()
        for conversation_id in conversation_ids:
            self.follow(listener, conversation_id)
        self._connected[visitor_id] += 1
        return self._connected[visitor_id] == 1

    def follow(self, listener: Listener, conversation_id: int) -> None:
        """Deliver the events of ``conversation_id`` to ``listener`` from now on."""
        followed = self._conversations.get(listener)
        if followed is None or conversation_id in followed:
            return
        followed.add(conversation_id)
        self._by_conversation[conversation_id].add(listener)

    def close(self, listener: Listener, visitor_id: int) -> bool:
        """Unregister a socket; True when the visitor has no open socket left in this process."""
        for conversation_id in self._conversations.pop(listener, set()):
            listeners = self._by_conversation.get(conversation_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._by_conversation[conversation_id]
        self._connected[visitor_id] -= 1
        if self._connected[visitor_id] <= 0:
            del self._connected[visitor_id]
            return True
        return False

    def follows(self, conversation_id: int) -> bool:
        """Whether a socket in this process receives the conversation's events."""
        return conversation_id in self._by_conversation

    @property
    def sockets(self) -> int:
        return len(self._conversations)

    async def _run(self) -> None:
        assert self._subscription is not None
        subscription = self._subscription
        while True:
            event = await subscription.next()
            if event is None:
                subscription.reset()
                for listener in tuple(self._conversations):
                    listener.resync()
                continue
            if event.type not in LIVE_TYPES or event.conversation_id is None:
                continue
            for listener in tuple(self._by_conversation.get(event.conversation_id, ())):
                listener.offer(event)
