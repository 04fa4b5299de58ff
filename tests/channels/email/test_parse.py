"""Parsing real and hand-made mail: bodies, charsets, attachments, senders, quotes, machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.channels.email.classify import AUTO_REPLY, BOUNCE, BULK, REPORT
from hub.channels.email.parse import UnparseableMail, parse_mail
from hub.inbox.html import sanitize_html

FIXTURES = Path(__file__).parents[2] / "fixtures" / "email"
CORPUS = FIXTURES / "corpus"
LIMIT = 25 << 20


def parse(name: str, **options: bool):  # type: ignore[no-untyped-def]
    return parse_mail((FIXTURES / name).read_bytes(), max_attachment_bytes=LIMIT, **options)


def test_a_reply_keeps_its_full_text_and_marks_where_the_quote_begins() -> None:
    mail = parse("reply_with_german_quote.eml")
    assert mail.message_id == "CAF2x7+reply1@mail.example.de"
    assert mail.sender_address == "erika.mustermann@example.de"
    assert mail.sender_name == "Erika Mustermann"
    assert mail.subject == "AW: Ihre Bestellung 4711"
    assert "Viele Grüße" in mail.text
    assert mail.quote_start is not None
    assert mail.text[mail.quote_start :].startswith("Am Mo., 2. Dez. 2030")
    assert "Ihr Paket ist unterwegs" in mail.text  # nothing is thrown away
    assert mail.in_reply_to == ("hub.12.0123456789abcdef@example.com",)
    assert mail.thread_references[0] == "hub.12.0123456789abcdef@example.com"
    assert "first-mail-1@mail.example.de" in mail.thread_references
    assert mail.classification.kind is None


def test_html_is_split_at_the_quote_and_sanitized_to_harmless_markup() -> None:
    mail = parse("reply_with_german_quote.eml")
    assert mail.html is not None and mail.html_quote is not None
    assert "gmail_quote" not in mail.html and "gmail_quote" in mail.html_quote
    clean = sanitize_html(mail.html + mail.html_quote)
    for forbidden in ("<script", "<style", "onclick", "<form", "<input", "tracker.example.net"):
        assert forbidden not in clean
    assert "Rechnung fehlt" in clean


def test_a_broken_charset_still_gives_readable_text() -> None:
    mail = parse("broken_charset_latin1.eml")
    assert "Schöne Grüße aus Köln" in mail.text
    assert "10€" in mail.text  # cp1252's euro sign, which latin-1 lacks
    assert mail.subject == "Grüße"


def test_inline_images_keep_their_content_id_and_attachment_names_lose_their_paths() -> None:
    mail = parse("inline_image_and_attachment.eml")
    by_type = {a.content_type: a for a in mail.attachments}
    image = by_type["image/png"]
    assert image.content_id == "screenshot-1@example.net"
    assert image.content.startswith(b"\x89PNG")
    pdf = by_type["application/pdf"]
    assert pdf.filename == "passwd.pdf"  # "../../etc/" is gone
    assert pdf.content.startswith(b"%PDF")
    assert mail.html is not None and "cid:screenshot-1@example.net" in sanitize_html(mail.html)


def test_an_attachment_over_the_limit_is_left_out_with_a_note() -> None:
    raw = (FIXTURES / "inline_image_and_attachment.eml").read_bytes()
    mail = parse_mail(raw, max_attachment_bytes=60)  # the PNG has 67 bytes, the PDF 54
    assert [a.content_type for a in mail.attachments] == ["application/pdf"]
    assert mail.dropped_attachments == ("screen.png",)
    assert "screen.png" in mail.text and "not imported" in mail.text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("out_of_office_auto_reply.eml", AUTO_REPLY),
        ("newsletter_bulk.eml", BULK),
        ("reply_with_german_quote.eml", None),
    ],
)
def test_machine_written_mail_is_recognised(name: str, kind: str | None) -> None:
    assert parse(name).classification.kind == kind


def test_html_only_mail_gets_a_plain_text_version() -> None:
    mail = parse("newsletter_bulk.eml")
    assert mail.text.splitlines()[0] == "Nur heute"
    assert "- Schuhe" in mail.text


def test_a_single_reply_to_names_the_customer_of_a_web_form() -> None:
    mail = parse("web_form_reply_to.eml")
    assert (mail.sender_address, mail.sender_name) == ("anna.kundin@example.org", "Anna Kundin")
    assert parse("web_form_reply_to.eml", use_reply_to=False).sender_address == "noreply@example.com"


def test_mail_without_message_id_gets_a_stable_synthetic_one() -> None:
    raw = (FIXTURES / "no_message_id.eml").read_bytes()
    first = parse_mail(raw, max_attachment_bytes=LIMIT)
    assert first.synthetic_id and first.message_id.endswith("@hub.invalid")
    # A trace header added on delivery or copy does not change it; another body does.
    relayed = b"Received: from mx by imap; Sat, 07 Dec 2030 08:00:01 +0000\n" + raw
    assert parse_mail(relayed, max_attachment_bytes=LIMIT).message_id == first.message_id
    other = raw.replace(b"writes no Message-ID", b"writes none either")
    assert parse_mail(other, max_attachment_bytes=LIMIT).message_id != first.message_id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "no_headers"),
        ((FIXTURES / "no_sender.eml").read_bytes(), "no_sender"),
    ],
)
def test_mail_that_cannot_become_a_message_says_why(raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseableMail) as caught:
        parse_mail(raw, max_attachment_bytes=LIMIT)
    assert caught.value.reason == reason


def test_nul_and_control_characters_never_reach_the_database() -> None:
    raw = b"From: a@example.org\r\nSubject: x\x00y\r\nMessage-ID: <n@x>\r\n\r\nbody\x00with\x07nul\r\n"
    mail = parse_mail(raw, max_attachment_bytes=LIMIT)
    assert "\x00" not in mail.text and "\x00" not in (mail.subject or "")
    assert mail.text.startswith("bodywithnul")


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")


def test_the_corpus_is_there() -> None:
    assert len(_corpus_files()) > 200


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_mail_parses_or_is_refused_with_a_reason(path: Path) -> None:
    try:
        mail = parse_mail(path.read_bytes(), max_attachment_bytes=LIMIT)
    except UnparseableMail as exc:
        assert exc.reason in ("empty", "no_headers", "no_sender", "mime")
        return
    assert mail.message_id and mail.sender_address
    assert mail.text.strip() or mail.html or mail.attachments
    assert "\x00" not in mail.text


def test_corpus_bounces_and_reports_are_recognised() -> None:
    kinds = {
        name: parse_mail((CORPUS / name).read_bytes(), max_attachment_bytes=LIMIT).classification
        for name in (
            "flanker/bounce/office365.eml",
            "flanker/bounce/mailbox-full.eml",
            "flanker/bounce/no-mx.eml",
            "flanker/complaints/aol.eml",
        )
    }
    office = kinds["flanker/bounce/office365.eml"]
    assert office.kind == BOUNCE and office.bounce is not None and office.bounce.action == "failed"
    assert office.bounce.original_ids == ("20171013111011.20866.254C2F3A4D7AA526@ninomail.com",)
    assert office.bounce.detail is not None and "550 5.1.10" in office.bounce.detail
    full = kinds["flanker/bounce/mailbox-full.eml"]
    assert full.bounce is not None and full.bounce.original_ids == ("4E326A95.3010907@example.com",)
    assert kinds["flanker/bounce/no-mx.eml"].bounce is not None
    assert kinds["flanker/bounce/no-mx.eml"].bounce.action == "delayed"  # type: ignore[union-attr]
    assert kinds["flanker/complaints/aol.eml"].kind == REPORT


def test_two_different_mails_with_one_message_id_get_different_dedupe_keys() -> None:
    first = plain(b"Subject: Ihre Rechnung\r\nDate: Mon, 02 Dec 2030 10:00:00 +0000\r\n")
    again = plain(b"Subject: Ihre Rechnung\r\nDate: Mon, 02 Dec 2030 10:00:00 +0000\r\n")
    other = plain(b"Subject: Ihre Mahnung\r\nDate: Tue, 03 Dec 2030 10:00:00 +0000\r\n")
    assert first.message_id == other.message_id == "notification@shop.example"
    assert first.dedupe_key == again.dedupe_key != other.dedupe_key
    assert first.dedupe_key.startswith("notification@shop.example#")


def plain(headers: bytes):  # type: ignore[no-untyped-def]
    raw = b"From: shop@shop.example\r\nMessage-ID: <notification@shop.example>\r\n" + headers + b"\r\nText\r\n"
    return parse_mail(raw, max_attachment_bytes=LIMIT)
