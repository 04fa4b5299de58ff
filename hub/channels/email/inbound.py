"""What a parsed mail means for the hub: a message, delivery reports, or nothing.

- our own mail coming back (our signed Message-ID, our ``X-Loop``, our own address
  as sender) is a mail loop: nothing is imported;
- a bounce that returns one of our Message-IDs reports on that outbound message
  (``failed`` or ``delivered``; ``delayed`` changes nothing) and is not imported;
  a bounce of mail the hub did not send is imported, marked ``bounce``;
- everything else becomes an ``InboundMessage``: threaded by In-Reply-To and
  References, then by a verified subject token, never by joining an open
  conversation (a new mail is a new conversation).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from hub.channels.email.classify import BOUNCE
from hub.channels.email.parse import ParsedMail
from hub.channels.email.tokens import Signer, strip_token
from hub.crm_link import identities
from hub.inbox.html import sanitize_html
from hub.messages import (
    Acknowledgement,
    DeliveryStatus,
    InboundMessage,
    Sender,
    StatusEvent,
    ThreadHint,
)

LOOP = "loop"
DELAY_REPORT = "delay_report"


@dataclass(frozen=True, slots=True)
class Interpretation:
    """One of: ``message`` to ingest, ``statuses`` to apply, or ``skipped`` with a reason."""

    message: InboundMessage | None = None
    statuses: tuple[StatusEvent, ...] = ()
    skipped: str | None = None


def interpret(
    parsed: ParsedMail,
    *,
    channel: str,
    signer: Signer,
    own_addresses: Collection[str],
    received_at: datetime | None = None,
    acknowledge: Callable[[ParsedMail], Acknowledgement] | None = None,
) -> Interpretation:
    """Decide what ``parsed`` becomes on ``channel``."""
    if signer.own_message(parsed.message_id) is not None or parsed.sender_address in own_addresses:
        return Interpretation(skipped=LOOP)
    if any(marker in own_addresses for marker in parsed.loop_markers):
        return Interpretation(skipped=LOOP)

    bounce = parsed.classification.bounce
    if parsed.classification.kind == BOUNCE and bounce is not None:
        ours = [mid for mid in bounce.original_ids if signer.own_message(mid) is not None]
        if ours:
            if bounce.action == "delayed":
                return Interpretation(skipped=DELAY_REPORT)
            status = DeliveryStatus.FAILED if bounce.action == "failed" else DeliveryStatus.DELIVERED
            detail = bounce.detail or "the receiving mail server returned the message"
            return Interpretation(
                statuses=tuple(
                    StatusEvent(
                        channel=channel,
                        provider_message_id=mid,
                        status=status,
                        error=detail if status is DeliveryStatus.FAILED else None,
                        occurred_at=received_at,
                    )
                    for mid in ours
                )
            )

    conversation_id = signer.conversation_in(parsed.subject)
    subject = strip_token(parsed.subject) if parsed.subject else None
    html = parsed.html
    if html is not None and parsed.html_quote is not None:
        # Each part is made well-formed on its own, so the quote cannot swallow the reply.
        html = f"{sanitize_html(html)}<details><summary>…</summary>{sanitize_html(parsed.html_quote)}</details>"
    message = InboundMessage(
        channel=channel,
        provider_message_id=parsed.dedupe_key,
        sender=Sender(identities=(identities.email(parsed.sender_address),), name=parsed.sender_name),
        text=parsed.text,
        html=html,
        subject=subject or None,
        thread=ThreadHint(
            key=parsed.message_id,
            references=parsed.thread_references,
            conversation_id=conversation_id,
            join_open=False,
        ),
        attachments=parsed.attachments,
        received_at=received_at,
        quote_start=parsed.quote_start,
        auto_submitted=parsed.classification.kind,
        # Asked for; the inbox writes it only if this mail opens a conversation.
        acknowledgement=acknowledge(parsed) if acknowledge and parsed.classification.kind is None else None,
    )
    return Interpretation(message=message)
