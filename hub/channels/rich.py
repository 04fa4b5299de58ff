"""Plain-text renderings of what customers share besides text (a location, a contact card).

Agents read them in the conversation like any message; the same wording on every
channel. Structured payloads (coordinates, numbers) stay in the text, nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence


def location_text(latitude: float, longitude: float, name: str | None = None, address: str | None = None) -> str:
    """``📍 Location: Brandenburger Tor, Pariser Platz, Berlin (52.516275, 13.377704)``."""
    label = ", ".join(part for part in (name, address) if part)
    where = f"{latitude:.6f}, {longitude:.6f}"
    return f"📍 Location: {label} ({where})" if label else f"📍 Location: {where}"


def contact_text(name: str | None, phones: Sequence[str] = (), emails: Sequence[str] = ()) -> str:
    """``👤 Contact: Erika Mustermann, +49 30 1234567, erika@example.de``."""
    parts = [p for p in (name, *phones, *emails) if p]
    return "👤 Contact: " + (", ".join(parts) if parts else "(empty)")


def choice_text(title: str, payload: str | None = None) -> str:
    """A button the customer pressed: ``🔘 Yes, please`` (the payload in brackets when it differs)."""
    if payload and payload != title:
        return f"🔘 {title} [{payload}]"
    return f"🔘 {title}"
