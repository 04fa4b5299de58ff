"""The hub's own Message-IDs and subject tokens, both carrying an HMAC.

Our Message-ID for outbound message 123 is ``<hub.123.<mac>@domain>``: the same on
every retry of that message (so a resend after a crash is recognisably the same
mail), and recognisable as ours when it comes back (mail loops, bounces, replies).

The subject token ``[#1234-ab12cd34]`` names conversation 1234. Its MAC means nobody
can post into somebody else's conversation by guessing numbers: a token whose MAC
does not verify is ignored and the mail opens a new conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TOKEN = re.compile(r"\[#(\d{1,18})-([0-9a-f]{8})\]")
_OWN_ID = re.compile(r"^hub\.(\d{1,18})\.([0-9a-f]{16})@")


class Signer:
    """Makes and checks the hub's Message-IDs and subject tokens with one secret."""

    def __init__(self, secret: str, channel: str) -> None:
        # Per channel, so two mailboxes of one hub never accept each other's tokens.
        self._key = hashlib.sha256(f"hub-email:{channel}:{secret}".encode()).digest()

    def _mac(self, purpose: str, value: int, length: int) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:length]

    def message_id(self, message_id: int, domain: str) -> str:
        """Our Message-ID for outbound message ``message_id``, without angle brackets."""
        return f"hub.{message_id}.{self._mac('mid', message_id, 16)}@{domain}"

    def own_message(self, message_id_header: str) -> int | None:
        """The outbound message id when ``message_id_header`` is one of ours, else None."""
        match = _OWN_ID.match(message_id_header.strip("<> "))
        if match is None:
            return None
        number = int(match.group(1))
        expected = self._mac("mid", number, 16)
        return number if hmac.compare_digest(expected, match.group(2)) else None

    def token(self, conversation_id: int) -> str:
        """The subject token for ``conversation_id``, e.g. ``[#1234-ab12cd34]``."""
        return f"[#{conversation_id}-{self._mac('conv', conversation_id, 8)}]"

    def conversation_in(self, subject: str | None) -> int | None:
        """The conversation named by a valid token in ``subject``; forged tokens count for nothing."""
        if not subject:
            return None
        for match in _TOKEN.finditer(subject):
            number = int(match.group(1))
            if hmac.compare_digest(self._mac("conv", number, 8), match.group(2)):
                return number
        return None


def strip_token(subject: str) -> str:
    """``subject`` without any conversation token (for display and for our reply subject)."""
    return " ".join(_TOKEN.sub(" ", subject).split())


def reply_subject(subject: str | None, token: str) -> str:
    """``Re: <subject> [#token]``; no ``Re: Re:`` chains, never two tokens."""
    base = strip_token(subject or "").strip()
    while True:
        lowered = base.lower()
        for prefix in ("re:", "aw:", "antw:", "sv:", "wg:", "fwd:", "fw:"):
            if lowered.startswith(prefix):
                base = base[len(prefix):].lstrip()
                break
        else:
            break
    return f"Re: {base} {token}" if base else f"Re: {token}"
