"""Decoding helpers for mail from the wild: any charset, broken headers, HTML to text.

Everything here is pure and total: a broken input yields the best text we can get,
never an exception, because one odd mail must not stop a mailbox.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header
from email.message import Message
from html import unescape
from html.parser import HTMLParser

# Names seen in real mail that Python's codec registry does not know, or knows as a
# narrower charset than the one senders actually use.
_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "unknown": "utf-8",
    "default": "utf-8",
    "x-user-defined": "windows-1252",
    "iso-8859-1": "windows-1252",  # senders mean cp1252 (curly quotes in 0x80-0x9f)
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "us-ascii": "utf-8",  # a superset; 8-bit bytes in "ascii" mail are nearly always UTF-8
    "ascii": "utf-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def codec_for(charset: str | None) -> str:
    """A codec name Python knows for a declared ``charset`` (UTF-8 when unknown)."""
    if not charset:
        return "utf-8"
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from ``data`` in its declared charset, falling back to UTF-8, then cp1252."""
    codec = codec_for(charset)
    for candidate in (codec, "utf-8"):
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("windows-1252", errors="replace")


def clean_text(value: str) -> str:
    """Drop control characters (NUL included: databases refuse it) but keep tabs and newlines."""
    return _CONTROL.sub("", value)


def part_text(part: Message) -> str:
    """The decoded text of a leaf part, whatever its transfer encoding and charset; ``\n`` line ends."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
    else:
        text = decode_bytes(payload, part.get_content_charset())
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n"))


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (an attachment)."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", errors="replace") if isinstance(raw, str) else b""


def header_text(message: Message, name: str) -> str | None:
    """A header's decoded value (RFC 2047), or None; never raises on malformed input."""
    try:
        value = message.get(name)
    except Exception:  # the header registry raises on some malformed input
        value = None
        for key, raw in message.raw_items():
            if key.lower() == name.lower():
                value = raw
                break
    if value is None:
        return None
    text = str(value) if not isinstance(value, str) else value
    if "=?" in text:
        text = decode_words(text)
    elif "\ufffd" in text:
        # The registry decoded an encoded word in a charset it does not know: do it ourselves.
        source = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
        if isinstance(source, str) and "=?" in source:
            text = decode_words(" ".join(source.split()))
    return " ".join(clean_text(text).split()) or None


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words, with the same charset fallbacks as bodies."""
    try:
        chunks = decode_header(text)
    except Exception:
        return text
    parts: list[str] = []
    for chunk, charset in chunks:
        parts.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(parts)


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: block elements become line breaks, markup goes."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
        text = "".join(extractor.parts)
    except Exception:
        text = unescape(re.sub(r"<[^>]*>", " ", html))
    lines = [" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines()]
    collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return clean_text(collapsed.strip())


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_filename(name: str | None, fallback: str) -> str:
    """A file name without path parts or characters file systems refuse."""
    if not name:
        return fallback
    name = decode_words(name) if "=?" in name else name
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return name[:200] or fallback
