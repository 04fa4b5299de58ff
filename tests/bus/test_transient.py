"""Transient events (presence signals): published, never written, only for subscribers that ask."""

from __future__ import annotations

import pytest

from hub import bus as bus_module
from hub.bus import InProcessBus, publish_transient
from hub.events import Event, write_events


def viewing(conversation_id: int = 7) -> Event:
    return Event("conversation.viewing", conversation_id=conversation_id, queue_id=1, data={"user_id": 3, "viewing": True})


async def test_only_subscriptions_that_ask_get_transient_events_and_order_is_untouched() -> None:
    bus = InProcessBus()
    plain, live = bus.subscribe(), bus.subscribe(transient=True)
    await bus.publish([Event("message.received", id=1)])
    await publish_transient(bus, viewing())
    await bus.publish([Event("message.received", id=2)])
    assert [(await plain.next()).id for _ in range(2)] == [1, 2]  # type: ignore[union-attr]
    assert plain.queue.empty()
    got = [await live.next() for _ in range(3)]
    assert [(e.id, e.transient) for e in got if e] == [(1, False), (None, True), (2, False)]
    assert got[1] is not None and got[1].type == "conversation.viewing" and got[1].to_json()["transient"] is True
    assert "transient" not in Event("message.received", id=1).to_json()  # stored events look as before


async def test_a_full_queue_drops_a_signal_without_flagging_a_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "SUBSCRIBER_QUEUE_SIZE", 1)
    bus = InProcessBus()
    live = bus.subscribe(transient=True)
    await bus.publish([Event("message.received", id=1)])
    await publish_transient(bus, viewing())
    assert not live.overflowed  # nothing in the table could replay it: no re-read
    await bus.publish([Event("message.received", id=2)])
    assert live.overflowed  # a stored event lost is a gap as before


async def test_transient_events_are_never_written() -> None:
    transient = Event("conversation.viewing", transient=True)
    with pytest.raises(ValueError, match="never written"):
        await write_events(None, [transient])  # type: ignore[arg-type]  # refused before the session is used
