"""Decoding helpers for mail from the wild: any charset, broken headers, HTML to text.

Everything here is pure and total: a broken input yields the best text we can get,
never an exception, because one odd mail must not stop a mailbox.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PartInfo:
    """What a part's Content-Type and Content-Disposition say, read once."""

    content_type: str
    params: dict[str, str]
    disposition: str | None
    filename: str | None

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")


def part_info(part: Message) -> PartInfo:
    """Content type (lower case, defaulting as RFC 2045 says), parameters, disposition, file name."""
    content_type = part.get_default_type()
    params: dict[str, str] = {}
    try:
        header = part.get("content-type")
        if header is not None:
            declared = str(getattr(header, "content_type", "") or "").lower()
            if declared.count("/") == 1:
                content_type = declared
            params = {str(k).lower(): str(v) for k, v in dict(getattr(header, "params", {}) or {}).items()}
    except Exception:  # a header the registry cannot read: treat the part as plain text
        content_type = "text/plain"
    disposition: str | None = None
    filename: str | None = None
    try:
        header = part.get("content-disposition")
        if header is not None:
            disposition = str(getattr(header, "content_disposition", "") or "").lower() or None
            raw_name = dict(getattr(header, "params", {}) or {}).get("filename")
            filename = str(raw_name) if raw_name else None
    except Exception:
        disposition = None
    if filename is None and params.get("name"):
        filename = params["name"]
    return PartInfo(content_type, params, disposition, filename or None)


def part_text(part: Message, charset: str | None = None) -> str:
    """The decoded text of a leaf part, whatever its transfer encoding and charset; ``\n`` line ends."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
    else:
        text = decode_bytes(payload, charset if charset is not None else part.get_content_charset())
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n"))


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (an attachment)."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", errors="replace") if isinstance(raw, str) else b""


def raw_header(message: Message, name: str) -> str | None:
    """The first ``name`` header as it arrived (folded, encoded), or None. No parsing."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def raw_headers(message: Message, name: str) -> list[str]:
    """Every ``name`` header as it arrived."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def unraw(value: str) -> str:
    """A raw header value as text: 8-bit bytes (kept as surrogates by the parser) decoded."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return decode_bytes(value.encode("utf-8", "surrogateescape"), "utf-8")
    return value


def header_text(message: Message, name: str) -> str | None:
    """A header's decoded value (RFC 2047, raw UTF-8, broken charsets), or None; never raises.

    Read from the raw value rather than through the header registry of
    ``policy.default``, which parses a header anew on every access (most of parsing
    time) and decodes unknown charsets to replacement characters.
    """
    value = raw_header(message, name)
    if value is None:
        return None
    text = unraw(value)
    if "=?" in text:
        text = decode_words(" ".join(text.split()))
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
