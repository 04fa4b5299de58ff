"""Build the MIME message of an outbound reply: threading headers, text + HTML, attachments.

No header value may carry CR or LF: an address or name with a line break (header
injection, e.g. ``"Erika\\r\\nBcc: x@y"``) makes the reply fail permanently instead of
sending something the agent did not write. The subject is ours to compose, so its
whitespace is normalized rather than refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.channels.base import PermanentChannelError
from hub.channels.email.classify import message_id_of_key
from hub.channels.email.tokens import Signer, reply_subject
from hub.messages import OutboundMessage

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


class HeaderInjection(PermanentChannelError):
    """A header value holds a line break."""


def _checked(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"the {name} header would contain a line break; the reply was not sent")
    return value


def bracketed(message_id: str) -> str:
    return f"<{message_id}>"


def _is_message_id(key: str) -> bool:
    """Thread keys that are real Message-IDs (not our synthetic ones) go into References."""
    return "@" in key and not key.endswith("@hub.invalid") and not any(c in key for c in " <>\r\n")


def text_to_html(text: str, lang: str = "de") -> str:
    """A plain reply as simple HTML: paragraphs at blank lines, line breaks kept, all escaped."""
    paragraphs = [block.splitlines() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return _templates.get_template("reply.html").render(paragraphs=paragraphs, lang=lang)


def compose(
    message: OutboundMessage,
    *,
    from_address: str,
    from_name: str | None,
    reply_to: str | None,
    signer: Signer,
    domain: str,
    now: datetime | None = None,
) -> EmailMessage:
    """The reply ``message`` as a MIME message ready for SMTP; raises HeaderInjection."""
    mail = EmailMessage()
    mail["From"] = _checked("From", formataddr((from_name or "", from_address)) if from_name else from_address)
    recipient = message.recipient.address
    name = message.recipient_name
    mail["To"] = _checked("To", formataddr((name, recipient)) if name else recipient)
    if reply_to:
        mail["Reply-To"] = _checked("Reply-To", reply_to)
    subject = " ".join((message.subject or "").split())
    mail["Subject"] = reply_subject(subject, signer.token(message.conversation_id))
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    mail["Message-ID"] = bracketed(signer.message_id(message.message_id, domain))
    # The outbox names the mail we answer by its provider id, which is our dedupe key.
    parents = [message_id_of_key(key) for key in message.in_reply_to if _is_message_id(message_id_of_key(key))]
    if parents:
        mail["In-Reply-To"] = _checked("In-Reply-To", bracketed(parents[0]))
    references = [key for key in message.references if _is_message_id(key)]
    for parent in parents:
        if parent not in references:
            references.append(parent)
    if references:
        mail["References"] = _checked("References", " ".join(bracketed(key) for key in references))
    if message.automatic:
        # RFC 3834: an automatic answer; Exchange's out-of-office assistants keep quiet on it.
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    else:
        mail["Auto-Submitted"] = "no"  # a person wrote it; auto-replies to it are expected
    mail.set_content(message.text)
    mail.add_alternative(message.html or text_to_html(message.text), subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=_checked("attachment filename", attachment.filename),
            cid=bracketed(attachment.content_id) if attachment.content_id else None,
        )
    return mail
