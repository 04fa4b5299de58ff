"""Meta's webhook body (one for Messenger, Instagram and WhatsApp), parsed: no I/O."""

from __future__ import annotations

import msgspec

from hub.channels.meta import messaging, whatsapp
from hub.channels.meta.model import ParsedWebhook
from hub.errors import BadRequest, ValidationFailed


class Envelope(msgspec.Struct):
    object: str
    entry: list[msgspec.Raw] = []


_envelope = msgspec.json.Decoder(Envelope)
_messaging = msgspec.json.Decoder(list[messaging.Entry])
_whatsapp = msgspec.json.Decoder(list[whatsapp.Entry])


def parse_webhook(body: bytes) -> ParsedWebhook:
    """Parse a verified POST body; BadRequest/ValidationFailed when Meta did not send it so."""
    try:
        envelope = _envelope.decode(body)
        entries = msgspec.json.encode(envelope.entry)
        if envelope.object in ("page", "instagram"):
            pages = _messaging.decode(entries)
            found = messaging.parse_entries(pages)
            entry_ids = {e.id for e in pages}
        elif envelope.object == "whatsapp_business_account":
            found = whatsapp.parse_entries(_whatsapp.decode(entries))
            entry_ids = set()
        else:
            return ParsedWebhook(object=envelope.object, route_ids=frozenset({f"object {envelope.object}"}))
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"not a Meta webhook payload: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    messages, statuses, ignored = found
    routes = entry_ids | {m.route_id for m in messages} | {s.route_id for s in statuses} | {r for r, _ in ignored}
    return ParsedWebhook(
        object=envelope.object,
        messages=tuple(messages),
        statuses=tuple(statuses),
        ignored=tuple(ignored),
        route_ids=frozenset(routes),
    )
