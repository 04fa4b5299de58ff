"""Keyword classification and SMS segment counting: pure functions, table-driven."""

from __future__ import annotations

import pytest

from hub.channels.twilio import keywords, segments
from hub.channels.twilio.keywords import Keyword


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", (Keyword.OPT_OUT, "STOP")), (" stop\n", (Keyword.OPT_OUT, "STOP")), ("StopAll", (Keyword.OPT_OUT, "STOPALL")),
        ("unsubscribe", (Keyword.OPT_OUT, "UNSUBSCRIBE")), ("CANCEL", (Keyword.OPT_OUT, "CANCEL")),
        ("end", (Keyword.OPT_OUT, "END")), ("QUIT", (Keyword.OPT_OUT, "QUIT")), ("revoke", (Keyword.OPT_OUT, "REVOKE")),
        ("OPTOUT", (Keyword.OPT_OUT, "OPTOUT")), ("START", (Keyword.OPT_IN, "START")), ("yes", (Keyword.OPT_IN, "YES")),
        ("Unstop", (Keyword.OPT_IN, "UNSTOP")), ("HELP", (Keyword.HELP, "HELP")), ("info", (Keyword.HELP, "INFO")),
        ("STOP.", None), ("stop please", None), ("", None), ("   ", None), ("STOPP", None), ("yes please", None),
        ("OPT OUT", None),
    ],
)
def test_only_the_whole_message_is_a_keyword(body: str, expected: tuple[Keyword, str] | None) -> None:
    assert keywords.classify(body) == expected


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("Grüße aus Köln", "GSM-7", 14, 1),
        ("ž" * 70, "UCS-2", 70, 1),
        ("ž" * 71, "UCS-2", 71, 2),
        ("a" * 69 + "😀", "UCS-2", 71, 2),  # an emoji is two UTF-16 code units
        ("ç", "UCS-2", 1, 1),  # only the capital Ç is in GSM-7
    ],
)
def test_segments_follow_the_encoding(text: str, encoding: str, units: int, count: int) -> None:
    got = segments.count(text)
    assert (got.encoding, got.units, got.segments) == (encoding, units, count)
