"""Typed custom attributes: admins define a key with a type; values of defined keys are checked.

Types: ``text`` (a string), ``number`` (an integer or decimal), ``date`` (``YYYY-MM-DD``)
and ``choice`` (one of the defined values). Keys without a definition stay free-form
(integrations may store their own ids), so defining a key later never breaks them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.audit import record_audit
from hub.auth.principal import Principal
from hub.db.models import AttributeDefinition
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services import Services

AttributeType = Literal["text", "number", "date", "choice"]
TYPES: tuple[str, ...] = ("text", "number", "date", "choice")
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,99}$"
MAX_CHOICES = 100
ATTRIBUTE_DEFINED = "attribute.defined"  # audit actions
ATTRIBUTE_REMOVED = "attribute.removed"


async def definitions(session: AsyncSession) -> dict[str, AttributeDefinition]:
    """Every attribute definition by key."""
    return {d.key: d for d in (await session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.key))).all()}


def check_value(definition: AttributeDefinition, value: Any) -> Any:
    """``value`` as stored for ``definition``, or 422 naming the attribute."""
    key, kind = definition.key, definition.type
    if kind == "text" and isinstance(value, str):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "date":
        try:
            parsed = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationFailed(f"attribute {key!r} must be a date as YYYY-MM-DD")
        return parsed.isoformat()
    if kind == "choice" and isinstance(value, str) and value in (definition.choices or {}).get("values", []):
        return value
    if kind == "choice":
        allowed = ", ".join((definition.choices or {}).get("values", []))
        raise ValidationFailed(f"attribute {key!r} must be one of: {allowed}")
    raise ValidationFailed(f"attribute {key!r} must be a {kind}")


def check_attributes(defined: Mapping[str, AttributeDefinition], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the values of defined keys (None removes a key and is always allowed)."""
    return {
        key: value if value is None or key not in defined else check_value(defined[key], value)
        for key, value in values.items()
    }


async def define_attribute(
    services: Services,
    principal: Principal,
    key: str,
    label: str,
    type_: str,
    choices: list[str] | None = None,
) -> AttributeDefinition:
    """Define a custom attribute (admins); 409 when the key is defined already."""
    if not principal.is_admin:
        raise Forbidden("only admins define attributes")
    if not re.match(KEY_PATTERN, key):
        raise ValidationFailed("an attribute key is lower-case letters, digits and '_', starting with a letter")
    if type_ not in TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(TYPES)}")
    values = list(dict.fromkeys(choices or []))
    if type_ == "choice" and not values:
        raise ValidationFailed("a choice attribute needs its values")
    if type_ != "choice" and values:
        raise ValidationFailed("only choice attributes have values")
    if len(values) > MAX_CHOICES:
        raise ValidationFailed(f"at most {MAX_CHOICES} values")
    try:
        async with services.transaction() as unit:
            definition = AttributeDefinition(
                key=key, label=label.strip() or key, type=type_, choices={"values": values} if values else {}
            )
            unit.session.add(definition)
            await unit.session.flush()
            await record_audit(
                unit.session, actor_id=principal.user_id, action=ATTRIBUTE_DEFINED, object_type="attribute",
                object_id=key, data={"type": type_},
            )
    except IntegrityError:
        raise Conflict(f"attribute {key!r} is defined already") from None
    return definition


async def remove_attribute(services: Services, principal: Principal, key: str) -> None:
    """Remove a definition (admins); stored values stay, now free-form."""
    if not principal.is_admin:
        raise Forbidden("only admins remove attribute definitions")
    async with services.transaction() as unit:
        definition = await unit.session.scalar(select(AttributeDefinition).where(AttributeDefinition.key == key))
        if definition is None:
            raise NotFound("no such attribute")
        await unit.session.delete(definition)
        await record_audit(
            unit.session, actor_id=principal.user_id, action=ATTRIBUTE_REMOVED, object_type="attribute", object_id=key
        )
