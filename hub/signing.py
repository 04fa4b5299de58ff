"""The HMAC-SHA256 signature hub puts on what it sends (API channel callbacks, outgoing webhooks).

``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` with
``X-Hub-Timestamp: <Unix seconds>``; receivers recompute it over the raw body and
refuse old timestamps (docs/channels/api.md shows the check).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
TIMESTAMP_HEADER = "X-Hub-Timestamp"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
