"""Files visitors upload: a safe file name and a type the content really has."""

from __future__ import annotations

import re
import unicodedata

from hub.errors import ValidationFailed

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^\w.\- ()\[\]+]", re.UNICODE)

# Leading bytes of each allowed binary type; text/plain must be UTF-8 instead.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def sanitize_filename(name: str) -> str:
    """The last path segment, without control or shell-special characters, at most 120 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        return "file"
    if len(base) > MAX_NAME_LENGTH:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:10] if dot else ""
        base = (stem if dot else base)[: MAX_NAME_LENGTH - len(ext) - 1] + ("." + ext if ext else "")
    return base


def check_content_type(declared: str, content: bytes, allowed: frozenset[str]) -> str:
    """The declared type, lower-cased, when it is allowed and the content matches it; else 422."""
    content_type = declared.split(";", 1)[0].strip().lower()
    if content_type not in allowed:
        raise ValidationFailed(f"files of type {content_type or 'unknown'!r} are not accepted here")
    if content_type == "image/webp":
        if not (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
            raise ValidationFailed("the file is not the image/webp it claims to be")
    elif content_type in _MAGIC:
        if not content.startswith(_MAGIC[content_type]):
            raise ValidationFailed(f"the file is not the {content_type} it claims to be")
    elif content_type.startswith("text/"):
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("text files must be UTF-8") from exc
        if b"\x00" in content:
            raise ValidationFailed("text files must not contain NUL bytes")
    return content_type
