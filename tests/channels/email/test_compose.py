"""Outbound mail: our threading headers, text and HTML, attachments, no header injection."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from hub.channels.email.compose import HeaderInjection, compose, text_to_html
from hub.channels.email.tokens import Signer
from hub.messages import Attachment, Identity, IdentityKind, OutboundMessage

SIGNER = Signer("secret", "support-mail")


def outbound(**overrides: object) -> OutboundMessage:
    values: dict[str, object] = {
        "channel": "support-mail",
        "message_id": 99,
        "conversation_id": 12,
        "recipient": Identity(IdentityKind.EMAIL, "erika@example.de"),
        "recipient_name": "Erika Mustermann",
        "text": "Guten Tag,\n\nIhre Rechnung <kommt> morgen.\nGruß",
        "subject": "AW: Ihre Bestellung",
        "in_reply_to": ("reply-2@mail.example.de",),
        "references": ("first-1@mail.example.de", "synthetic.abc@hub.invalid", "reply-2@mail.example.de"),
    }
    values.update(overrides)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def build(message: OutboundMessage) -> bytes:
    mail = compose(
        message, from_address="support@example.com", from_name="Beispiel Support",
        reply_to="help@example.com", signer=SIGNER, domain="example.com",
    )
    return mail.as_bytes()


def test_a_reply_carries_our_message_id_and_the_thread() -> None:
    parsed = message_from_bytes(build(outbound()), policy=policy.default)
    assert parsed["Message-ID"] == f"<{SIGNER.message_id(99, 'example.com')}>"
    assert parsed["In-Reply-To"] == "<reply-2@mail.example.de>"
    assert parsed["References"] == "<first-1@mail.example.de> <reply-2@mail.example.de>"
    assert parsed["Subject"] == f"Re: Ihre Bestellung {SIGNER.token(12)}"
    assert parsed["From"] == "Beispiel Support <support@example.com>"
    assert parsed["To"] == "Erika Mustermann <erika@example.de>"
    assert parsed["Reply-To"] == "help@example.com"
    assert parsed["Auto-Submitted"] == "no"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and "Ihre Rechnung <kommt> morgen." in plain.get_content()
    assert html is not None and "Ihre Rechnung &lt;kommt&gt; morgen.<br>Gruß" in html.get_content()


def test_attachments_go_along() -> None:
    message = outbound(attachments=(Attachment("Rechnung.pdf", "application/pdf", b"%PDF-1.4 test"),))
    parsed = message_from_bytes(build(message), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "Rechnung.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"


@pytest.mark.parametrize(
    "overrides",
    [
        {"recipient_name": "Erika\r\nBcc: victim@example.net"},
        {"recipient": Identity(IdentityKind.EMAIL, "erika@example.de\nBcc: victim@example.net")},
    ],
)
def test_a_line_break_in_any_header_value_refuses_the_reply(overrides: dict[str, object]) -> None:
    with pytest.raises(HeaderInjection):
        build(outbound(**overrides))


def test_thread_keys_that_are_no_message_ids_stay_out_of_the_headers() -> None:
    message = outbound(in_reply_to=("x@y\r\nBcc: victim@example.net",), references=("thread-7", "a@b"))
    parsed = message_from_bytes(build(message), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["In-Reply-To"] is None
    assert parsed["References"] == "<a@b>"


def test_a_subject_with_line_breaks_is_folded_into_one_line() -> None:
    parsed = message_from_bytes(build(outbound(subject="Frage\r\nBcc: victim@example.net")), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"].startswith("Re: Frage Bcc: victim@example.net [#12-")


def test_text_becomes_escaped_html_paragraphs() -> None:
    html = text_to_html("<b>eins</b>\nzwei\n\ndrei")
    assert "<p" in html and "&lt;b&gt;eins&lt;/b&gt;<br>zwei" in html and ">drei</p>" in html


def test_the_mail_answered_is_named_by_its_message_id_not_its_dedupe_key() -> None:
    parsed = message_from_bytes(build(outbound(in_reply_to=("reply-2@mail.example.de#0123456789ab",))),
                                policy=policy.default)
    assert parsed["In-Reply-To"] == "<reply-2@mail.example.de>"
