"""What may go out on a channel: its declared ``Capabilities``, enforced in one place.

The reply action (``hub.inbox.actions``) checks a reply before it is stored, so an
agent hears at once why it cannot go (422 for what the channel cannot carry, 409
with ``code: reply_window_closed`` after the reply window). The outbox dispatcher
asks ``deliveries()`` how to send a stored reply (text parts, then one provider
message per attachment) and checks the window again at send time, because a retry
may fall after it closed. Nothing here knows a provider.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.base import Capabilities, LengthUnit
from hub.db.models import Conversation, Message
from hub.errors import Conflict, ValidationFailed
from hub.messages import Attachment, OutboundMessage, Template

WINDOW_CLOSED = "reply_window_closed"  # the problem's ``code`` when the reply window has closed
_BOUNDARIES = ("\n\n", "\n", " ")


def measure(text: str, unit: LengthUnit) -> int:
    """The length of ``text`` as the channel counts it."""
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def _fitting_prefix(text: str, limit: int, unit: LengthUnit) -> int:
    """The largest ``n`` with ``measure(text[:n]) <= limit``."""
    if unit == "characters":
        return min(limit, len(text))
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int, unit: LengthUnit = "characters") -> list[str]:
    """``text`` in consecutive parts of at most ``limit``, cut at a paragraph, line or word if one is near."""
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text
    while measure(rest, unit) > limit:
        cut = _fitting_prefix(rest, limit, unit)
        window = rest[:cut]
        for boundary in _BOUNDARIES:
            at = window.rfind(boundary)
            if at > cut // 2:
                cut = at + len(boundary)
                break
        part = rest[:cut].rstrip()
        parts.append(part or rest[:cut])
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def text_parts(capabilities: Capabilities, channel: str, text: str) -> list[str]:
    """The provider messages ``text`` becomes; ValidationFailed when the channel refuses it."""
    limit = capabilities.max_text_length
    if limit is None or measure(text, capabilities.length_unit) <= limit:
        return [text]
    if capabilities.overflow == "refuse" or capabilities.max_parts <= 1:
        raise ValidationFailed(
            f"channel {channel!r} carries at most {limit} characters per message; shorten the reply",
            extra={"code": "text_too_long", "max_text_length": limit},
        )
    parts = split_text(text, limit, capabilities.length_unit)
    if len(parts) > capabilities.max_parts:
        raise ValidationFailed(
            f"channel {channel!r} sends at most {capabilities.max_parts} messages of {limit} characters "
            f"for one reply; this one needs {len(parts)}",
            extra={"code": "text_too_long", "max_text_length": limit, "max_parts": capabilities.max_parts},
        )
    return parts


def check_attachments(capabilities: Capabilities, channel: str, attachments: Sequence[Attachment]) -> None:
    """Refuse attachments the channel cannot carry (422 naming the file and the limit)."""
    if not attachments:
        return
    if not capabilities.attachments:
        raise ValidationFailed(f"channel {channel!r} cannot carry attachments", extra={"code": "no_attachments"})
    if capabilities.max_attachments is not None and len(attachments) > capabilities.max_attachments:
        raise ValidationFailed(
            f"channel {channel!r} carries at most {capabilities.max_attachments} attachments per reply",
            extra={"code": "too_many_attachments"},
        )
    for item in attachments:
        if capabilities.attachment_types and not any(
            fnmatch.fnmatchcase(item.content_type.lower(), pattern) for pattern in capabilities.attachment_types
        ):
            raise ValidationFailed(
                f"channel {channel!r} does not carry {item.content_type} ({item.filename!r}); "
                f"allowed: {', '.join(capabilities.attachment_types)}",
                extra={"code": "attachment_type", "allowed": list(capabilities.attachment_types)},
            )
        limit = capabilities.max_attachment_bytes
        if limit is not None and len(item.content) > limit:
            raise ValidationFailed(
                f"channel {channel!r} carries attachments of at most {limit} bytes; "
                f"{item.filename!r} has {len(item.content)}",
                extra={"code": "attachment_too_large", "max_attachment_bytes": limit},
            )


def _span(window: timedelta, joiner: str = "-") -> str:
    """``24-hour`` (or with ``joiner=" "`` and a plural: ``24 hours``)."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds > 86400:
        amount, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        amount, unit = seconds // 3600, "hour"
    else:
        amount, unit = seconds // 60, "minute"
    plural = "s" if joiner == " " and amount != 1 else ""
    return f"{amount}{joiner}{unit}{plural}"


def check_window(
    capabilities: Capabilities,
    channel: str,
    *,
    last_inbound_at: datetime | None,
    now: datetime,
    template: Template | None = None,
    tag: str | None = None,
) -> None:
    """Refuse a free-form reply after the reply window (409 ``reply_window_closed``).

    A template may always go; a message tag within its own window. Without any
    customer message on record the window counts as closed.
    """
    window = capabilities.reply_window
    if window is None or template is not None:
        return
    tags = {t.name: t for t in capabilities.message_tags}
    chosen = tags.get(tag) if tag is not None else None
    if chosen is not None:
        if chosen.window is None or (last_inbound_at is not None and now < last_inbound_at + chosen.window):
            return
        raise Conflict(
            f"message tag {chosen.name} may only be used within {_span(chosen.window, ' ')} of the customer's last message",
            extra=_window_extra(capabilities, window, last_inbound_at),
        )
    if last_inbound_at is not None and now < last_inbound_at + window:
        return
    ways = []
    if capabilities.templates:
        ways.append("send an approved template")
    if capabilities.message_tags:
        ways.append("use a message tag (" + ", ".join(tags) + ")")
    remedy = " or ".join(ways) if ways else "wait until the customer writes again"
    raise Conflict(
        f"outside the {_span(window)} window of channel {channel!r}: the customer last wrote "
        f"{'never' if last_inbound_at is None else last_inbound_at.isoformat(timespec='minutes')}; {remedy}",
        extra=_window_extra(capabilities, window, last_inbound_at),
    )


def _window_extra(capabilities: Capabilities, window: timedelta, last: datetime | None) -> dict[str, Any]:
    return {
        "code": WINDOW_CLOSED,
        "window_seconds": int(window.total_seconds()),
        "last_customer_message_at": last.isoformat() if last is not None else None,
        "templates": capabilities.templates,
        "message_tags": [t.name for t in capabilities.message_tags],
    }


def check_reply(
    capabilities: Capabilities,
    channel: str,
    *,
    text: str,
    attachments: Sequence[Attachment] = (),
    template: Template | None = None,
    tag: str | None = None,
    last_inbound_at: datetime | None,
    now: datetime,
) -> None:
    """Everything the channel must accept for this reply to be queued; raises on the first refusal."""
    if template is not None:
        if not capabilities.templates:
            raise ValidationFailed(f"channel {channel!r} does not send templates", extra={"code": "no_templates"})
        if attachments or tag is not None:
            raise ValidationFailed("a template goes out alone: no attachments or message tag with it")
    elif tag is not None and tag not in {t.name for t in capabilities.message_tags}:
        known = ", ".join(t.name for t in capabilities.message_tags) or "none"
        raise ValidationFailed(
            f"channel {channel!r} knows no message tag {tag!r} (known: {known})", extra={"code": "unknown_tag"}
        )
    else:
        if text.strip():
            text_parts(capabilities, channel, text)
        check_attachments(capabilities, channel, attachments)
    check_window(capabilities, channel, last_inbound_at=last_inbound_at, now=now, template=template, tag=tag)


def deliveries(capabilities: Capabilities, message: OutboundMessage) -> list[OutboundMessage]:
    """The provider messages that carry ``message``, in order: its text parts, with the
    attachments on the last one, or (``separate_attachments``) each attachment after them.

    Deterministic, so a dispatcher that resumes after the n-th delivery sends the same rest.
    """
    if message.template is not None:
        return [message]
    texts = text_parts(capabilities, message.channel, message.text) if message.text.strip() else []
    parts = [
        replace(message, text=part, html=None if index else message.html, attachments=())
        for index, part in enumerate(texts)
    ]
    if capabilities.separate_attachments:
        parts.extend(replace(message, text="", html=None, attachments=(item,)) for item in message.attachments)
        return parts or [message]
    if len(parts) <= 1:
        return [message]
    parts[-1] = replace(parts[-1], attachments=message.attachments)
    return parts


async def last_inbound_at(session: AsyncSession, conversation: Conversation) -> datetime | None:
    """When the conversation's contact last wrote on the conversation's channel."""
    stmt = (
        select(func.max(Message.created_at))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.contact_id == conversation.contact_id,
            Conversation.channel_id == conversation.channel_id,
            Message.direction == "in",
        )
    )
    return await session.scalar(stmt)
