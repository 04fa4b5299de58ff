"""Deliver a composed mail over SMTP (aiosmtplib) and say whether a retry can help.

RFC 5321 reply codes decide: 4xx is transient (greylisting, a full queue, a busy
server) and goes back to the outbox for a retry; 5xx is permanent and marks the
message failed with the server's own words. Connection problems and timeouts are
transient. A refused login is transient too: it is the operator's to fix, and the
reply must still go out once they have.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from hub.channels.base import PermanentChannelError, TransientChannelError
from hub.channels.email.settings import SmtpSettings

REPLY_EXCERPT = 400


def _reply(code: int, text: str) -> str:
    return f"{code} {' '.join(str(text).split())}"[:REPLY_EXCERPT]


def _by_code(code: int, text: str, what: str) -> Exception:
    detail = f"SMTP server {what}: {_reply(code, text)}"
    if 400 <= code < 500:
        return TransientChannelError(detail)
    return PermanentChannelError(detail)


async def deliver(mail: EmailMessage, settings: SmtpSettings, *, sender: str, recipient: str) -> None:
    """Hand ``mail`` to the configured SMTP server; typed channel errors on failure."""
    try:
        await aiosmtplib.send(
            mail,
            sender=sender,
            recipients=[recipient],
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            tls_context=settings.tls_context(),
            validate_certs=settings.tls_verify,
            timeout=settings.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        if first is None:
            raise PermanentChannelError("SMTP server refused the recipient") from exc
        raise _by_code(first.code, first.message, "refused the recipient") from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise TransientChannelError(f"SMTP login failed: {_reply(exc.code, exc.message)}") from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise _by_code(exc.code, exc.message, "refused the sender") from exc
    except aiosmtplib.SMTPDataError as exc:
        raise _by_code(exc.code, exc.message, "refused the message") from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _by_code(exc.code, exc.message, "answered") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientChannelError(f"SMTP server unreachable: {type(exc).__name__}: {exc}"[:REPLY_EXCERPT]) from exc
