"""Find where quoted earlier mail and the signature begin, so the UI can collapse them.

Nothing is removed: plain text gets an offset (``quote_start``) from which a viewer
collapses; HTML gets the quoted tail wrapped in ``<details>``. The markers are the
ones mail programs write in English and German (Gmail, Outlook, Apple Mail,
Thunderbird): attribution lines ("On ... wrote:", "Am ... schrieb ...:"), Outlook's
header block, "-----Original Message-----", ``>`` quoting and the ``-- `` signature
delimiter (RFC 3676 section 4.3).
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^(?:On\s.{1,200}\swrote:|Am\s.{1,200}\sschrieb\s.{0,200}:|Le\s.{1,200}\sa\sécrit\s?:)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht|Forwarded message|"
    r"Weitergeleitete Nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*(?:\*?From|\*?Von):\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(?:Sent|Gesendet|Date|Datum|To|An|Subject|Betreff):\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(r"^(?:Sent from my |Von meinem .{1,40} gesendet)", re.IGNORECASE)


def quote_start(text: str) -> int | None:
    """Offset of the first line of quoted mail or signature, or None when there is none.

    A leading quote (the customer answered inline, top to bottom) is not collapsed:
    only a quote or signature after some text of the sender's own counts.
    """
    offset = 0
    seen_own_text = False
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if seen_own_text and _starts_quote(stripped, lines, index):
            return offset
        if stripped.strip() and not stripped.lstrip().startswith(">"):
            seen_own_text = True
        offset += len(line)
    return None


def _starts_quote(line: str, lines: list[str], index: int) -> bool:
    if _SIGNATURE.match(line) or _SEPARATOR.match(line) or _MOBILE_SIGNATURE.match(line):
        return True
    if _ATTRIBUTION.match(line.strip()):
        return True
    # An attribution wrapped onto two lines: "On Mon, 3 Jun 2024 at 10:00, Erika" / "<e@x> wrote:"
    if index + 1 < len(lines) and line.strip() and len(line) < 200:
        joined = f"{line.strip()} {lines[index + 1].strip()}"
        if _ATTRIBUTION.match(joined):
            return True
    if _OUTLOOK_FROM.match(line):
        following = [lines[i] for i in range(index + 1, min(index + 4, len(lines)))]
        return any(_OUTLOOK_NEXT.match(candidate) for candidate in following)
    if line.lstrip().startswith(">"):
        rest = [candidate.strip() for candidate in lines[index:]]
        # Only a trailing block of quoted lines (blank lines allowed) is collapsed.
        return all(not candidate or candidate.startswith(">") for candidate in rest)
    return False


# Containers mail programs put around the quoted original in HTML.
_HTML_QUOTE = re.compile(
    r"<div[^>]*\bclass=[\"']?[^\"'>]*\b(?:gmail_quote|moz-cite-prefix|yahoo_quoted)\b"
    r"|<blockquote[^>]*\btype=[\"']?cite\b"
    r"|<div[^>]*\bid=[\"']?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container)\b"
    r"|<hr[^>]*\bid=[\"']?stopSpelling\b"
    r"|<div[^>]*\bclass=[\"']?[^\"'>]*\bOutlookMessageHeader\b",
    re.IGNORECASE,
)


def split_html_quote(html: str) -> tuple[str, str | None]:
    """The HTML before the quoted original, and the quoted tail (None when there is none)."""
    match = _HTML_QUOTE.search(html)
    if match is None or match.start() == 0:
        return html, None
    head = html[: match.start()]
    if not re.search(r">[^<]*\S", head) and not re.search(r"^[^<]*\S", head):
        return html, None  # nothing of the sender's own before the quote
    return head, html[match.start():]
