"""Consent stated by an inbound message itself (an SMS STOP or START), recorded with it.

The statement goes on the sender's consent ledger in the ingest transaction, so the
message and the withdrawal are committed together: a reply queued a moment later is
already refused (``hub.crm_link.consent.ensure_outbound_allowed``). The evidence is
the message: its id, the provider's id, the channel and the keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.crm_link.consent import record_consent
from hub.errors import Conflict, NotFound
from hub.events import Event
from hub.messages import InboundMessage
from hub.services import Unit

log = logging.getLogger(__name__)


async def record_statements(
    session: AsyncSession, stated: Sequence[tuple[InboundMessage, int, int, str]], now: datetime
) -> list[Event]:
    """Record the consent of each ``(message, message_id, contact_id, channel name)``; the events to emit."""
    unit = Unit(session)
    for message, message_id, contact_id, channel in stated:
        statement = message.consent
        assert statement is not None
        evidence = {
            "message_id": message_id,
            "provider_message_id": message.provider_message_id,
            "channel": channel,
            "keyword": statement.keyword,
        }
        try:
            await record_consent(
                unit, contact_id, statement.purpose, statement.channel, statement.granted, statement.source,
                evidence=evidence, occurred_at=message.received_at or now,
            )
        except (Conflict, NotFound) as exc:  # an erased contact: the message is kept, nothing recorded on it
            log.info("message %d: consent statement not recorded: %s", message_id, exc.detail)
    return unit.events
