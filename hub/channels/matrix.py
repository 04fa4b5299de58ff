"""The capability matrix of every registered adapter, as docs/channels/README.md shows it.

``tests/channels/test_capability_matrix.py`` checks that the page holds each row, so
the documented matrix cannot drift from what the code declares.
"""

from __future__ import annotations

from datetime import timedelta

from hub.channels.base import Capabilities
from hub.channels.registry import ADAPTERS

HEADER = (
    "| channel | max text | longer text | attachments out | reply window | outside the window "
    "| edits | reactions | read receipts | offered live | capacity |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _yes(value: bool) -> str:
    return "yes" if value else "—"


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} days"


def _size(limit: int | None) -> str:
    if limit is None:
        return ""
    return f"≤ {limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"≤ {limit} bytes"


def row(name: str, caps: Capabilities) -> str:
    """One markdown table row for ``caps``."""
    length = "no limit" if caps.max_text_length is None else f"{caps.max_text_length:,}"
    if caps.max_text_length is not None and caps.length_unit == "utf16":
        length += " (UTF-16)"
    longer = "—" if caps.max_text_length is None else (
        f"split, ≤ {caps.max_parts} parts" if caps.overflow == "split" and caps.max_parts > 1 else "refused"
    )
    if caps.attachments:
        kinds = ", ".join(caps.attachment_types) or "any type"
        details = [kinds, _size(caps.max_attachment_bytes)]
        if caps.separate_attachments:
            details.append("one per message")
        attachments = "; ".join(d for d in details if d)
    else:
        attachments = "—"
    window = "—" if caps.reply_window is None else _hours(caps.reply_window)
    outside: list[str] = []
    if caps.reply_window is not None:
        if caps.templates:
            outside.append("templates")
        outside.extend(
            f"tag {t.name}" + (f" (≤ {_hours(t.window)})" if t.window is not None else "") for t in caps.message_tags
        )
    kind, _, variant = name.partition(" ")
    cells = [
        f"`{kind}` {variant}".strip(), length, longer, attachments, window, ", ".join(outside) or "—",
        _yes(caps.edits), _yes(caps.reactions), _yes(caps.read_receipts), _yes(caps.realtime),
        caps.media,
    ]
    return "| " + " | ".join(cells) + " |"


def rows() -> list[str]:
    """A row per adapter type (per variant, where an adapter's capabilities follow its config)."""
    out: list[str] = []
    for adapter_cls in ADAPTERS.values():
        for name, caps in adapter_cls.capability_variants().items():
            out.append(row(name, caps))
    return out


def render() -> str:
    return "\n".join([HEADER, *rows()])
