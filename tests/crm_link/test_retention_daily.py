"""The daily retention loop: once per day across hub processes, and a missed run catches up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from hub.crm_link.retention import RetentionSettings
from hub.crm_link.retention_daily import daily_retention, due_today, remember_start, run_if_due
from hub.db.models import AuditEntry
from tests.crm_link.test_retention import NOW, SETTINGS, conversation
from tests.inbox.outbound_env import Env

DAY = datetime.combine(NOW.date(), time(0), tzinfo=UTC)  # conversations are resolved relative to NOW
DAILY = RetentionSettings(run_at=time(3, 30), conversations=SETTINGS.conversations)


class Stopped(Exception):
    """Ends a loop under test after its last sleep."""


class FakeTime:
    """A process's clock; ``sleep`` moves it on, and ends the loop after ``sleeps`` sleeps."""

    def __init__(self, start: datetime, sleeps: int) -> None:
        self.now = start
        self.left = sleeps
        self.woke_at: list[datetime] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # let the other "process" take its turn
        if self.left == 0:
            raise Stopped
        self.left -= 1
        self.now += timedelta(seconds=seconds)
        self.woke_at.append(self.now)


async def runs(env: Env) -> int:
    return await env.count(AuditEntry, AuditEntry.action == "retention.run")


async def test_two_processes_run_retention_once_a_day_at_run_at(hub_env: Env) -> None:
    first, second = FakeTime(DAY.replace(hour=2), sleeps=3), FakeTime(DAY.replace(hour=2, minute=1), sleeps=3)
    ended = await asyncio.gather(
        daily_retention(hub_env.services, DAILY, clock=first.clock, sleep=first.sleep),
        daily_retention(hub_env.services, DAILY, clock=second.clock, sleep=second.sleep),
        return_exceptions=True,
    )
    assert [type(e) for e in ended] == [Stopped, Stopped]
    at = DAY.replace(hour=3, minute=30)
    assert first.woke_at == [at, at + timedelta(days=1), at + timedelta(days=2)] == second.woke_at
    # Both loops woke on three days; each day's run happened once.
    assert await runs(hub_env) == 3


async def test_a_hub_started_after_run_at_catches_up_and_deletes_what_is_due(hub_env: Env) -> None:
    old = await conversation(hub_env, "old@x.de", resolved_days_ago=400)
    # It ran on the day before (started before run_at), then was down over run_at.
    await remember_start(hub_env.services, DAILY, DAY.replace(hour=1))
    late = DAY.replace(hour=11)
    report = await run_if_due(hub_env.services, DAILY, late)
    assert report is not None and report.conversations == {"forms-30": [old], "everything-365": []}
    assert await run_if_due(hub_env.services, DAILY, late + timedelta(hours=1)) is None  # done today
    assert await run_if_due(hub_env.services, DAILY, (late + timedelta(days=1)).replace(hour=3)) is None  # not yet
    assert await runs(hub_env) == 1


async def test_a_fresh_installation_waits_for_the_next_run_at(hub_env: Env) -> None:
    fake = FakeTime(DAY.replace(hour=11), sleeps=1)
    ended = await asyncio.gather(
        daily_retention(hub_env.services, DAILY, clock=fake.clock, sleep=fake.sleep), return_exceptions=True
    )
    assert [type(e) for e in ended] == [Stopped]
    # Started at 11:00: nothing ran that day; the one run was the next day's, at 03:30.
    assert fake.woke_at == [DAY.replace(hour=3, minute=30) + timedelta(days=1)]
    assert await runs(hub_env) == 1
    assert await run_if_due(hub_env.services, DAILY, fake.now + timedelta(hours=1)) is None


async def test_no_daily_run_when_run_at_is_off(hub_env: Env) -> None:
    off = RetentionSettings(run_at=None)
    assert not due_today(off, DAY.replace(hour=23))
    fake = FakeTime(DAY, sleeps=0)
    await daily_retention(hub_env.services, off, clock=fake.clock, sleep=fake.sleep)  # returns at once
    assert await runs(hub_env) == 0
