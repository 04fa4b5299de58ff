"""Identity normalization: one spelling per address, whatever the channel sent."""

from __future__ import annotations

import pytest

from hub.crm_link import identities
from hub.errors import ValidationFailed
from hub.messages import IdentityKind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Erika.Mustermann@Example.DE", "erika.mustermann@example.de"),
        ("  max@firma.de ", "max@firma.de"),
        ("a+tag@sub.example.com", "a+tag@sub.example.com"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    identity = identities.email(raw)
    assert identity.kind is IdentityKind.EMAIL
    assert identity.address == expected


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@b", "a@@b.de", "a b@c.de", "x@-bad.de", "<a@b.de>"])
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        identities.email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 30 1234567", None, "+49301234567"),
        ("0049 (30) 123-4567", None, "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("+1 (415) 555-0100", None, "+14155550100"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert identities.phone(raw, region).address == expected


@pytest.mark.parametrize("raw", ["12", "030 1234567", "call me", "+49"])
def test_unusable_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        identities.phone(raw)


def test_platform_ids_are_namespaced() -> None:
    assert identities.platform("api.web-form", "42").address == "api.web-form:42"
    with pytest.raises(ValidationFailed):
        identities.platform("api", "has space")
    with pytest.raises(ValidationFailed):
        identities.platform("9bad", "x")


@pytest.mark.parametrize(
    "raw",
    ["+49 30 1234567", "whatsapp:+49301234567", "WhatsApp:+49 30 1234567", "tel:+49-30-1234567",
     "sip:+49301234567@pbx.example.de", "sips:+49301234567@pbx.example.de;user=phone", "sms:+49301234567"],
)
def test_channel_spellings_of_a_number_are_one_phone_identity(raw: str) -> None:
    assert identities.phone(raw) == identities.phone("+49301234567")


@pytest.mark.parametrize("raw", ["whatsapp:", "sip:alice@pbx.example.de", "tel:"])
def test_a_scheme_without_a_number_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        identities.phone(raw)
