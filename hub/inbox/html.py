"""Sanitize HTML from outside before it is stored for display."""

from __future__ import annotations

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) - {"img"} | {"img", "span", "div", "table", "thead", "tbody", "tr", "td", "th", "font", "center"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "table": {"width"},
    "font": {"color"},
}


def _filter(tag: str, attribute: str, value: str) -> str | None:
    # Remote images are trackers; only inline parts (cid:) and data URIs render.
    if tag == "img" and attribute == "src" and not value.startswith(("cid:", "data:image/")):
        return None
    if attribute == "href" and value.strip().lower().startswith(("data:", "cid:")):
        return None
    return value


def sanitize_html(html: str) -> str:
    """Only harmless markup survives: no scripts, styles, forms, event handlers or remote images."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_filter,
        strip_comments=True,
    )
