"""Raw RFC 5322 bytes → a ``ParsedMail``: pure, no I/O, no secrets.

The stdlib ``email`` package with ``policy.default`` does the MIME work; this module
picks the bodies (text and HTML of multipart/alternative, extra inline text parts
appended), collects attachments and inline ``cid:`` images, finds the sender, the
threading headers and the quoted tail, and classifies machine-written mail.

A mail we cannot turn into a message raises ``UnparseableMail`` with a reason; the
mailbox keeps it raw in the quarantine and goes on with the next one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

from hub.channels.email.classify import (
    Classification,
    classify,
    dedupe_key,
    message_ids,
    normalize_message_id,
)
from hub.channels.email.mime import (
    PartInfo,
    decode_words,
    header_text,
    html_to_text,
    part_bytes,
    part_info,
    part_text,
    raw_header,
    raw_headers,
    safe_filename,
    unraw,
)
from hub.channels.email.quotes import quote_start, split_html_quote
from hub.crm_link import identities
from hub.errors import ValidationFailed
from hub.messages import Attachment

MAX_REFERENCES = 30
MAX_ATTACHMENTS = 100
MAX_TEXT = 1_000_000  # characters; a longer body is cut with a note


class UnparseableMail(Exception):
    """The mail cannot become an inbox message; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[UnparseableMail], tuple[str, str]]:
        return (UnparseableMail, (self.reason, self.detail))  # it crosses process boundaries


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything the hub takes from one mail."""

    message_id: str  # normalized, without angle brackets; synthetic when the mail had none
    synthetic_id: bool
    dedupe_key: str  # what makes a re-fetch a duplicate (``classify.dedupe_key``)
    sender_address: str  # normalized email address
    sender_name: str | None
    recipients: tuple[str, ...]  # To and Cc addresses, normalized
    subject: str | None
    text: str
    html: str | None  # not yet sanitized; the inbox sanitizes before storing
    html_quote: str | None  # the quoted tail of the HTML, split off for collapsing
    quote_start: int | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    dropped_attachments: tuple[str, ...]  # names of attachments over the size limit
    classification: Classification
    loop_markers: tuple[str, ...]  # X-Loop values

    @property
    def thread_references(self) -> tuple[str, ...]:
        """In-Reply-To first, then References newest first: the likeliest match first."""
        ordered = list(self.in_reply_to) + list(reversed(self.references))
        return tuple(dict.fromkeys(ordered))[:MAX_REFERENCES]


_parser = BytesParser(policy=policy.default)


def parse_mail(raw: bytes, *, max_attachment_bytes: int, use_reply_to: bool = True) -> ParsedMail:
    """Parse one mail. Raises ``UnparseableMail`` when no inbox message can come of it."""
    if not raw.strip():
        raise UnparseableMail("empty", "the message has no content")
    try:
        message = _parser.parsebytes(raw)
    except Exception as exc:  # the parser is lenient; this is a bug-class failure
        raise UnparseableMail("mime", f"the MIME structure cannot be read ({type(exc).__name__})") from exc
    if not message.keys():
        raise UnparseableMail("no_headers", "the message has no headers")

    sender_address, sender_name = _sender(message, use_reply_to)
    subject = header_text(message, "Subject")
    classification = classify(message)
    message_id = normalize_message_id(header_text(message, "Message-ID"))
    key = dedupe_key(message) if message_id is not None else None
    synthetic = message_id is None or key is None
    if message_id is None or key is None:
        message_id = key = _synthetic_id(message, raw)

    try:
        text, html, attachments, dropped = _bodies(message, max_attachment_bytes)
    except RecursionError as exc:
        raise UnparseableMail("mime", "the MIME structure is nested too deeply") from exc
    html_quote: str | None = None
    if html is not None:
        html, html_quote = split_html_quote(html)
        if not text.strip():
            text = html_to_text(html + (html_quote or ""))
    if dropped:
        note = "\n".join(f"[attachment {name!r} not imported: larger than the limit]" for name in dropped)
        text = f"{text}\n\n{note}" if text else note
    text = text.strip("\n").rstrip()
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "\n[… text cut: the message is longer than the hub shows]"
    if not text.strip() and not html and not attachments:
        text = "(empty message)"

    return ParsedMail(
        message_id=message_id,
        synthetic_id=synthetic,
        dedupe_key=key,
        sender_address=sender_address,
        sender_name=sender_name,
        recipients=_recipients(message),
        subject=subject[:500] if subject else None,
        text=text,
        html=html,
        html_quote=html_quote,
        quote_start=quote_start(text),
        in_reply_to=tuple(message_ids(header_text(message, "In-Reply-To")))[:MAX_REFERENCES],
        references=tuple(message_ids(header_text(message, "References")))[-MAX_REFERENCES:],
        attachments=tuple(attachments),
        dropped_attachments=tuple(dropped),
        classification=classification,
        loop_markers=tuple(" ".join(v.split()).lower() for v in raw_headers(message, "X-Loop")),
    )


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, tolerant of broken syntax.

    Split first, decode the names after: a decoded name may hold the comma or quote
    that separates addresses.
    """
    values = [" ".join(unraw(v).split()) for v in raw_headers(message, name)]
    pairs = getaddresses(values)
    return [
        (decode_words(display).strip() if "=?" in display else display.strip(), address.strip())
        for display, address in pairs
        if address.strip()
    ]


def _valid_email(address: str) -> str | None:
    try:
        return identities.email(address).address
    except ValidationFailed:
        return None


def _sender(message: Message, use_reply_to: bool) -> tuple[str, str | None]:
    """Who to answer: a single Reply-To (web forms send for the customer), else From, Sender."""
    candidates: list[list[tuple[str, str]]] = []
    if use_reply_to:
        reply_to = _addresses(message, "Reply-To")
        if len(reply_to) == 1:
            candidates.append(reply_to)
    candidates += [_addresses(message, "From"), _addresses(message, "Sender"), _addresses(message, "Return-Path")]
    for pairs in candidates:
        for display, address in pairs:
            normalized = _valid_email(address)
            if normalized is not None:
                name = " ".join(display.strip("\"' ").split()) or None
                if name is not None and (name.lower() == normalized or "@" in name and name.strip("<>") == address):
                    name = None  # "a@b" <a@b> is no name
                return normalized, name[:200] if name else None
    raise UnparseableMail("no_sender", "no From, Reply-To, Sender or Return-Path holds a valid address")


def _recipients(message: Message) -> tuple[str, ...]:
    found: list[str] = []
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for _display, address in _addresses(message, header):
            normalized = _valid_email(address)
            if normalized is not None:
                found.append(normalized)
    return tuple(dict.fromkeys(found))


def _synthetic_id(message: Message, raw: bytes) -> str:
    """A stable id for a mail without Message-ID: the same mail always gets the same one.

    Built from the headers the sender wrote and the body, not from trace headers a
    server adds on delivery or copy, so a re-delivered copy dedupes too.
    """
    digest = hashlib.sha256()
    for name in ("Date", "From", "To", "Cc", "Subject"):
        digest.update(f"{name}:{header_text(message, name) or ''}\n".encode())
    _head, _sep, body = raw.partition(b"\r\n\r\n")
    if not _sep:
        _head, _sep, body = raw.partition(b"\n\n")
    digest.update(body)
    return f"synthetic.{digest.hexdigest()[:40]}@hub.invalid"


def _bodies(message: Message, max_attachment_bytes: int) -> tuple[str, str | None, list[Attachment], list[str]]:
    """Text, HTML, attachments and the names of attachments dropped for size.

    The first inline text/plain leaf is the text and the first inline text/html leaf
    the HTML (what ``EmailMessage.get_body`` picks for multipart/alternative and
    /related); further inline text parts are appended to the text; every other leaf
    is an attachment.
    """
    leaves = [(part, part_info(part)) for part in _leaves(message)]
    plain: tuple[Message, PartInfo] | None = None
    html_leaf: tuple[Message, PartInfo] | None = None
    for part, info in leaves:
        if info.disposition == "attachment" or info.filename is not None:
            continue
        if info.content_type == "text/plain" and plain is None:
            plain = (part, info)
        elif info.content_type == "text/html" and html_leaf is None:
            html_leaf = (part, info)
    text = part_text(plain[0], plain[1].charset) if plain is not None else ""
    html = part_text(html_leaf[0], html_leaf[1].charset) if html_leaf is not None else None
    attachments: list[Attachment] = []
    dropped: list[str] = []
    extra_text: list[str] = []
    for index, (part, info) in enumerate(leaves):
        if (plain is not None and part is plain[0]) or (html_leaf is not None and part is html_leaf[0]):
            continue
        inline = info.disposition != "attachment" and info.filename is None
        if info.content_type == "text/plain" and inline:
            extra_text.append(part_text(part, info.charset))
            continue
        if len(attachments) >= MAX_ATTACHMENTS:
            dropped.append(info.filename or f"part-{index}")
            continue
        content = _attachment_bytes(part, info)
        name = safe_filename(info.filename, _fallback_name(part, info, index))
        if len(content) > max_attachment_bytes:
            dropped.append(name)
            continue
        attachments.append(
            Attachment(filename=name, content_type=info.content_type[:255], content=content, content_id=_cid(part))
        )
    if extra_text:
        text = "\n\n".join([t for t in [text, *extra_text] if t.strip()])
    return text, html, attachments, dropped


def _leaves(message: Message) -> list[Message]:
    """Every leaf part, depth first; an attached message/rfc822 counts as one leaf."""
    leaves: list[Message] = []
    stack = [message]
    while stack:
        part = stack.pop()
        if part is not message and part.get_content_type() in ("message/rfc822", "message/global"):
            leaves.append(part)
            continue
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(reversed([c for c in children if isinstance(c, Message)]))
            continue
        leaves.append(part)
    return leaves


def _attachment_bytes(part: Message, info: PartInfo) -> bytes:
    if info.content_type in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes(policy=policy.default.clone(linesep="\r\n"))
            except Exception:
                return bytes(inner[0])
    return part_bytes(part)


def _cid(part: Message) -> str | None:
    value = raw_header(part, "Content-ID")
    if not value:
        return None
    return normalize_message_id(value) or (value.strip().strip("<>").strip()[:255] or None)


_EXTENSIONS = {
    "message/rfc822": "eml",
    "message/global": "eml",
    "text/calendar": "ics",
    "text/html": "html",
    "text/plain": "txt",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "application/pdf": "pdf",
}


def _fallback_name(part: Message, info: PartInfo, index: int) -> str:
    extension = _EXTENSIONS.get(info.content_type, "bin")
    if info.content_type in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            subject = header_text(inner[0], "Subject")
            if subject:
                return safe_filename(f"{subject[:80]}.eml", f"message-{index}.eml")
    return f"part-{index}.{extension}"
