"""Normalize addresses into identities: one spelling per person, whatever the channel sent."""

from __future__ import annotations

import re

import phonenumbers

from hub.errors import ValidationFailed
from hub.messages import Identity, IdentityKind

# RFC 5321 caps a path at 254 octets; this is a sanity check, not a full RFC 5322 parser.
_EMAIL = re.compile(r"^[^@\s<>()\[\]\\,;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_PLATFORM_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def email(address: str) -> Identity:
    """An email identity: trimmed and lower-cased (we treat local parts case-insensitively)."""
    value = address.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValidationFailed(f"not a valid email address: {_clip(address)!r}")
    return Identity(IdentityKind.EMAIL, value)


# How channels spell a phone number besides the number itself: WhatsApp and SMS
# providers prefix it (``whatsapp:+49...``), a PBX sends a ``tel:`` or ``sip:`` URI.
_PHONE_SCHEMES = ("whatsapp:", "tel:", "sms:", "sip:", "sips:")


def phone(number: str, default_region: str | None = None) -> Identity:
    """A phone identity in E.164. Without ``default_region`` the number needs its ``+`` prefix.

    ``whatsapp:+4930...``, ``tel:+49-30-...`` and ``sip:+4930...@pbx.example`` are the
    same phone identity as ``+4930...``: one person, whichever channel they use.
    """
    raw = number.strip()
    lowered = raw.lower()
    for scheme in _PHONE_SCHEMES:
        if lowered.startswith(scheme):
            raw = raw[len(scheme):].strip()
            if scheme.startswith("sip"):
                raw = raw.partition("@")[0].partition(";")[0]
            break
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"not a valid phone number: {_clip(number)!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed(f"not a possible phone number: {_clip(number)!r}")
    return Identity(IdentityKind.PHONE, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def platform(namespace: str, user_id: str) -> Identity:
    """A platform identity such as ``slack:T01:U02`` or ``api:web-form:42``."""
    if not _PLATFORM_NAMESPACE.match(namespace):
        raise ValidationFailed(f"bad identity namespace {namespace!r}")
    value = user_id.strip()
    if not value or len(value) > 250 or any(ch.isspace() for ch in value):
        raise ValidationFailed(f"bad platform user id: {_clip(user_id)!r}")
    return Identity(IdentityKind.PLATFORM, f"{namespace}:{value}")


def _clip(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."
