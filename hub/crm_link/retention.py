"""Retention: delete what is kept longer than its purpose needs, daily, with a dry run.

Policies come from the configuration (docs/privacy.md, "Retention")::

    [retention]
    run_at = "03:30"              # daily, UTC; "" turns the daily run off
    idempotency_key_days = 1      # stored Idempotency-Key answers (0 keeps them)

    [[retention.conversations]]
    name = "chat-90-days"
    resolved_days = 90            # resolved more than 90 days ago
    channels = ["site-chat"]      # channel names, and/or
    channel_types = ["webchat"]   # adapter types; neither: every channel

A conversation goes with everything in it (messages, attachments, thread keys,
ratings: the foreign keys cascade); blobs no one refers to afterwards go too; the
contact's timeline keeps its entries (kinds and times, now without the
conversation). Restricted contacts (Art. 18) are left alone. The dry run plans with
the same query as the real run, so it lists exactly what the real run deletes; the
real run deletes in batches and re-checks each conversation (one that was reopened
since the plan stays).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.audit import record_audit
from hub.crm_link.blob_cleanup import (
    Selector,
    blob_candidates,
    delete_unreferenced,
    still_referenced,
)
from hub.crm_link.record_map import default_plans
from hub.crm_link.restriction import unrestricted
from hub.db.fulltext import purge_deleted
from hub.db.models import Channel, ConnectorCursor, Conversation, IdempotencyKey, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import ConfigError
from hub.services import Services

RETENTION_RUN = "retention.run"  # audit action
DAILY = "retention:daily"  # the connector_cursors row whose "cursor" is the last day retention ran
BATCH = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ConversationPolicy:
    name: str
    resolved_days: int
    channels: tuple[str, ...] = ()
    channel_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionSettings:
    """``[retention]`` from the configuration, checked."""

    run_at: time | None = time(3, 30)
    idempotency_key_days: int = 1
    conversations: tuple[ConversationPolicy, ...] = ()

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> RetentionSettings:
        unknown = set(table) - {"run_at", "idempotency_key_days", "conversations"}
        if unknown:
            raise ConfigError(f"[retention]: unknown keys {', '.join(sorted(unknown))}")
        run_at: time | None = time(3, 30)
        if "run_at" in table:
            raw = table["run_at"]
            if raw in ("", None):
                run_at = None
            elif not isinstance(raw, str) or not re.match(r"^\d{2}:\d{2}$", raw):
                raise ConfigError('[retention] run_at is "HH:MM" (UTC) or "" for no daily run')
            else:
                try:
                    run_at = time.fromisoformat(raw)
                except ValueError:
                    raise ConfigError(f"[retention] run_at {raw!r} is not a time of day") from None
        days = table.get("idempotency_key_days", 1)
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ConfigError("[retention] idempotency_key_days is a whole number of days (0 keeps them)")
        policies = []
        names: set[str] = set()
        for item in table.get("conversations", []):
            policies.append(_policy(item, names))
        return cls(run_at=run_at, idempotency_key_days=days, conversations=tuple(policies))


def _policy(item: Any, names: set[str]) -> ConversationPolicy:
    if not isinstance(item, Mapping):
        raise ConfigError("[[retention.conversations]] entries are tables")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name in names:
        raise ConfigError(f"[[retention.conversations]]: name {name!r} must be a unique word")
    names.add(name)
    unknown = set(item) - {"name", "resolved_days", "channels", "channel_types"}
    if unknown:
        raise ConfigError(f"retention policy {name!r}: unknown keys {', '.join(sorted(unknown))}")
    days = item.get("resolved_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"retention policy {name!r}: resolved_days is a whole number of days, at least 1")
    lists = {}
    for key in ("channels", "channel_types"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"retention policy {name!r}: {key} is a list of names")
        lists[key] = tuple(value)
    return ConversationPolicy(name, days, lists["channels"], lists["channel_types"])


@dataclass
class RetentionReport:
    """What a run deleted (or, dry, would delete)."""

    now: datetime
    dry_run: bool
    conversations: dict[str, list[int]] = field(default_factory=dict)  # policy -> conversation ids
    idempotency_keys: int = 0
    blobs: int = 0
    audit_id: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "conversations": {name: len(ids) for name, ids in self.conversations.items()},
            "idempotency_keys": self.idempotency_keys,
            "blobs": self.blobs,
        }


def _expired(policy: ConversationPolicy, now: datetime) -> ColumnElement[bool]:
    where: list[ColumnElement[bool]] = [
        Conversation.status == "resolved",
        Conversation.resolved_at < now - timedelta(days=policy.resolved_days),
        unrestricted(Conversation.contact_id.expression),
    ]
    channels = []
    if policy.channels:
        channels.append(Conversation.channel_id.in_(select(Channel.id).where(Channel.name.in_(policy.channels))))
    if policy.channel_types:
        channels.append(Conversation.channel_id.in_(select(Channel.id).where(Channel.type.in_(policy.channel_types))))
    if channels:
        where.append(or_(*channels))
    return and_(*where)


async def plan(session: AsyncSession, settings: RetentionSettings, now: datetime) -> RetentionReport:
    """What a run at ``now`` deletes: conversation ids per policy (each in the first policy that takes it)."""
    report = RetentionReport(now=now, dry_run=True)
    taken: set[int] = set()
    for policy in settings.conversations:
        ids = [
            cid for cid in (
                await session.scalars(select(Conversation.id).where(_expired(policy, now)).order_by(Conversation.id))
            ).all()
            if cid not in taken
        ]
        taken.update(ids)
        report.conversations[policy.name] = ids
    if settings.idempotency_key_days:
        cutoff = now - timedelta(days=settings.idempotency_key_days)
        report.idempotency_keys = len(
            (await session.scalars(select(IdempotencyKey.id).where(IdempotencyKey.created_at < cutoff))).all()
        )
    plans = default_plans()
    going = _conversations_of(sorted(taken))
    candidates = await blob_candidates(session, plans, going)
    report.blobs = len(set(candidates) - await still_referenced(session, plans, candidates, besides=going))
    return report


def _conversations_of(ids: Sequence[int]) -> Selector:
    """The rows that go with these conversations (messages, attachments, ...)."""
    return lambda p: p.within("conversations", ids) if ids else false()


async def run_retention(
    services: Services, settings: RetentionSettings, *, dry_run: bool, now: datetime | None = None
) -> RetentionReport:
    """Plan, and unless ``dry_run`` delete; an audit entry records the counts of a real run."""
    now = now or utcnow()
    async with services.sessions() as session:
        report = await plan(session, settings, now)
    report.dry_run = dry_run
    if dry_run:
        return report
    by_policy = {p.name: p for p in settings.conversations}
    doomed: list[str] = []
    deleted: dict[str, list[int]] = {}
    plans = default_plans()
    for name, ids in report.conversations.items():
        deleted[name] = []
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            async with services.transaction() as unit:
                candidates = await blob_candidates(unit.session, plans, _conversations_of(batch))
                gone = list(
                    (
                        await unit.session.scalars(
                            delete(Conversation)
                            .where(Conversation.id.in_(batch), _expired(by_policy[name], now))
                            .returning(Conversation.id)
                            .execution_options(synchronize_session=False)
                        )
                    ).all()
                )
                deleted[name] += sorted(gone)
                doomed += await delete_unreferenced(unit.session, plans, candidates)
    report.conversations = deleted
    report.blobs = len(doomed)
    if any(deleted.values()):
        async with services.sessions() as session, session.begin():
            await purge_deleted(session)  # the deleted messages' words leave the search index too
    async with services.transaction() as unit:
        if settings.idempotency_key_days:
            result = cast(
                CursorResult[Any],
                await unit.session.execute(
                    delete(IdempotencyKey)
                    .where(IdempotencyKey.created_at < now - timedelta(days=settings.idempotency_key_days))
                    .execution_options(synchronize_session=False)
                ),
            )
            report.idempotency_keys = max(result.rowcount, 0)
        audit = await record_audit(
            unit.session, actor_id=None, action=RETENTION_RUN, object_type="retention", object_id=None,
            data=report.summary(),
        )
        report.audit_id = audit.id
    for digest in doomed:
        await services.blobs.delete(digest)
    return report


async def claim_day(services: Services, day: datetime) -> bool:
    """True for the one hub process that runs retention on ``day`` (a row per day, taken once)."""
    ordinal = day.date().toordinal()
    async with services.sessions() as session, session.begin():
        await insert_ignore(
            session, ConnectorCursor, [{"name": DAILY, "last_event_id": 0, "updated_at": day}]
        )
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(ConnectorCursor)
                .where(ConnectorCursor.name == DAILY, ConnectorCursor.last_event_id < ordinal)
                .values(last_event_id=ordinal, updated_at=day)
                .execution_options(synchronize_session=False)
            ),
        )
    return result.rowcount == 1


def next_run(settings: RetentionSettings, now: datetime) -> datetime | None:
    """When the daily run is due next (UTC), or None when it is off."""
    if settings.run_at is None:
        return None
    today = datetime.combine(now.date(), settings.run_at, tzinfo=now.tzinfo)
    return today if today > now else today + timedelta(days=1)
