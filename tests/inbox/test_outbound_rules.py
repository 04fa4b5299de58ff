"""The shared capability rules: text length (refuse or split), attachments, reply window, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.channels.base import Capabilities, MessageTag
from hub.errors import Conflict, ValidationFailed
from hub.inbox.outbound_rules import (
    WINDOW_CLOSED,
    check_attachments,
    check_reply,
    check_window,
    deliveries,
    measure,
    split_text,
    text_parts,
)
from hub.messages import Attachment, Identity, IdentityKind, OutboundMessage, Template

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
WINDOWED = Capabilities(
    reply_window=DAY, templates=True, message_tags=(MessageTag("HUMAN_AGENT", timedelta(days=7)), MessageTag("ANY"))
)


def png(size: int = 10, name: str = "a.png") -> Attachment:
    return Attachment(filename=name, content_type="image/png", content=b"x" * size)


def outbound(text: str, *attachments: Attachment, template: Template | None = None) -> OutboundMessage:
    return OutboundMessage(
        channel="c", message_id=1, conversation_id=1, recipient=Identity(IdentityKind.PHONE, "+4930123"),
        text=text, attachments=attachments, template=template,
    )


@pytest.mark.parametrize(
    ("text", "limit", "parts"),
    [
        ("short", 10, ["short"]),
        ("aaaa bbbb cccc", 9, ["aaaa bbbb", "cccc"]),
        ("first paragraph\n\nsecond one", 20, ["first paragraph", "second one"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),  # no boundary: a hard cut
        ("", 5, [""]),
    ],
)
def test_split_cuts_at_paragraphs_lines_or_words_near_the_limit(text: str, limit: int, parts: list[str]) -> None:
    assert split_text(text, limit) == parts


def test_utf16_counts_astral_characters_twice_and_never_cuts_one_in_half() -> None:
    assert measure("😀a", "utf16") == 3
    assert measure("😀a", "characters") == 2
    parts = split_text("😀" * 5, 4, "utf16")
    assert parts == ["😀😀", "😀😀", "😀"]
    assert all(measure(p, "utf16") <= 4 for p in parts)


def test_too_long_text_is_refused_or_split_as_the_channel_declares() -> None:
    with pytest.raises(ValidationFailed, match="at most 5 characters") as refused:
        text_parts(Capabilities(max_text_length=5), "sms", "123456")
    assert refused.value.extra["code"] == "text_too_long"
    splitting = Capabilities(max_text_length=5, overflow="split", max_parts=2)
    assert text_parts(splitting, "chat", "12345 6789") == ["12345", "6789"]
    with pytest.raises(ValidationFailed, match="needs 3"):
        text_parts(splitting, "chat", "12345 12345 12345")


def test_attachments_are_checked_for_support_type_size_and_count() -> None:
    with pytest.raises(ValidationFailed, match="cannot carry attachments"):
        check_attachments(Capabilities(), "slack", [png()])
    images = Capabilities(attachments=True, attachment_types=("image/*",), max_attachment_bytes=10, max_attachments=2)
    check_attachments(images, "tg", [png(), png()])
    with pytest.raises(ValidationFailed, match="does not carry application/pdf"):
        check_attachments(images, "tg", [Attachment("a.pdf", "application/pdf", b"%PDF")])
    with pytest.raises(ValidationFailed, match="at most 10 bytes"):
        check_attachments(images, "tg", [png(11)])
    with pytest.raises(ValidationFailed, match="at most 2 attachments"):
        check_attachments(images, "tg", [png(), png(), png()])


def test_inside_the_window_anything_goes_outside_only_templates_and_tags() -> None:
    check_window(WINDOWED, "wa", last_inbound_at=NOW - DAY + timedelta(minutes=1), now=NOW)
    with pytest.raises(Conflict, match="outside the 24-hour window") as closed:
        check_window(WINDOWED, "wa", last_inbound_at=NOW - DAY, now=NOW)
    problem = closed.value.extra
    assert problem["code"] == WINDOW_CLOSED
    assert problem["window_seconds"] == 86400
    assert problem["templates"] is True and problem["message_tags"] == ["HUMAN_AGENT", "ANY"]
    assert "send an approved template" in closed.value.detail
    check_window(WINDOWED, "wa", last_inbound_at=NOW - DAY, now=NOW, template=Template("hello", "de"))
    check_window(WINDOWED, "fb", last_inbound_at=NOW - timedelta(days=6), now=NOW, tag="HUMAN_AGENT")
    with pytest.raises(Conflict, match="within 7 days"):
        check_window(WINDOWED, "fb", last_inbound_at=NOW - timedelta(days=8), now=NOW, tag="HUMAN_AGENT")
    check_window(WINDOWED, "fb", last_inbound_at=None, now=NOW, tag="ANY")
    with pytest.raises(Conflict, match="last wrote never"):
        check_window(WINDOWED, "wa", last_inbound_at=None, now=NOW)
    check_window(Capabilities(), "mail", last_inbound_at=None, now=NOW)  # no window at all


def test_templates_and_tags_only_where_the_channel_has_them() -> None:
    with pytest.raises(ValidationFailed, match="does not send templates"):
        check_reply(Capabilities(), "mail", text="", template=Template("x", "de"), last_inbound_at=None, now=NOW)
    with pytest.raises(ValidationFailed, match="knows no message tag 'NOPE'"):
        check_reply(WINDOWED, "fb", text="hi", tag="NOPE", last_inbound_at=NOW, now=NOW)
    with pytest.raises(ValidationFailed, match="goes out alone"):
        check_reply(WINDOWED, "wa", text="", template=Template("x", "de"), attachments=[png()],
                    last_inbound_at=NOW, now=NOW)
    check_reply(WINDOWED, "wa", text="", template=Template("x", "de", ("4711",)), last_inbound_at=None, now=NOW)


def test_deliveries_keep_attachments_with_the_text_unless_the_channel_sends_them_apart() -> None:
    files = (png(name="1.png"), png(name="2.png"))
    together = Capabilities(max_text_length=5, overflow="split", max_parts=3, attachments=True)
    sent = deliveries(together, outbound("12345 678", *files))
    assert [(d.text, len(d.attachments)) for d in sent] == [("12345", 0), ("678", 2)]
    assert deliveries(Capabilities(attachments=True), outbound("hi", *files)) == [outbound("hi", *files)]
    apart = Capabilities(max_text_length=5, overflow="split", max_parts=3, attachments=True, separate_attachments=True)
    sent = deliveries(apart, outbound("12345 678", *files))
    assert [(d.text, [a.filename for a in d.attachments]) for d in sent] == [
        ("12345", []), ("678", []), ("", ["1.png"]), ("", ["2.png"]),
    ]
    assert [d.attachments[0].filename for d in deliveries(apart, outbound("", *files))] == ["1.png", "2.png"]
    template = outbound("[template]", template=Template("x", "de"))
    assert deliveries(apart, template) == [template]
