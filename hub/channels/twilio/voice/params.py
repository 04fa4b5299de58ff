"""Twilio's voice webhook parameters, read into typed values (pure).

Twilio posts ``application/x-www-form-urlencoded`` forms; the documented parameters
are at https://www.twilio.com/docs/voice/twiml#request-parameters and on each verb's
page (Gather, Enqueue, Dial, Record). What the hub needs is checked here; a request
without a valid ``CallSid`` is malformed (400).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from hub.crm_link import identities
from hub.errors import BadRequest, ValidationFailed
from hub.messages import Identity

_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
ANONYMOUS_NAMESPACE = "phone-anonymous"
# Call statuses after which the call is over (https://www.twilio.com/docs/voice/api/call-resource#call-status-values).
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# DialCallStatus values meaning the agent was not reached.
NOT_REACHED = frozenset({"no-answer", "busy", "failed", "canceled"})


def form(body: bytes) -> dict[str, str]:
    """The form fields of a Twilio request (the last value wins, as Twilio sends each once)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the form is not UTF-8") from exc
    return dict(parse_qsl(text, keep_blank_values=True))


def call_sid(fields: Mapping[str, str]) -> str:
    """The call's ``CallSid``; 400 when missing or malformed."""
    value = fields.get("CallSid", "")
    if not _CALL_SID.match(value):
        raise BadRequest("CallSid is missing or malformed")
    return value


def recording_sid(fields: Mapping[str, str]) -> str:
    value = fields.get("RecordingSid", "")
    if not _RECORDING_SID.match(value):
        raise BadRequest("RecordingSid is missing or malformed")
    return value


def caller(fields: Mapping[str, str], sid: str) -> Identity:
    """Who calls: their number as a phone identity; a withheld number is an identity of its own call."""
    number = fields.get("From", "")
    try:
        return identities.phone(number)
    except ValidationFailed:
        return identities.platform(ANONYMOUS_NAMESPACE, sid)


def number(fields: Mapping[str, str], key: str) -> str | None:
    """A phone number parameter (From, To) in E.164, None when absent or not a phone number."""
    value = fields.get(key, "")
    try:
        return identities.phone(value).address if value else None
    except ValidationFailed:
        return None


def integer(fields: Mapping[str, str], key: str) -> int | None:
    """A whole-number parameter (QueuePosition, DialCallDuration), None when absent or not a number."""
    value = fields.get(key, "")
    return int(value) if value.isdigit() else None


@dataclass(frozen=True, slots=True)
class Choice:
    """What the caller answered the menu with."""

    digits: str | None
    speech: str | None


def choice(fields: Mapping[str, str]) -> Choice:
    digits = fields.get("Digits") or None
    speech = fields.get("SpeechResult") or None
    return Choice(digits[:8] if digits else None, speech[:500] if speech else None)


def offer_id(query: Mapping[str, str]) -> int:
    """The offer a connect/whisper/dial URL is about (the hub wrote it into the URL)."""
    value = query.get("offer", "")
    if not value.isdigit():
        raise BadRequest("the URL names no offer")
    return int(value)


def attempt(query: Mapping[str, str]) -> int:
    value = query.get("attempt", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100 else 1
