"""Recognise mail that a machine wrote: auto-replies, bulk mail, bounces and reports.

Signals, strongest first: a delivery status notification (``multipart/report;
report-type=delivery-status``, RFC 3464), ``Auto-Submitted`` (RFC 3834),
``X-Autoreply``/``X-Autorespond``/``X-Auto-Response-Suppress``, ``Precedence``,
``List-Id``/``List-Unsubscribe`` (RFC 2369/2919), a null return path, then the
subjects and senders mailer daemons and out-of-office assistants use.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.message import Message

from hub.channels.email.mime import header_text, part_bytes, part_text

AUTO_REPLY = "auto_reply"
BULK = "bulk"
BOUNCE = "bounce"
REPORT = "report"

_MSGID = re.compile(r"<([^<>\s]{1,450})>")
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery failure|returned mail|mail delivery failed|"
    r"failure notice|nicht zustellbar|unzustellbar|non remis|delivery has failed",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"\bdelay|verzögert|warning|still being retried", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^(?:out of (?:the )?office|abwesenheitsnotiz|automatische antwort|auto(?:matic)?[- ]?reply|"
    r"autoreply|auto-response|absence|abwesend|urlaub)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Bounce:
    """What a delivery report says about the Message-IDs it returns.

    ``action`` is ``failed`` (for good), ``delayed`` (the server keeps trying) or
    ``delivered`` (a positive report), after RFC 3464's per-recipient actions.
    """

    original_ids: tuple[str, ...]
    action: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class Classification:
    """``kind`` is None for mail a person wrote."""

    kind: str | None
    bounce: Bounce | None = None


def normalize_message_id(value: str | None) -> str | None:
    """``<a@b>`` → ``a@b``; None when ``value`` holds no usable id."""
    if not value:
        return None
    match = _MSGID.search(value)
    if match is not None:
        return match.group(1)
    bare = value.strip()
    if bare and len(bare) <= 450 and not any(ch.isspace() for ch in bare) and "@" in bare:
        return bare
    return None


# The headers a mail's dedupe key covers besides its Message-ID; the prefilter fetches
# exactly these (``BODY.PEEK[HEADER.FIELDS (...)]``) to know a mail without its body.
KEY_HEADERS = ("Message-ID", "Date", "From", "To", "Subject")


def dedupe_key(message: Message) -> str | None:
    """``<Message-ID>#<hash of the raw Date, From, To, Subject>``, or None without a Message-ID.

    The same mail fetched again has the same key. Two different mails that share a
    Message-ID (broken mailers send all notifications with one) differ in date or
    subject, get different keys, and are both imported. Raw header bytes, not decoded
    text, so that no change in our decoding can ever change a stored key.
    """
    message_id = normalize_message_id(_raw_header(message, "Message-ID"))
    if message_id is None:
        return None
    digest = hashlib.sha256()
    for name in KEY_HEADERS[1:]:
        digest.update(f"{name}:{' '.join((_raw_header(message, name) or '').split())}\n".encode("utf-8", "replace"))
    return f"{message_id}#{digest.hexdigest()[:12]}"


def message_id_of_key(key: str) -> str:
    """The Message-ID inside a dedupe key (the key of an inbound mail is its provider id)."""
    head, sep, tail = key.rpartition("#")
    return head if sep and len(tail) == 12 and all(c in "0123456789abcdef" for c in tail) else key


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in a References or In-Reply-To header, in order."""
    return _MSGID.findall(value) if value else []


def classify(message: Message) -> Classification:
    """Who wrote ``message``: a person (kind None) or which kind of machine."""
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        param = message.get_param("report-type")
        report_type = param.lower() if isinstance(param, str) else ""
        if report_type == "delivery-status":
            return Classification(BOUNCE, _dsn(message))
        if report_type in ("feedback-report", "disposition-notification"):
            return Classification(REPORT)
    auto_submitted = (header_text(message, "Auto-Submitted") or "").lower()
    sender = (header_text(message, "From") or "").lower()
    subject = header_text(message, "Subject") or ""
    return_path = header_text(message, "Return-Path")
    from_daemon = bool(_BOUNCE_SENDER.search(_bare_address(sender)))
    if (from_daemon or return_path in ("<>", "")) and _BOUNCE_SUBJECT.search(subject):
        return Classification(BOUNCE, _loose_bounce(message))
    if auto_submitted and auto_submitted != "no":
        return Classification(AUTO_REPLY)
    if any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return Classification(AUTO_REPLY)
    precedence = (header_text(message, "Precedence") or "").lower()
    if precedence == "auto_reply":
        return Classification(AUTO_REPLY)
    if _AUTO_SUBJECT.search(subject):
        return Classification(AUTO_REPLY)
    if from_daemon or return_path == "<>":
        return Classification(AUTO_REPLY)
    if precedence in ("bulk", "junk", "list") or message.get("List-Id") or message.get("List-Unsubscribe"):
        return Classification(BULK)
    return Classification(None)


def _bare_address(value: str) -> str:
    match = re.search(r"<([^<>]+)>", value)
    return (match.group(1) if match else value).strip()


def _dsn(message: Message) -> Bounce:
    """Read an RFC 3464 report: per-recipient actions, diagnostics, the returned headers."""
    actions: set[str] = set()
    details: list[str] = []
    originals: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in ("message/delivery-status", "message/global-delivery-status"):
            for fields in _status_groups(part):
                action = fields.get("action", "").lower()
                if action:
                    actions.add(action)
                if action == "failed":
                    detail = fields.get("diagnostic-code") or fields.get("status")
                    recipient = fields.get("final-recipient") or fields.get("original-recipient")
                    if detail:
                        details.append(f"{recipient}: {detail}" if recipient else detail)
        elif content_type in ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers"):
            originals.extend(_returned_ids(part))
    if not originals:
        originals = _ids_in_text(message)
    if "failed" in actions:
        action = "failed"
    elif "delayed" in actions:
        action = "delayed"
    elif actions & {"delivered", "relayed", "expanded"}:
        action = "delivered"
    else:
        action = "failed"  # a DSN without readable actions is a bounce in practice
    return Bounce(tuple(dict.fromkeys(originals)), action, "; ".join(details)[:900] or None)


def _status_groups(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status part (the per-message group first)."""
    payload = part.get_payload()
    groups: list[dict[str, str]] = []
    if isinstance(payload, list):  # the stdlib parses the groups into sub-messages
        for block in payload:
            if isinstance(block, Message):
                groups.append({k.lower(): " ".join(str(v).split()) for k, v in block.items()})
        return groups
    text = part_text(part)
    for block in re.split(r"\r?\n\s*\r?\n", text):
        fields: dict[str, str] = {}
        for line in re.sub(r"\r?\n[ \t]+", " ", block).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if fields:
            groups.append(fields)
    return groups


def _returned_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list):
        for inner in payload:
            if isinstance(inner, Message):
                found = normalize_message_id(header_text(inner, "Message-ID"))
                if found:
                    return [found]
        return []
    text = part_bytes(part).decode("utf-8", errors="replace")
    match = re.search(r"^Message-ID:\s*(<[^>\r\n]+>)", text, re.IGNORECASE | re.MULTILINE)
    found = normalize_message_id(match.group(1)) if match else None
    return [found] if found else []


def _ids_in_text(message: Message) -> list[str]:
    found: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            text = part_text(part)
            for match in re.finditer(r"^\s*Message-ID:\s*(<[^>\r\n]+>)", text, re.IGNORECASE | re.MULTILINE):
                normalized = normalize_message_id(match.group(1))
                if normalized:
                    found.append(normalized)
    return found


def _loose_bounce(message: Message) -> Bounce:
    """A bounce without a DSN (qmail, old Exchange): trust only the quoted Message-ID."""
    originals = _ids_in_text(message)
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            originals.extend(_returned_ids(part))
    subject = header_text(message, "Subject") or ""
    action = "delayed" if _DELAY_SUBJECT.search(subject) else "failed"
    return Bounce(tuple(dict.fromkeys(originals)), action, subject[:300] or None)
