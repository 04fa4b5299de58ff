"""Segments: saved filters over contacts, as SQL for contact lists, inbox views and routing rules.

A definition is JSON (docs/crm.md, "Segments"): groups ``{"all": [...]}``,
``{"any": [...]}``, ``{"not": {...}}`` around conditions on fields, custom attributes,
tags, identities, channels, activity (timeline entries in a period) and consent::

    {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"},
             {"attribute": "city", "op": "eq", "value": "Berlin"},
             {"activity": {"kind": "call", "min_count": 2, "period": "this_month"}}]}

``parse_definition`` checks a definition by raising (422 with the path of the bad
part); ``contact_filter(definition, contact_id_column, now=...)`` turns it into a
WHERE clause on any column holding a contact id (``Contact.id`` for contact lists,
``Conversation.contact_id`` for inbox views); ``is_member`` answers it for one contact.
Erased and merged-away contacts are never members. Automated users (routing rules,
campaigns) add ``hub.crm_link.restriction.unrestricted`` themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.crm_link.consent import ALL, ALLOWED_WITHOUT_STATEMENT, CHANNELS, PURPOSES
from hub.crm_link.json_sql import SAFE_KEY, json_bool, json_number, json_present, json_text
from hub.db.models import (
    Channel,
    ConsentRecord,
    Contact,
    ContactIdentity,
    ContactTag,
    Conversation,
    Tag,
    TimelineEntry,
)
from hub.errors import ValidationFailed

FIELDS = ("name", "lifecycle_stage", "company_id", "owner_id", "created_at")
FIELD_OPS = ("eq", "ne", "in", "contains", "is_empty", "not_empty", "before", "after")
ATTRIBUTE_OPS = ("eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "exists", "missing")
PERIODS = ("today", "this_week", "this_month", "this_year")
IDENTITY_KINDS = ("email", "phone", "platform")
MAX_NODES = 50
MAX_DEPTH = 6
MAX_LIST = 100

Node = Mapping[str, Any]


@dataclass(frozen=True)
class Definition:
    """A checked segment definition (the JSON it came from, known to be valid)."""

    tree: Mapping[str, Any]


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"segment definition at {path}: {message}")


def parse_definition(raw: Any) -> Definition:
    """Check ``raw`` (decoded JSON); 422 naming the first bad part."""
    count = [0]

    def check(node: Any, path: str, depth: int) -> None:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise _fail(path, f"at most {MAX_NODES} conditions")
        if depth > MAX_DEPTH:
            raise _fail(path, f"nested deeper than {MAX_DEPTH}")
        if not isinstance(node, dict) or len(node) == 0:
            raise _fail(path, "expected an object with one condition")
        keys = set(node)
        if keys in ({"all"}, {"any"}):
            (key,) = keys
            items = node[key]
            if not isinstance(items, list) or not items:
                raise _fail(path, f"'{key}' needs a non-empty list")
            for index, item in enumerate(items):
                check(item, f"{path}.{key}[{index}]", depth + 1)
        elif keys == {"not"}:
            check(node["not"], f"{path}.not", depth + 1)
        elif "field" in keys:
            _check_field(node, path)
        elif "attribute" in keys:
            _check_attribute(node, path)
        elif keys == {"tag"}:
            _check_text(node["tag"], f"{path}.tag", 100)
        elif keys == {"has_identity"}:
            if node["has_identity"] not in IDENTITY_KINDS:
                raise _fail(path, f"has_identity is one of {', '.join(IDENTITY_KINDS)}")
        elif keys & {"channel", "channel_type"} and keys <= {"channel", "channel_type"}:
            for key in keys:
                _check_text(node[key], f"{path}.{key}", 100)
        elif keys == {"activity"}:
            _check_activity(node["activity"], f"{path}.activity")
        elif keys == {"consent"}:
            _check_consent(node["consent"], f"{path}.consent")
        else:
            raise _fail(path, f"unknown condition {sorted(keys)}")

    check(raw, "$", 0)
    return Definition(raw)


def _check_text(value: Any, path: str, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise _fail(path, f"expected text of 1 to {limit} characters")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and "\x00" not in str(value)


def _check_field(node: Node, path: str) -> None:
    if set(node) - {"field", "op", "value"}:
        raise _fail(path, "a field condition has field, op and value")
    field, op = node["field"], node.get("op")
    if field not in FIELDS:
        raise _fail(path, f"field is one of {', '.join(FIELDS)}")
    if op not in FIELD_OPS:
        raise _fail(path, f"op is one of {', '.join(FIELD_OPS)}")
    value = node.get("value")
    if op in ("is_empty", "not_empty"):
        return
    if op in ("before", "after"):
        if field != "created_at":
            raise _fail(path, "before/after only for created_at")
        _timestamp(value, path)
    elif op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_LIST or not all(_scalar(v) for v in value):
            raise _fail(path, f"'in' needs a list of 1 to {MAX_LIST} values")
    elif not _scalar(value):
        raise _fail(path, "value must be text or a number")


def _timestamp(value: Any, path: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _fail(path, "value must be an ISO 8601 time with a zone offset")
    return parsed


def _check_attribute(node: Node, path: str) -> None:
    if set(node) - {"attribute", "op", "value"}:
        raise _fail(path, "an attribute condition has attribute, op and value")
    if not isinstance(node["attribute"], str) or not re.match(SAFE_KEY, node["attribute"]):
        raise _fail(f"{path}.attribute", "an attribute key of 1 to 100 characters without quotes or backslashes")
    op = node.get("op")
    if op not in ATTRIBUTE_OPS:
        raise _fail(path, f"op is one of {', '.join(ATTRIBUTE_OPS)}")
    value = node.get("value")
    if op in ("exists", "missing"):
        return
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_LIST or not all(_scalar(v) for v in value):
            raise _fail(path, f"'in' needs a list of 1 to {MAX_LIST} values")
    elif op in ("gt", "gte", "lt", "lte"):
        if not _scalar(value):
            raise _fail(path, "value must be a number or a date")
    elif not (_scalar(value) or isinstance(value, bool)):
        raise _fail(path, "value must be text, a number or true/false")


def _check_activity(node: Any, path: str) -> None:
    allowed = {"kind", "channel", "channel_type", "min_count", "max_count", "within_days", "period", "timezone"}
    if not isinstance(node, dict) or set(node) - allowed:
        raise _fail(path, f"activity takes {', '.join(sorted(allowed))}")
    for key in ("kind", "channel", "channel_type"):
        if key in node:
            _check_text(node[key], f"{path}.{key}", 100)
    for key in ("min_count", "max_count", "within_days"):
        if key in node and (not isinstance(node[key], int) or isinstance(node[key], bool) or not 0 <= node[key] <= 100_000):
            raise _fail(path, f"{key} is a whole number from 0 to 100000")
    if "within_days" in node and "period" in node:
        raise _fail(path, "give within_days or period, not both")
    if "period" in node and node["period"] not in PERIODS:
        raise _fail(path, f"period is one of {', '.join(PERIODS)}")
    if "timezone" in node:
        _zone(node["timezone"], path)


def _zone(name: Any, path: str) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, f"unknown time zone {str(name)[:40]!r}") from None


def _check_consent(node: Any, path: str) -> None:
    if not isinstance(node, dict) or set(node) != {"purpose", "channel", "allowed"}:
        raise _fail(path, "consent takes purpose, channel and allowed")
    if node["purpose"] not in PURPOSES or node["channel"] not in CHANNELS or not isinstance(node["allowed"], bool):
        raise _fail(path, "purpose and channel from the consent vocabulary, allowed true or false")


def contact_filter(definition: Definition, contact_id: ColumnElement[int], *, now: datetime) -> ColumnElement[bool]:
    """WHERE clause: the contact ``contact_id`` holds is a member (not erased, not merged away)."""
    c = aliased(Contact)
    condition = _node(definition.tree, c, now)
    return exists(
        select(c.id).where(c.id == contact_id, c.erased_at.is_(None), c.merged_into_id.is_(None), condition)
    )


def conversation_filter(definition: Definition, *, now: datetime) -> ColumnElement[bool]:
    """WHERE clause on conversations: their contact is a member (segments as inbox views)."""
    return contact_filter(definition, Conversation.contact_id.expression, now=now)


async def is_member(session: AsyncSession, definition: Definition, contact_id: int, *, now: datetime) -> bool:
    """Whether one contact is in the segment (routing rules test membership with this)."""
    member = contact_filter(definition, Contact.id.expression, now=now)
    return bool(await session.scalar(select(Contact.id).where(Contact.id == contact_id, member)))


def _node(node: Node, c: Any, now: datetime) -> ColumnElement[bool]:
    if "all" in node:
        return and_(true(), *(_node(n, c, now) for n in node["all"]))
    if "any" in node:
        return or_(false(), *(_node(n, c, now) for n in node["any"]))
    if "not" in node:
        return not_(_node(node["not"], c, now))
    if "field" in node:
        return _field(node, c)
    if "attribute" in node:
        return _attribute(node, c)
    if "tag" in node:
        return exists(
            select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id == c.id, Tag.name == str(node["tag"]).strip().lower())
        )
    if "has_identity" in node:
        return exists(
            select(ContactIdentity.id).where(ContactIdentity.contact_id == c.id, ContactIdentity.kind == node["has_identity"])
        )
    if "channel" in node or "channel_type" in node:
        return exists(
            select(Conversation.id).join(Channel, Channel.id == Conversation.channel_id)
            .where(Conversation.contact_id == c.id, *_channel_where(node))
        )
    if "activity" in node:
        return _activity(node["activity"], c, now)
    return _consent(node["consent"], c)


def _channel_where(node: Node) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if "channel" in node:
        where.append(Channel.name == node["channel"])
    if "channel_type" in node:
        where.append(Channel.type == node["channel_type"])
    return where


def _field(node: Node, c: Any) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], _field_condition(node, c))


def _field_condition(node: Node, c: Any) -> Any:
    column = getattr(c, node["field"])
    op, value = node["op"], node.get("value")
    if op == "is_empty":
        return column.is_(None) if node["field"] != "name" else or_(column.is_(None), column == "")
    if op == "not_empty":
        return column.is_not(None) if node["field"] != "name" else and_(column.is_not(None), column != "")
    if op == "before":
        return column < _timestamp(value, "")
    if op == "after":
        return column > _timestamp(value, "")
    if op == "contains":
        return func.lower(column).contains(str(value).lower(), autoescape=True)
    if op == "in":
        return column.in_(value)
    return column == value if op == "eq" else or_(column.is_(None), column != value)


def _attribute(node: Node, c: Any) -> ColumnElement[bool]:
    key = node["attribute"]
    op, value = node["op"], node.get("value")
    text, number = json_text(c.attributes, key), json_number(c.attributes, key)
    if op in ("exists", "missing"):
        present: ColumnElement[bool] = json_present(c.attributes, key)
        return present if op == "exists" else not_(present)
    if isinstance(value, bool):
        test: ColumnElement[bool] = json_bool(c.attributes, key) == value
        return test if op == "eq" else not_(func.coalesce(test, False))
    if op == "in":
        return or_(*(_equals(text, number, v) for v in list(value or ())))
    if op == "contains":
        return func.lower(text).contains(str(value).lower(), autoescape=True)
    if op in ("gt", "gte", "lt", "lte"):
        target: Any = number if isinstance(value, int | float) else text  # ISO dates compare as text
        compare = {"gt": target > value, "gte": target >= value, "lt": target < value, "lte": target <= value}
        return cast(ColumnElement[bool], compare[op])
    equal = _equals(text, number, value)
    return equal if op == "eq" else not_(func.coalesce(equal, False))


def _equals(text: Any, number: Any, value: Any) -> ColumnElement[bool]:
    if isinstance(value, int | float):
        return cast(ColumnElement[bool], number == float(value))
    return cast(ColumnElement[bool], text == value)


def period_start(period: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``period`` (today, this_week from Monday, this_month, this_year) around ``now`` in ``zone``."""
    local = now.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "this_week":
        day -= timedelta(days=day.weekday())
    elif period == "this_month":
        day = day.replace(day=1)
    elif period == "this_year":
        day = day.replace(month=1, day=1)
    return day.replace(tzinfo=None).replace(tzinfo=zone)


def _activity(node: Node, c: Any, now: datetime) -> ColumnElement[bool]:
    where: list[ColumnElement[bool]] = [TimelineEntry.contact_id == c.id]
    if "kind" in node:
        where.append(TimelineEntry.kind == node["kind"])
    if "channel" in node or "channel_type" in node:
        where.append(TimelineEntry.channel_id.in_(select(Channel.id).where(*_channel_where(node))))
    if "within_days" in node:
        where.append(TimelineEntry.occurred_at >= now - timedelta(days=node["within_days"]))
    elif "period" in node:
        where.append(TimelineEntry.occurred_at >= period_start(node["period"], now, _zone(node.get("timezone"), "")))
    counted = select(func.count(TimelineEntry.id)).where(*where).scalar_subquery()
    minimum = node.get("min_count", 1)
    condition: ColumnElement[bool] = counted >= minimum
    if "max_count" in node:
        condition = and_(condition, counted <= node["max_count"])
    return condition


def _consent(node: Node, c: Any) -> ColumnElement[bool]:
    purpose, channel = node["purpose"], node["channel"]
    newest = (
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.contact_id == c.id,
            ConsentRecord.purpose.in_((purpose, ALL)),
            ConsentRecord.channel.in_((channel, ALL)),
        )
        .order_by(ConsentRecord.occurred_at.desc(), ConsentRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    allowed = func.coalesce(newest, ALLOWED_WITHOUT_STATEMENT[purpose])
    return allowed.is_(True) if node["allowed"] else allowed.is_(False)
