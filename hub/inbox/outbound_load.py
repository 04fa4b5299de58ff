"""Read a queued reply back as the ``OutboundMessage`` its channel adapter sends.

The dispatcher (``hub.inbox.outbox``) calls ``load_outbound`` outside any write
transaction: the message, its recipient, thread, attachments (from the blob store)
and send options (template, message tag). The reply window is checked again here
because a retry can fall after it closed; that refusal is permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.base import ChannelAdapter, PermanentChannelError
from hub.crm_link.consent import consent_channel_of, ensure_outbound_allowed
from hub.db.models import (
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    MessageAttachment,
    ThreadKey,
)
from hub.errors import Conflict
from hub.inbox import outbound_rules
from hub.inbox.actions import endpoint_by_id
from hub.messages import Attachment, Identity, IdentityKind, OutboundMessage, Template
from hub.services import Services

log = logging.getLogger(__name__)

MAX_REFERENCES = 30  # thread keys handed to the adapter (email References)


def template_of(options: Mapping[str, Any] | None) -> Template | None:
    """The template stored in a message's ``send_options``, if any."""
    raw = (options or {}).get("template")
    if not isinstance(raw, dict):
        return None
    return Template(str(raw["name"]), str(raw["language"]), tuple(str(p) for p in raw.get("parameters", ())))


async def load_outbound(
    services: Services,
    adapters: Mapping[str, ChannelAdapter],
    outbox_id: int,
    message_id: int,
    channel_id: int,
    now: datetime,
) -> tuple[ChannelAdapter, OutboundMessage] | None:
    """The adapter and message to send; None when the message was erased meanwhile.

    Raises PermanentChannelError when it can never be sent (not a reply, channel gone,
    no recipient, reply window closed).
    """
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(Message, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == message_id)
            )
        ).one_or_none()
        if row is None:
            return None  # erased meanwhile; the cascade removed the outbox row too
        message, conversation = row
        if message.private or message.direction != "out":
            log.error("outbox %d holds message %d, which is not a sendable reply", outbox_id, message.id)
            raise PermanentChannelError("private notes and inbound messages are never sent")
        endpoint = endpoint_by_id(services, channel_id)
        adapter = adapters.get(endpoint.name) if endpoint is not None else None
        if endpoint is None or adapter is None:
            raise PermanentChannelError("the channel is not configured in this hub")
        # Checked again at send time: consent withdrawn after the reply was queued stops it here.
        await ensure_outbound_allowed(session, conversation.contact_id, consent_channel_of(adapter))
        identity = (
            await session.get(ContactIdentity, conversation.identity_id)
            if conversation.identity_id is not None
            else None
        )
        if identity is None:
            raise PermanentChannelError("the conversation has no recipient address")
        keys = await _thread_keys(session, conversation.id)
        thread_key = keys[0] if keys else None
        recipient_name = await session.scalar(select(Contact.name).where(Contact.id == conversation.contact_id))
        latest_inbound = await session.scalar(
            select(Message.provider_message_id)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "in",
                Message.provider_message_id.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        options = message.send_options or {}
        template = template_of(options)
        tag = options.get("tag") if isinstance(options.get("tag"), str) else None
        if adapter.capabilities.reply_window is not None:
            last = await outbound_rules.last_inbound_at(session, conversation)
            try:
                outbound_rules.check_window(
                    adapter.capabilities, adapter.name, last_inbound_at=last, now=now, template=template, tag=tag
                )
            except Conflict as exc:
                raise PermanentChannelError(f"not sent: {exc.detail}") from exc
        stored = (
            await session.scalars(
                select(MessageAttachment).where(MessageAttachment.message_id == message.id).order_by(MessageAttachment.id)
            )
        ).all()
    attachments = tuple(
        [
            Attachment(filename=a.filename, content_type=a.content_type, content=await services.blobs.get(a.blob_sha256))
            for a in stored
        ]
    )
    outbound = OutboundMessage(
        channel=endpoint.name,
        message_id=message.id,
        conversation_id=conversation.id,
        recipient=Identity(IdentityKind(identity.kind), identity.address),
        text=message.text,
        html=message.html,
        subject=conversation.subject,
        thread_key=thread_key,
        in_reply_to=(latest_inbound,) if latest_inbound else (),
        attachments=attachments,
        template=template,
        tag=tag,
        references=tuple(keys),
        recipient_name=recipient_name,
        automatic=message.auto_submitted == "auto_reply",
    )
    return adapter, outbound


async def _thread_keys(session: AsyncSession, conversation_id: int) -> list[str]:
    """The conversation's first thread key and its newest ones, oldest first (RFC 5322 3.6.4)."""
    of_conversation = select(ThreadKey.key, ThreadKey.id).where(ThreadKey.conversation_id == conversation_id)
    first = (await session.execute(of_conversation.order_by(ThreadKey.id).limit(1))).all()
    newest = (await session.execute(of_conversation.order_by(ThreadKey.id.desc()).limit(MAX_REFERENCES - 1))).all()
    rows = {row_id: key for key, row_id in [*first, *newest]}
    return [rows[row_id] for row_id in sorted(rows)]
